# PFlow. On a fresh machine: `make run` starts everything; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

UI      := frontend
UI_SRC  := $(shell find $(UI)/src $(UI)/public -type f 2>/dev/null) $(wildcard $(UI)/index.html $(UI)/vite.config.ts $(UI)/tsconfig*.json $(UI)/openapi.json $(UI)/scripts/*.mjs)
UI_DEPS := $(UI)/node_modules/.package-lock.json
UI_DIST := $(UI)/dist/index.html
HAVE_NPM := $(shell command -v npm 2>/dev/null)

CAMUNDA := deploy/camunda-dev/camunda-dev.sh
OPERATON := deploy/operaton-dev/operaton-dev.sh
OPERATON_TEST_URL ?= http://127.0.0.1:8082/engine-rest
KEYCLOAK := deploy/keycloak-dev/keycloak-dev.sh

.PHONY: run test install lock ui services-up camunda-up camunda-down operaton-up operaton-down keycloak-up keycloak-down migrate worker consume bench bench-quick clean

# Locked dependencies with their hashes (generated from pyproject.toml by `make lock`): the runtime set
# the image installs, and the dev set (runtime + test tools) for this venv and CI.
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
LOCK_VENV := $(VENV)-lock

# Reinstalls when pyproject.toml or the dev lock changes (a new pin is installed, a removed one stays).
$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

# Re-resolves both locks after a change to pyproject.toml's dependencies (existing pins are kept where
# they still fit; `make lock LOCK_ARGS=--upgrade` moves everything to the newest versions). Run it with
# Python 3.11, the version of the images: PYTHON=python3.11 make lock. Needs PyPI.
lock:
	@test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet pip-tools; }
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml
	$(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) --extra dev --output-file $(DEV_LOCK) pyproject.toml

$(UI_DEPS): $(UI)/package.json $(UI)/package-lock.json
	npm --prefix $(UI) ci --no-audit --no-fund
	@touch $@

$(UI_DIST): $(UI_DEPS) $(UI_SRC)
	npm --prefix $(UI) run build
	@touch $@

# The web UI is built when Node.js/npm is there; without it PFlow still serves the API.
ifdef HAVE_NPM
ui: $(UI_DIST)
else
ui:
	@echo "npm not found: the web UI is not built (install Node.js 20 to get it); the API still runs."
endif

# The embedded default: API, UI, SpiffWorkflow engine, worker and events in one process on ./var.
run: install ui
	$(BIN)/pflow serve

# Everything: unit, contract, API, BDD, deploy checks, process-level and browser tests, then the engine
# tests (`camunda` marker) once more on Operaton. Tests that need PostgreSQL/RabbitMQ (`make services-up`),
# Camunda (`make camunda-up`) or Operaton (`make operaton-up`) skip and say why when those are not running;
# with PFLOW_REQUIRE_SERVICES=1 (CI) they must run.
test: install ui
	$(BIN)/pytest
	PFLOW_TEST_CAMUNDA_URL=$(OPERATON_TEST_URL) PFLOW_TEST_ENGINE_FLAVOUR=operaton \
		PFLOW_FAULTS_ENGINE_PID="$${PFLOW_FAULTS_OPERATON_PID:-}" $(BIN)/pytest -m camunda

# PostgreSQL 15 and RabbitMQ on this machine (installs RabbitMQ if missing; idempotent).
services-up:
	.ci/services.sh

# The real Camunda 7 engine for tests and local use (Maven build once, REST on :8081).
camunda-up:
	$(CAMUNDA) up

camunda-down:
	$(CAMUNDA) down

# Operaton, Camunda 7's open fork with the same REST API, for tests and local use (REST on :8082;
# WORKFLOW_ENGINE=operaton, see docs/engines.md).
operaton-up:
	$(OPERATON) up

operaton-down:
	$(OPERATON) down

# A development Keycloak with PFlow's test realm (single sign-on tests; docs/sso.md), on :8180.
keycloak-up:
	$(KEYCLOAK) up

keycloak-down:
	$(KEYCLOAK) down

migrate: install
	$(BIN)/pflow migrate

worker: install
	$(BIN)/pflow worker

consume: install
	$(BIN)/pflow consume

# Benchmarks print figures and write docs/benchmarks.md (full) or var/bench/ (quick); they assert no times.
# They use what CI starts: `make services-up` and `make camunda-up` (a missing service is skipped).
bench: install
	$(BIN)/python benchmarks/run.py --full

bench-quick: install
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) $(LOCK_VENV) var .pytest_cache $(UI)/dist $(UI)/node_modules artifacts
