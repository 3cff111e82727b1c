#!/usr/bin/env bash
# Local Operaton engine (REST only) for PFlow development and tests, no Docker: Operaton 1.0.3,
# the open fork of Camunda 7 with the same REST API, on port 8082. The same commands, files and
# behaviour as deploy/camunda-dev/camunda-dev.sh (which this runs), with OPERATON_DEV_* in place of
# CAMUNDA_DEV_* and var/operaton-dev* in place of var/camunda-dev*:
#
#   operaton-dev.sh up | down | status | reset | build | env
#
# eval "$(deploy/operaton-dev/operaton-dev.sh env)" sets CAMUNDA_URL and the credentials; with
# WORKFLOW_ENGINE=operaton PFlow then runs on it. See NOTES.md.
set -euo pipefail
PFLOW_DEV_ENGINE=operaton exec "$(dirname "${BASH_SOURCE[0]}")/../camunda-dev/camunda-dev.sh" "$@"
