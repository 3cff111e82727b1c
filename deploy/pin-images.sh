#!/usr/bin/env bash
# Pins every image the stack pulls to the digest its tag has now, in deploy/docker-compose.yml (and its
# Operaton override deploy/docker-compose.operaton.yml) and
# the FROM lines of deploy/Dockerfile and deploy/frontend.Dockerfile: `name:tag` or
# `name:tag@sha256:<old>` becomes `name:tag@sha256:<current>`. Run it where the registries are
# reachable, review the diff (a changed digest is a new image: read its release notes), run the
# tests and commit.
#
#   deploy/pin-images.sh           # rewrite the files
#   deploy/pin-images.sh --check   # only print each reference and its current digest; exit 1 if one differs
#
# Uses `crane digest` (go-containerregistry) when installed, else `docker buildx imagetools inspect`.
# Both ask the registry for the digest of the tag's index (all platforms), pulling nothing.
# PFlow's own images (pflow, pflow-frontend) are built locally and have no registry digest.
set -euo pipefail

cd "$(dirname "$0")/.."
files=(deploy/docker-compose.yml deploy/docker-compose.operaton.yml deploy/Dockerfile deploy/frontend.Dockerfile)
local_images='^(pflow|pflow-frontend)(:|$)'
check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

digest_of() {
    if command -v crane >/dev/null; then
        crane digest "$1"
    elif docker buildx version >/dev/null 2>&1; then
        docker buildx imagetools inspect --format '{{json .Manifest.Digest}}' "$1" | tr -d '"'
    else
        echo "pin-images.sh: neither crane nor docker buildx is installed" >&2
        return 1
    fi
}

# Every image reference: the value of `image:` lines and the first word after FROM.
references() {
    grep -hE '^\s*image:\s*\S+' deploy/docker-compose.yml deploy/docker-compose.operaton.yml | sed -E 's/^\s*image:\s*"?([^" ]+)"?.*$/\1/'
    grep -hE '^FROM\s+\S+' deploy/Dockerfile deploy/frontend.Dockerfile | awk '{print $2}'
}

status=0
while read -r reference; do
    name_tag="${reference%%@*}"
    if [[ "$name_tag" =~ $local_images ]]; then
        continue
    fi
    if [[ "${name_tag##*/}" != *:* ]]; then
        echo "pin-images.sh: $reference has no tag; give one so the pin says which release it is" >&2
        status=1
        continue
    fi
    current="$(digest_of "$name_tag")"
    if ! [[ "$current" =~ ^sha256:[0-9a-f]{64}$ ]]; then
        echo "pin-images.sh: no digest for $name_tag (got '$current')" >&2
        status=1
        continue
    fi
    pinned="$name_tag@$current"
    if [ "$reference" = "$pinned" ]; then
        echo "up to date  $pinned"
        continue
    fi
    echo "new digest  $pinned   (was $reference)"
    if [ "$check" = "1" ]; then
        status=1
        continue
    fi
    escaped_old="$(printf '%s' "$reference" | sed -e 's/[][\.*^$/]/\\&/g')"
    escaped_new="$(printf '%s' "$pinned" | sed -e 's/[\/&]/\\&/g')"
    # Whole references only: followed by the end of the line, a space or a quote.
    sed -i -E "s/${escaped_old}([[:space:]\"]|\$)/${escaped_new}\\1/g" "${files[@]}"
done < <(references | sort -u)
exit "$status"
