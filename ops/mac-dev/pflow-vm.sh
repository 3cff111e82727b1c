#!/usr/bin/env bash
# Manage PFlow's macOS development VM (Lima, ops/mac-dev/lima.yaml).
#
#   ops/mac-dev/pflow-vm.sh start     create (first time) and start the VM, mounting this repository
#                                     writable at /mnt/lima/source/PFlow
#   ops/mac-dev/pflow-vm.sh shell     open a shell in the VM, in the repository
#   ops/mac-dev/pflow-vm.sh stop      stop the VM (keeps its disk: images, volumes, node_modules)
#   ops/mac-dev/pflow-vm.sh delete    delete the VM (the next start provisions it again)
#
# PFLOW_VM_NAME overrides the instance name (default pflow-dev).
set -euo pipefail

NAME="${PFLOW_VM_NAME:-pflow-dev}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
MOUNT_POINT=/mnt/lima/source/PFlow

die() { printf 'pflow-vm: %s\n' "$*" >&2; exit 1; }

command -v limactl >/dev/null 2>&1 || die "limactl not found: install Lima first (brew install lima)"

exists() { limactl list --quiet 2>/dev/null | grep -qx "$NAME"; }

case "${1:-}" in
    start)
        if exists; then
            limactl start "$NAME"
        else
            # The repository path is only known here, so the mount is added to the template at creation.
            limactl start --name "$NAME" --tty=false \
                --set ".mounts += [{\"location\": \"$REPO\", \"mountPoint\": \"$MOUNT_POINT\", \"writable\": true}]" \
                "$HERE/lima.yaml"
        fi
        ;;
    shell)
        limactl shell --workdir "$MOUNT_POINT" "$NAME"
        ;;
    stop)
        limactl stop "$NAME"
        ;;
    delete)
        limactl delete --force "$NAME"
        ;;
    *)
        sed -n '2,10p' "$0" >&2
        exit 2
        ;;
esac
