#!/usr/bin/env bash
# Local Keycloak for PFlow's single sign-on tests and for trying SSO on a laptop, no Docker.
#
#   keycloak-dev.sh up       download Keycloak once (Maven Central, checksum verified), start it in the
#                            background with the test realm imported, wait until the realm answers
#   keycloak-dev.sh down     stop (SIGTERM, then SIGKILL after a grace period); idempotent
#   keycloak-dev.sh status   exit 0 if running and answering, 3 if stopped, 1 if unhealthy
#   keycloak-dev.sh reset    down, then delete its data (the realm is imported again at the next `up`)
#   keycloak-dev.sh env      print the OIDC_* settings that point PFlow at it
#
# The realm is deploy/keycloak/pflow-realm.json (the one the Compose profile imports) plus the test users
# and local addresses of test-realm-overlay.json. Test users: kim (no group), mia (managers), noah (approvers,
# which OIDC_GROUP_MAP maps to managers), fay (finance), ada (admins); password = name + "-pass-1".
# These are test accounts on a development server (start-dev, plain HTTP): never for production.
#
# Environment (all optional):
#   KEYCLOAK_DEV_PORT      HTTP port (default 8180; management port = this + 1000)
#   KEYCLOAK_DEV_HOME      where Keycloak is unpacked and keeps its data (default <repo>/var/keycloak-dev)
#   KEYCLOAK_DEV_TIMEOUT   seconds `up` waits (default 180)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

VERSION="26.7.3"
SHA1="1e21a7f572581692aacb379dbba8413f99b67208"  # keycloak-quarkus-dist-26.7.3.zip, as Maven Central lists it
ZIP_URL="https://repo1.maven.org/maven2/org/keycloak/keycloak-quarkus-dist/$VERSION/keycloak-quarkus-dist-$VERSION.zip"
PORT="${KEYCLOAK_DEV_PORT:-8180}"
MGMT_PORT="$((PORT + 1000))"
HOME_DIR="${KEYCLOAK_DEV_HOME:-$REPO/var/keycloak-dev}"
TIMEOUT="${KEYCLOAK_DEV_TIMEOUT:-180}"
ZIP="$HOME_DIR/keycloak-$VERSION.zip"
KC="$HOME_DIR/keycloak-$VERSION"
PIDFILE="$HOME_DIR/keycloak-dev.pid"
LOG="$HOME_DIR/keycloak-dev.log"
URL="http://127.0.0.1:$PORT"
REALM_URL="$URL/realms/pflow"
CLIENT_SECRET="pflow-dev-client-secret"
PUBLIC_URL="http://127.0.0.1:18080"

log() { printf 'keycloak-dev: %s\n' "$*"; }
die() { printf 'keycloak-dev: ERROR: %s\n' "$*" >&2; exit 1; }

running_pid() {
    [[ -f "$PIDFILE" ]] || return 0
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-Dkc.home.dir=$KC/"; then
        return 0
    fi
    echo "$pid"
}

# kc.sh starts the JVM and leaves: the JVM (named by its home dir) is what runs and what `down` stops.
jvm_pid() {
    pgrep -f -- "-Dkc.home.dir=$KC/bin/\.\." | head -n 1 || true
}

realm_answers() {
    curl -fsS --max-time 2 -o /dev/null "$REALM_URL/.well-known/openid-configuration" 2>/dev/null
}

fetch() {
    mkdir -p "$HOME_DIR"
    if [[ ! -f "$ZIP" ]]; then
        command -v curl >/dev/null || die "curl is needed to download Keycloak"
        log "downloading Keycloak $VERSION from Maven Central (about 170 MB, once)"
        curl -fsSL --retry 3 -o "$ZIP.part" "$ZIP_URL" || die "could not download $ZIP_URL"
        mv "$ZIP.part" "$ZIP"
    fi
    if [[ "$(sha1sum "$ZIP" | cut -d' ' -f1)" != "$SHA1" ]]; then
        rm -f "$ZIP"
        die "the downloaded Keycloak does not match its checksum; deleted it, run again"
    fi
    if [[ ! -x "$KC/bin/kc.sh" ]]; then
        command -v unzip >/dev/null || python3 -c 'import zipfile' || die "unzip or python3 is needed"
        log "unpacking Keycloak into $KC"
        rm -rf "$KC"
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$ZIP" "$HOME_DIR"
        chmod +x "$KC"/bin/*.sh
    fi
}

write_realm() {
    mkdir -p "$KC/data/import"
    python3 - "$REPO/deploy/keycloak/pflow-realm.json" "$HERE/test-realm-overlay.json" \
        "$KC/data/import/pflow-realm.json" <<'PY'
import json, sys
realm = json.load(open(sys.argv[1]))
overlay = json.load(open(sys.argv[2]))
realm["groups"] += overlay["groups"]
client = realm["clients"][0]
client["directAccessGrantsEnabled"] = overlay["client"]["directAccessGrantsEnabled"]
client["redirectUris"] += overlay["client"]["redirectUris"]
client["attributes"]["post.logout.redirect.uris"] += "##" + overlay["client"]["post.logout.redirect.uris"]
realm["users"] = [
    {**u, "enabled": True, "emailVerified": True,
     "credentials": [{"type": "password", "value": u["username"] + "-pass-1", "temporary": False}]}
    for u in overlay["users"]
]
json.dump(realm, open(sys.argv[3], "w"), indent=1)
PY
}

up() {
    if [[ -n "$(running_pid)" ]] && realm_answers; then
        log "already running at $URL"
        return 0
    fi
    command -v java >/dev/null || die "Java 17 or newer is needed (apt-get install openjdk-17-jre-headless)"
    fetch
    write_realm
    log "starting Keycloak on $URL (log: $LOG)"
    (
        cd "$KC"
        export KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="admin-dev-only"
        export OIDC_CLIENT_SECRET="$CLIENT_SECRET" PFLOW_PUBLIC_URL="$PUBLIC_URL"
        export JAVA_OPTS_KC_HEAP="-Xms64m -Xmx512m"
        nohup bin/kc.sh start-dev --import-realm --http-host=127.0.0.1 --http-port="$PORT" \
            --http-management-port="$MGMT_PORT" --hostname-strict=false >"$LOG" 2>&1 &
    )
    # On the first start kc.sh runs one JVM to build the server (about 20 s), then the server's own JVM:
    # follow whichever is there, and give up only when none has been for a while.
    local deadline=$((SECONDS + TIMEOUT)) pid="" gone=0
    until realm_answers; do
        if [[ -z "$(running_pid)" ]]; then
            pid="$(jvm_pid)"
            if [[ -n "$pid" ]]; then
                echo "$pid" >"$PIDFILE"
                gone=0
            else
                gone=$((gone + 1))
            fi
        fi
        if ((gone > 10)); then
            tail -n 40 "$LOG" >&2 || true
            die "Keycloak exited before the realm answered"
        fi
        if ((SECONDS > deadline)); then
            tail -n 40 "$LOG" >&2 || true
            die "the realm did not answer within $TIMEOUT s"
        fi
        sleep 1
    done
    jvm_pid >"$PIDFILE"
    log "ready: issuer $REALM_URL"
}

down() {
    local pid
    pid="$(running_pid)"
    [[ -n "$pid" ]] || pid="$(jvm_pid)"  # a JVM the pid file missed (a start that gave up half-way)
    if [[ -z "$pid" ]]; then
        rm -f "$PIDFILE"
        return 0
    fi
    log "stopping Keycloak (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    pkill -TERM -P "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    kill -KILL "$pid" 2>/dev/null || true
    pkill -KILL -P "$pid" 2>/dev/null || true
    rm -f "$PIDFILE"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status)
        if [[ -z "$(running_pid)" ]]; then exit 3; fi
        realm_answers || exit 1
        ;;
    reset)
        down
        rm -rf "$KC/data/h2" "$KC/data/import"
        ;;
    env)
        echo "OIDC_ISSUER=$REALM_URL"
        echo "OIDC_CLIENT_ID=pflow"
        echo "OIDC_CLIENT_SECRET=$CLIENT_SECRET"
        echo "OIDC_GROUP_MAP=approvers=managers"
        echo "OIDC_PROVIDER_NAME=Keycloak"
        ;;
    *)
        echo "usage: $0 up|down|status|reset|env" >&2
        exit 2
        ;;
esac
