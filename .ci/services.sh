#!/usr/bin/env bash
# Start the services PFlow's integration tests and production-like runs need on this machine:
# PostgreSQL 15 (role pflow/pflow; databases pflow, pflow_test, camunda) and RabbitMQ.
# Installs rabbitmq-server when it is missing. Idempotent: safe to run again at any time.
# Environment: PFLOW_SERVICES_TIMEOUT (seconds to wait for each service, default 120).
set -euo pipefail

TIMEOUT="${PFLOW_SERVICES_TIMEOUT:-120}"
PG_VERSION=15
PG_CLUSTER=main

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

wait_for() {  # wait_for NAME COMMAND...
    local name="$1"; shift
    local waited=0
    until "$@" >/dev/null 2>&1; do
        if [ "$waited" -ge "$TIMEOUT" ]; then
            die "$name did not answer within ${TIMEOUT}s (check its log: $LOG_HINT)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "$name is up"
}

# ------------------------------------------------------------------ PostgreSQL
command -v pg_ctlcluster >/dev/null || die "PostgreSQL is not installed (apt-get install -y postgresql-${PG_VERSION})"
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c && $4=="online" {found=1} END {exit !found}'; then
    log "starting PostgreSQL ${PG_VERSION}/${PG_CLUSTER}"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
fi
LOG_HINT="/var/log/postgresql/postgresql-${PG_VERSION}-${PG_CLUSTER}.log"
wait_for PostgreSQL pg_isready -q -h localhost -p 5432

psql_admin() { as_postgres psql -v ON_ERROR_STOP=1 -qtAX "$@"; }

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'pflow'")" != 1 ]; then
    log "creating role pflow"
    psql_admin -c "CREATE ROLE pflow LOGIN PASSWORD 'pflow' CREATEDB"
fi
for db in pflow pflow_test camunda; do
    if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '${db}'")" != 1 ]; then
        log "creating database ${db}"
        as_postgres createdb -O pflow "$db"
    fi
done
PGPASSWORD=pflow psql -h localhost -U pflow -d pflow_test -qtAX -c 'SELECT 1' >/dev/null \
    || die "cannot log in to PostgreSQL as pflow/pflow on localhost:5432 (check pg_hba.conf allows md5/scram on 127.0.0.1)"

# -------------------------------------------------------------------- RabbitMQ
if ! command -v rabbitmq-server >/dev/null; then
    log "installing rabbitmq-server"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q rabbitmq-server >/dev/null 2>&1; then
        apt-get update -q >/dev/null
        apt-get install -y -q rabbitmq-server >/dev/null
    fi
    # The Debian package may start the broker through the init system; that is fine, the check below sees it.
fi

rabbit_up() { rabbitmq-diagnostics -q ping; }
LOG_HINT="/var/log/rabbitmq/"
if ! rabbit_up >/dev/null 2>&1; then
    log "starting RabbitMQ"
    rabbitmq-server -detached
fi
wait_for RabbitMQ rabbit_up
# The AMQP listener comes up a moment after the node answers ping.
wait_for "RabbitMQ AMQP port 5672" bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672'

log "ready: postgresql://pflow:pflow@localhost:5432/pflow (and pflow_test, camunda), amqp://guest:guest@localhost:5672/"
