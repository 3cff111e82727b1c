#!/usr/bin/env bash
# Local Camunda 7 engine (REST only) for PFlow development and tests, no Docker.
# deploy/operaton-dev/operaton-dev.sh runs this same script for Operaton (Camunda 7's
# open fork, same REST API): names, port and variables below then read "operaton".
#
#   camunda-dev.sh up       build the jar if needed, start in background, wait for REST
#   camunda-dev.sh down     stop (SIGTERM, then SIGKILL after a grace period); idempotent
#   camunda-dev.sh status   exit 0 if running and answering, 3 if stopped, 1 if unhealthy
#   camunda-dev.sh reset    down, then delete the H2 data
#   camunda-dev.sh build    (re)build the jar if pom.xml/src are newer than it
#   camunda-dev.sh env      print the export line PFlow needs for this engine:
#                           eval "$(deploy/camunda-dev/camunda-dev.sh env)"
#
# The REST API runs with HTTP basic authentication on (as PFlow's production
# engine must): user "pflow", password $CAMUNDA_DEV_PASSWORD, by default the fixed
# dev-only password below -- for local tests only, never for an engine anyone else
# can reach. PFlow sends them from CAMUNDA_USERNAME / CAMUNDA_PASSWORD.
#
# The build also extracts the jar (target/app/) and records a class-data-sharing
# archive (target/app.jsa) with one training start; starting from those cuts the
# time to first REST answer from ~8 s to ~5 s on 2 cores. CAMUNDA_DEV_CDS=0
# skips that and runs the plain fat jar.
#
# Environment (all optional; OPERATON_DEV_* for operaton-dev.sh):
#   CAMUNDA_DEV_PORT        HTTP port (default 8081; Operaton 8082)
#   CAMUNDA_DEV_BIND        listen address (default 127.0.0.1)
#   CAMUNDA_DEV_DATA        H2 data dir (default <repo>/var/camunda-dev); the pid
#                           file, log and build log go to its parent dir (default <repo>/var)
#   CAMUNDA_DEV_DB_URL      JDBC URL to use instead of H2 (e.g. local PostgreSQL),
#   CAMUNDA_DEV_DB_USER     with CAMUNDA_DEV_DB_PASSWORD; see NOTES.md
#   CAMUNDA_DEV_JAVA_OPTS   JVM options (default: small heap, fast-start flags)
#   CAMUNDA_DEV_TIMEOUT     seconds `up` waits for the REST API (default 120)
#   CAMUNDA_DEV_CDS         1 (default) = extracted jar + CDS archive, 0 = fat jar
#   CAMUNDA_DEV_PASSWORD    password of the REST user "pflow" (default pflow-dev-only;
#                           the user is created on first start: `reset` after changing it)
set -euo pipefail

FLAVOUR="${PFLOW_DEV_ENGINE:-camunda}"
case "$FLAVOUR" in
    camunda) P=CAMUNDA_DEV DEFAULT_PORT=8081 ;;
    operaton) P=OPERATON_DEV DEFAULT_PORT=8082 ;;
    *) printf 'camunda-dev: ERROR: unknown PFLOW_DEV_ENGINE=%s (camunda or operaton)\n' "$FLAVOUR" >&2; exit 2 ;;
esac
NAME="$FLAVOUR-dev"
# The value of ${P}_<name> (CAMUNDA_DEV_PORT, OPERATON_DEV_PORT, ...), else the default.
setting() { local var="${P}_$1"; printf '%s' "${!var:-${2:-}}"; }
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$REPO/deploy/$NAME"

PORT="$(setting PORT "$DEFAULT_PORT")"
BIND="$(setting BIND 127.0.0.1)"
DATA="$(setting DATA "$REPO/var/$NAME")"
case "$DATA" in /*) ;; *) DATA="$PWD/$DATA" ;; esac
VAR="$(dirname "$DATA")"
PIDFILE="$VAR/$NAME.pid"
LOG="$VAR/$NAME.log"
JAR="$HERE/target/$NAME.jar"
APPDIR="$HERE/target/app"
APPJAR="$APPDIR/$NAME.jar"
JSA="$HERE/target/app.jsa"
CDS="$(setting CDS 1)"
TIMEOUT="$(setting TIMEOUT 120)"
JAVA_OPTS="$(setting JAVA_OPTS "-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k")"
# Loopback is what clients use even when BIND is 0.0.0.0.
case "$BIND" in 0.0.0.0 | ::) HOST=127.0.0.1 ;; *) HOST="$BIND" ;; esac
URL="http://$HOST:$PORT/engine-rest"
REST_USER=pflow
REST_PASSWORD="$(setting PASSWORD pflow-dev-only)" # dev-only default, also in application.yaml

log() { printf '%s: %s\n' "$NAME" "$*"; }
die() { printf '%s: ERROR: %s\n' "$NAME" "$*" >&2; exit 1; }

# pid of the engine we started, if it is still alive (and really is our jar,
# not an unrelated process that got the recycled pid); empty otherwise.
running_pid() {
    [[ -f "$PIDFILE" ]] || return 0
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill -0 "$pid" 2>/dev/null || return 0
    if [[ -r "/proc/$pid/cmdline" ]] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$NAME\\.jar"; then
        return 0
    fi
    echo "$pid"
}

# GET /engine is the one REST path Camunda's authentication filter leaves open.
engine_answers() {
    curl -fsS --max-time 2 -o /dev/null "$URL/engine" 2>/dev/null
}

# HTTP status of an authenticated call with the dev credentials (200 when they work).
auth_status() {
    curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -K - "$URL/version" 2>/dev/null <<<"user = \"$REST_USER:$REST_PASSWORD\"" || true
}

print_env() {
    printf 'export CAMUNDA_URL=%q CAMUNDA_USERNAME=%q CAMUNDA_PASSWORD=%q\n' "$URL" "$REST_USER" "$REST_PASSWORD"
}

# Say what PFlow must send; warn when the engine refuses it (a user left in the data
# with another password).
check_auth() {
    local status shown="\$${P}_PASSWORD"
    [[ -n "$(setting PASSWORD)" ]] || shown="$REST_PASSWORD"
    status="$(auth_status)"
    if [[ "$status" == 200 ]]; then
        log "REST needs basic auth; for PFlow: CAMUNDA_USERNAME=$REST_USER CAMUNDA_PASSWORD=$shown (or: eval \"\$(deploy/$NAME/$NAME.sh env)\")"
    else
        log "WARNING: $URL refuses user $REST_USER with ${P}_PASSWORD (HTTP $status); the user was created with another password: \`$0 reset\` recreates it"
    fi
}

log_tail() {
    if [[ -f "$LOG" ]]; then
        echo "---- last 40 lines of $LOG ----" >&2
        tail -n 40 "$LOG" >&2
        echo "----" >&2
    fi
}

needs_build() {
    [[ -f "$JAR" ]] || return 0
    [[ -n "$(find "$HERE/pom.xml" "$HERE/src" -newer "$JAR" -print -quit)" ]]
}

needs_cds() {
    [[ "$CDS" != 0 ]] || return 1
    [[ -f "$JSA" && -f "$APPJAR" && ! "$JAR" -nt "$JSA" ]] && return 1
    # Don't retry a failed training on every `up`; a rebuild of the jar retries.
    [[ -f "$HERE/target/cds-failed" && ! "$JAR" -nt "$HERE/target/cds-failed" ]] && return 1
    return 0
}

# Extract the fat jar and record a dynamic CDS archive by starting the app once
# (spring.context.exit=onRefresh: engine is built against a throwaway H2, no
# port is bound, then the JVM exits and writes the archive). Failure here is
# not fatal: `up` then falls back to the fat jar.
build_cds() {
    local t0=$SECONDS tmp
    log "preparing class-data-sharing archive (one training start)..."
    rm -rf "$APPDIR" "$JSA" "$HERE/target/cds-failed"
    if ! java -Djarmode=tools -jar "$JAR" extract --destination "$APPDIR" >"$HERE/target/cds-extract.log" 2>&1; then
        log "WARNING: jar extraction failed (see target/cds-extract.log); using the fat jar"
        rm -rf "$APPDIR"
        touch "$HERE/target/cds-failed"
        return 0
    fi
    tmp="$(mktemp -d)"
    # shellcheck disable=SC2086  # JAVA_OPTS is a list of words on purpose
    if ! (cd "$tmp" && env -u "${P}_DB_URL" "${P}_DATA=$tmp/data" "${P}_PORT=0" \
        timeout 300 java $JAVA_OPTS -XX:ArchiveClassesAtExit="$JSA" -Dspring.context.exit=onRefresh \
        -jar "$APPJAR" >"$HERE/target/cds-training.log" 2>&1) || [[ ! -f "$JSA" ]]; then
        log "WARNING: CDS training run failed (see target/cds-training.log); using the fat jar"
        rm -f "$JSA"
        touch "$HERE/target/cds-failed"
    else
        log "CDS archive ready in $((SECONDS - t0))s"
    fi
    rm -rf "$tmp"
}

cmd_build() {
    if needs_build; then
        command -v mvn >/dev/null || die "mvn not found (need Maven 3.8+ and Java 17+)"
        # A flavour may put artifacts into the local Maven repository first (operaton-dev: one jar
        # Maven Central serves without its parent POM).
        if [[ -f "$HERE/prebuild.sh" ]]; then
            bash "$HERE/prebuild.sh" || die "$HERE/prebuild.sh failed"
        fi
        log "building $JAR (mvn package)..."
        local t0=$SECONDS
        mkdir -p "$VAR"
        # Output goes to a file (Maven 3.8 -q still prints stray ANSI resets);
        # it is shown when the build fails.
        if ! mvn -q -B -f "$HERE/pom.xml" package -DskipTests >"$VAR/$NAME-build.log" 2>&1; then
            tail -n 60 "$VAR/$NAME-build.log" >&2
            die "maven build failed (full output: $VAR/$NAME-build.log)"
        fi
        [[ -f "$JAR" ]] || die "build finished but $JAR is missing"
        log "built in $((SECONDS - t0))s"
    fi
    if needs_cds; then
        build_cds
    fi
}

# Wait until $URL/engine answers; on timeout stop the engine so a failed `up`
# leaves nothing behind.
wait_ready() {
    local pid=$1 deadline=$((SECONDS + TIMEOUT))
    until engine_answers; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            log_tail
            die "engine process $pid exited during startup (see $LOG)"
        fi
        if ((SECONDS >= deadline)); then
            log_tail
            cmd_down >&2
            die "engine did not answer $URL/engine within ${TIMEOUT}s; stopped it (raise ${P}_TIMEOUT if the machine is just slow)"
        fi
        sleep 0.2
    done
}

cmd_up() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        if ! engine_answers; then
            log "pid $pid is running but not answering yet; waiting"
            wait_ready "$pid"
        fi
        log "already running (pid $pid) at $URL"
        check_auth
        return 0
    fi
    rm -f "$PIDFILE"
    if engine_answers; then
        log "an engine not started by this script already answers at $URL; leaving it alone"
        return 0
    fi
    command -v java >/dev/null || die "java not found (need Java 17+)"
    cmd_build
    mkdir -p "$DATA"
    local -a launch=(-jar "$JAR")
    if [[ "$CDS" != 0 && -f "$JSA" && -f "$APPJAR" ]]; then
        launch=(-XX:SharedArchiveFile="$JSA" -Xshare:auto -jar "$APPJAR")
    fi
    log "starting on $URL (data: $(setting DB_URL "H2 in $DATA"), log: $LOG)"
    local t0
    t0=$(date +%s%N)
    # setsid: the engine must not die with the shell (or make target) that started it.
    # shellcheck disable=SC2086  # JAVA_OPTS is a list of words on purpose
    env "${P}_PORT=$PORT" "${P}_BIND=$BIND" "${P}_DATA=$DATA" "${P}_PASSWORD=$REST_PASSWORD" \
        setsid java $JAVA_OPTS "${launch[@]}" >>"$LOG" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$PIDFILE"
    wait_ready "$pid"
    log "up (pid $pid) in $((($(date +%s%N) - t0) / 1000000)) ms: $URL"
    check_auth
}

cmd_down() {
    local pid
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PIDFILE"
        log "not running"
        return 0
    fi
    log "stopping pid $pid..."
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do # 30 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after 30s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$PIDFILE"
    log "stopped"
}

cmd_status() {
    local pid
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        log "stopped"
        return 3
    fi
    if engine_answers; then
        log "running (pid $pid) at $URL"
        return 0
    fi
    log "process $pid is alive but $URL/engine does not answer (starting, or unhealthy; log: $LOG)"
    return 1
}

cmd_reset() {
    cmd_down
    if [[ -n "$(setting DB_URL)" ]]; then
        log "note: ${P}_DB_URL is set; only the H2 dir is deleted, the external database is untouched"
    fi
    rm -rf "$DATA"
    log "deleted $DATA"
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    build) cmd_build ;;
    env) print_env ;;
    *)
        echo "usage: $0 {up|down|status|reset|build|env}" >&2
        exit 2
        ;;
esac
