#!/usr/bin/env bash
# Keycloak (the optional `sso` profile) keeps its data in a database of its own, `keycloak`, owned by
# a login of its own, KEYCLOAK_DB_USER with KEYCLOAK_DB_PASSWORD (deploy/.env). The postgres image runs
# this once, as POSTGRES_USER, when it initialises an empty data volume; for an existing volume run
# the same two statements by hand (docs/deployment.md, "Single sign-on with Keycloak").
# psql's own variables quote the name and the password, so any characters are safe.
set -euo pipefail

: "${KEYCLOAK_DB_USER:?KEYCLOAK_DB_USER is not set}"
: "${KEYCLOAK_DB_PASSWORD:?KEYCLOAK_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v kc_user="$KEYCLOAK_DB_USER" -v kc_password="$KEYCLOAK_DB_PASSWORD" <<'SQL'
CREATE ROLE :"kc_user" LOGIN PASSWORD :'kc_password';
CREATE DATABASE keycloak OWNER :"kc_user";
SQL
