"""deploy/docker-compose.yml: valid for the Compose specification, for Compose v2 (compose-go, the
loader Docker Compose v2 is built on) and for the Python docker-compose 1.29 (Compose v1), and wired
the way PFlow's production setup needs. No Docker engine is involved: both loaders only read files."""

from __future__ import annotations

import importlib.resources
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from pflow.config import REPO_ROOT, Settings
from tests.deploy import files
from tests.deploy.files import COMPOSE_FILE, compose, environment, pflow_services, services

EXPECTED_SERVICES = {"db", "camunda", "rabbitmq", "api", "worker", "consumer", "frontend", "keycloak", "prometheus",
                     "grafana"}
# Services of an optional profile: Compose v2 leaves them out of the project unless the profile is on.
PROFILE_SERVICES = {"keycloak": ["sso"], "prometheus": ["monitoring"], "grafana": ["monitoring"]}
DEFAULT_SERVICES = EXPECTED_SERVICES - set(PROFILE_SERVICES)
SECRET = "test-secret-0123456789abcdef0123456789"
# What a test deploy/.env fills into the values .env.example leaves empty (every one is required).
REQUIRED_VALUES = {
    "PFLOW_SECRET_KEY": SECRET,
    "POSTGRES_PASSWORD": "pg-pass-4f1c",
    "RABBITMQ_DEFAULT_PASS": "mq-pass-9a2e",
    "CAMUNDA_PASSWORD": "engine-pass-77d0",
    "KEYCLOAK_DB_PASSWORD": "kc-db-pass-1b3f",
    "KEYCLOAK_ADMIN_USER": "kc-admin",
    "KEYCLOAK_ADMIN_PASSWORD": "kc-admin-pass-5e6a",
    "OIDC_CLIENT_SECRET": "oidc-client-secret-3c9d",
    "PFLOW_METRICS_TOKEN": "metrics-token-8e2a61f0c4d7",
    "GRAFANA_ADMIN_PASSWORD": "grafana-pass-2d8b",
}
# Credentials: no fallback value may stand in for these, only `${NAME:?message}`.
CREDENTIAL = re.compile(r"PASSWORD|_PASS$|SECRET|_USER$|USERNAME(?!_CLAIM)")
# Credentials of an optional service: empty (`${NAME:-}`, the service is not used) or set, never a fallback value.
OPTIONAL_CREDENTIALS = {"SMTP_USERNAME", "SMTP_PASSWORD"}


# --- the Compose specification's JSON schema -----------------------------------------------------

def compose_spec_schema() -> dict:
    """The Compose specification's schema (compose-spec/compose-spec, schema/compose-spec.json) as
    vendored and kept current by the check-jsonschema package (its `check-compose-spec` hook)."""
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(resource.read_text(encoding="utf-8"))


def schema_errors(document: dict) -> list[str]:
    schema = compose_spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_validates_against_the_compose_specification_schema():
    assert compose_spec_schema()["title"] == "Compose Specification"
    assert schema_errors(compose()) == []


def test_the_schema_check_rejects_a_broken_file():
    broken = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    broken["services"]["db"]["ports"] = {"5432": 5432}
    errors = schema_errors(broken)
    assert any("helthcheck" in e for e in errors), errors
    assert any(e.startswith("services/db/ports") for e in errors), errors


# --- structure ------------------------------------------------------------------------------------

def test_the_stack_has_every_service():
    assert set(services()) == EXPECTED_SERVICES
    assert {name: s["profiles"] for name, s in services().items() if "profiles" in s} == PROFILE_SERVICES


def test_uses_nothing_compose_v1_lacks():
    top = set(compose())
    assert not top & {"name", "include", "models"}, "docker-compose 1.29 rejects these top-level keys"
    for name, service in services().items():
        assert "develop" not in service, name
        assert set(service.get("healthcheck", {})) <= {"test", "interval", "timeout", "retries", "start_period",
                                                      "disable"}, f"{name}: healthcheck key unknown to Compose v1"
        assert "container_name" not in service, f"{name}: a fixed container name breaks --scale"


def test_dependencies_wait_for_health_and_every_awaited_service_has_a_healthcheck():
    for name, service in services().items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: use the long depends_on form with a condition"
        for dependency, spec in depends_on.items():
            assert dependency in services(), f"{name} depends on unknown service {dependency}"
            assert spec == {"condition": "service_healthy"}, f"{name} -> {dependency}: {spec}"
            assert "test" in services()[dependency].get("healthcheck", {}), \
                f"{name} waits for {dependency} to be healthy, but {dependency} has no healthcheck"


def test_start_order():
    depends = {name: set(s.get("depends_on", {})) for name, s in services().items()}
    assert depends["camunda"] == {"db"}
    assert depends["api"] == {"db", "camunda", "rabbitmq"}
    assert "api" in depends["worker"] and "api" in depends["consumer"], "they start after migrations ran"
    assert depends["frontend"] == {"api"}


def test_healthchecks_use_tools_the_images_have():
    check = {name: " ".join(s["healthcheck"]["test"]) for name, s in services().items() if "healthcheck" in s}
    assert "pg_isready" in check["db"]
    # Camunda Run's image (Alpine) ships curl; /engine-rest/version answers once the engine is up, and only to an
    # engine user, so the check also proves the credentials work.
    assert "curl" in check["camunda"] and "http://localhost:8080/engine-rest/version" in check["camunda"]
    assert "rabbitmq-diagnostics" in check["rabbitmq"]
    # The backend image is python:slim (no curl): Python itself probes /healthz.
    assert check["api"].startswith("CMD python -c") and "/healthz" in check["api"]
    # busybox wget (Alpine) on nginx's loopback-only health listener (deploy/nginx/default.conf)
    assert "wget" in check["frontend"] and "http://127.0.0.1:8081/nginx-health" in check["frontend"]
    # With authentication on, Camunda's probe logs in like every other client.
    assert '-u "$${CAMUNDA_BPM_ADMINUSER_ID}:$${CAMUNDA_BPM_ADMINUSER_PASSWORD}"' in check["camunda"]


def test_one_backend_image_runs_api_worker_and_consumer():
    backend = pflow_services()
    assert set(backend) == {"api", "worker", "consumer"}
    assert len({s["image"] for s in backend.values()}) == 1
    assert services()["api"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert services()["frontend"]["build"] == {"context": "..", "dockerfile": "deploy/frontend.Dockerfile"}
    assert services()["api"]["command"] == [
        "sh", "-c",
        "pflow migrate && exec gunicorn -c python:pflow.entrypoints.http.gunicorn_conf pflow.entrypoints.http.wsgi:app"]
    assert services()["worker"]["command"] == ["pflow", "worker"]
    assert services()["consumer"]["command"] == ["pflow", "consume"]


def test_workers_can_be_scaled():
    worker = services()["worker"]
    assert "ports" not in worker and "container_name" not in worker
    assert environment(worker)["PFLOW_WORKER_ID"] == "${PFLOW_WORKER_ID:-}", \
        "empty by default, so each replica gets its own worker id"


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "consume"])
def test_commands_the_stack_runs_exist(command):
    from pflow.entrypoints.cli import main

    files.require(f"the `pflow {command}` command", command in main.commands,
                  "it is being added on another branch; the compose file already runs it")


def test_production_wiring():
    for name, service in pflow_services().items():
        env = environment(service)
        assert env["WORKFLOW_ENGINE"] == "camunda", name
        assert env["PFLOW_SERVE_WORKER"] == "0", f"{name}: workers run in the worker service"
        assert "@db:5432/" in env["DATABASE_URL"], name
        assert env["CAMUNDA_URL"] == "http://camunda:8080/engine-rest", name
        assert "@rabbitmq:5672/" in env["RABBITMQ_URL"], name
        assert env["PFLOW_SECRET_KEY"].startswith("${PFLOW_SECRET_KEY:?"), f"{name}: the secret must be required"
    camunda = environment(services()["camunda"])
    assert camunda["DB_DRIVER"] == "org.postgresql.Driver"
    assert camunda["DB_URL"] == "jdbc:postgresql://db:5432/camunda"
    assert camunda["WAIT_FOR"] == "db:5432"
    assert services()["camunda"]["image"].startswith("camunda/camunda-bpm-platform:run-")


def test_camunda_gets_its_own_database_on_first_start():
    mounts = services()["db"]["volumes"]
    assert "./postgres/init:/docker-entrypoint-initdb.d:ro" in mounts
    scripts = sorted((COMPOSE_FILE.parent / "postgres" / "init").iterdir())
    sql = "\n".join(p.read_text(encoding="utf-8") for p in scripts if p.suffix == ".sql")
    assert re.search(r"^CREATE DATABASE camunda;", sql, re.M)


def test_state_lives_in_named_volumes():
    assert set(compose()["volumes"]) == {"pgdata", "rabbitmqdata", "prometheusdata", "grafanadata"}
    assert "pgdata:/var/lib/postgresql/data" in services()["db"]["volumes"]
    assert "rabbitmqdata:/var/lib/rabbitmq" in services()["rabbitmq"]["volumes"]
    for name, service in pflow_services().items():
        assert all(str(v).endswith(":ro") for v in service.get("volumes", [])), f"{name} must stay stateless"


def test_nothing_but_nginx_is_published_to_the_host():
    """The finding: the API, PostgreSQL, RabbitMQ (and its management UI) and Camunda's REST API were
    published on the host, so anything on it (or, for the API and the UI, on the network) reached them
    without going through nginx and TLS."""
    published = {name: files.published_ports(s) for name, s in services().items() if s.get("ports")}
    assert published == {"frontend": [("", 443, 8443), ("", 80, 8080)]}
    for name in ("db", "camunda", "rabbitmq", "api", "keycloak"):
        assert services()[name].get("expose"), f"{name}: say which port the others reach it on (expose)"


def test_the_debug_override_publishes_the_internal_services_on_loopback_only():
    override = files.compose_debug()["services"]
    assert set(override) <= set(services())
    assert "frontend" not in override and "keycloak" not in override
    ports = {name: files.published_ports(s) for name, s in override.items()}
    assert ports == {
        "db": [("127.0.0.1", 5432, 5432)],
        "camunda": [("127.0.0.1", 8081, 8080)],
        "rabbitmq": [("127.0.0.1", 5672, 5672), ("127.0.0.1", 15672, 15672)],
        "api": [("127.0.0.1", 8080, 8080)],
    }
    for name, service in override.items():
        assert set(service) == {"ports"}, f"{name}: the override only publishes ports"


# --- secrets ----------------------------------------------------------------------------------------

def credential_problems(interpolated: dict[str, list[tuple[str, str]]]) -> list[str]:
    problems = []
    for name, uses in interpolated.items():
        if not CREDENTIAL.search(name):
            continue
        for operator, message in uses:
            if name in OPTIONAL_CREDENTIALS and operator == ":-" and message == "":
                continue
            if operator != ":?":
                problems.append(f"${{{name}{operator}{message}}}: a credential must be required, not defaulted")
            elif name not in message or ".env" not in message:
                problems.append(f"{name}: the message should say what to set where, not {message!r}")
    return problems


def test_every_credential_is_a_required_variable():
    """The finding: passwords fell back to guest/guest and pflow/pflow when deploy/.env did not set them."""
    interpolated = files.interpolations()
    assert {"POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS", "CAMUNDA_PASSWORD", "PFLOW_SECRET_KEY", "KEYCLOAK_DB_PASSWORD",
            "KEYCLOAK_ADMIN_PASSWORD", "POSTGRES_USER", "RABBITMQ_DEFAULT_USER", "CAMUNDA_USERNAME",
            "KEYCLOAK_DB_USER", "KEYCLOAK_ADMIN_USER"} <= {name for name in interpolated if CREDENTIAL.search(name)}
    assert credential_problems(interpolated) == []


def test_the_credential_check_catches_a_fallback(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text(encoding="utf-8").replace(
        "${RABBITMQ_DEFAULT_PASS:?RABBITMQ_DEFAULT_PASS is not set - see .env.example}", "${RABBITMQ_DEFAULT_PASS:-guest}"))
    assert credential_problems(files.interpolations(broken)) == [
        "${RABBITMQ_DEFAULT_PASS:-guest}: a credential must be required, not defaulted"] * 2


def test_no_well_known_credentials_anywhere_in_the_file():
    text = "\n".join(line for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("#"))
    for default in ("guest", "demo"):
        assert default not in text, default


def test_env_example_leaves_every_secret_empty_and_says_how_to_make_one():
    example = files.env_example()
    for name in REQUIRED_VALUES:
        assert example[name] == "", f".env.example gives {name} a value; it must be generated"
    text = files.ENV_EXAMPLE.read_text(encoding="utf-8")
    assert 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"' in text
    assert "openssl rand" in text


# --- the engine, single sign-on and TLS --------------------------------------------------------------

def test_camunda_rest_requires_authentication_and_pflow_logs_in():
    camunda = environment(services()["camunda"])
    assert camunda["CAMUNDA_BPM_RUN_AUTH_ENABLED"] == "true"
    assert camunda["CAMUNDA_BPM_RUN_AUTH_AUTHENTICATION"] == "basic"
    assert camunda["CAMUNDA_BPM_ADMINUSER_ID"].startswith("${CAMUNDA_USERNAME:?")
    assert camunda["CAMUNDA_BPM_ADMINUSER_PASSWORD"].startswith("${CAMUNDA_PASSWORD:?")
    for name, service in pflow_services().items():
        env = environment(service)
        assert env["CAMUNDA_USERNAME"] == camunda["CAMUNDA_BPM_ADMINUSER_ID"], name
        assert env["CAMUNDA_PASSWORD"] == camunda["CAMUNDA_BPM_ADMINUSER_PASSWORD"], name


def test_keycloak_is_an_optional_production_mode_service():
    keycloak = services()["keycloak"]
    assert keycloak["profiles"] == ["sso"]
    assert re.fullmatch(r"quay\.io/keycloak/keycloak:26\.\d+\.\d+@sha256:[0-9a-f]{64}", keycloak["image"])
    assert keycloak["command"][0] == "start" and "start-dev" not in keycloak["command"]
    assert "--import-realm" in keycloak["command"]
    env = environment(keycloak)
    assert env["KC_HOSTNAME"] == "https://${PFLOW_HOSTNAME:-localhost}/auth"
    assert env["KC_HTTP_RELATIVE_PATH"] == "/auth"
    assert env["KC_PROXY_HEADERS"] == "xforwarded"
    assert (env["KC_DB"], env["KC_DB_URL"]) == ("postgres", "jdbc:postgresql://db:5432/keycloak")
    # Its own login, which the database's first start creates (not PFlow's).
    db = environment(services()["db"])
    assert env["KC_DB_USERNAME"] == db["KEYCLOAK_DB_USER"] and env["KC_DB_PASSWORD"] == db["KEYCLOAK_DB_PASSWORD"]
    init = (COMPOSE_FILE.parent / "postgres" / "init" / "20-keycloak.sh").read_text(encoding="utf-8")
    assert 'CREATE ROLE :"kc_user" LOGIN PASSWORD :\'kc_password\';' in init
    assert 'CREATE DATABASE keycloak OWNER :"kc_user";' in init
    assert "./keycloak/pflow-realm.json:/opt/keycloak/data/import/pflow-realm.json:ro" in keycloak["volumes"]
    assert keycloak["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_the_api_gets_the_single_sign_on_settings_off_by_default():
    """Off until deploy/.env names an issuer and a client; Keycloak's realm import and the api share the client
    secret, and the api reads Keycloak's discovery document over the Compose network."""
    api = environment(services()["api"])
    from pflow.config import Settings

    names = {name for name in files.config_variables() if name.startswith("OIDC_")}
    assert names and names <= set(api)
    assert Settings.from_env({k: "" if v.startswith("${") else v for k, v in api.items()
                              if k.startswith("OIDC_")}).oidc is None
    keycloak = environment(services()["keycloak"])
    assert keycloak["OIDC_CLIENT_SECRET"] == api["OIDC_CLIENT_SECRET"]
    assert keycloak["KC_HOSTNAME_BACKCHANNEL_DYNAMIC"] == "true"
    example = (files.REPO_ROOT / ".env.example").read_text(encoding="utf-8")
    assert "#   OIDC_DISCOVERY_URL=http://keycloak:8080/auth/realms/pflow/.well-known/openid-configuration" in example
    assert "#   OIDC_ISSUER=https://localhost/auth/realms/pflow" in example


def test_nginx_gets_the_certificate_read_only():
    assert services()["frontend"]["volumes"] == ["./tls:/etc/nginx/tls:ro"]
    conf = files.NGINX_CONF.read_text(encoding="utf-8")
    assert "ssl_certificate /etc/nginx/tls/tls.crt;" in conf and "ssl_certificate_key /etc/nginx/tls/tls.key;" in conf
    ignored = (files.REPO_ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"deploy/tls/*.crt", "deploy/tls/*.key"} <= set(ignored)


# --- the real loaders ------------------------------------------------------------------------------

def write_env(path: Path, secret: str | None = SECRET, **values: str) -> Path:
    """.env.example with the required values filled in (secret=None leaves them all empty, as the
    example has them); keyword arguments override single values ("" empties one)."""
    text = files.ENV_EXAMPLE.read_text(encoding="utf-8")
    if secret is not None:
        for name, value in {**REQUIRED_VALUES, "PFLOW_SECRET_KEY": secret, **values}.items():
            text, count = re.subn(rf"^{name}=.*$", f"{name}={value}", text, flags=re.M)
            assert count == 1, f".env.example has no {name}="
    path.write_text(text)
    return path


def copy_compose_dir(tmp_path: Path) -> Path:
    """deploy/docker-compose.yml in a scratch deploy/ folder, so a .env can be put beside it."""
    deploy = tmp_path / "repo" / "deploy"
    deploy.mkdir(parents=True)
    shutil.copy(COMPOSE_FILE, deploy / "docker-compose.yml")
    return deploy / "docker-compose.yml"


@pytest.fixture(scope="session")
def compose_v1() -> list[str]:
    return [files.require_tool("docker-compose", "install Debian's docker-compose 1.29 (apt-get install -y "
                                                 "docker-compose) to check Compose v1 compatibility")]


@pytest.fixture(scope="session")
def compose_v2(tmp_path_factory) -> list[str]:
    go = files.require_tool("go", "install Go to build tests/deploy/composecheck (compose-go, Compose v2's loader)")
    out = tmp_path_factory.mktemp("composecheck") / "composecheck"
    build = subprocess.run([go, "build", "-o", str(out), "."], cwd=Path(__file__).parent / "composecheck",
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"building composecheck failed:\n{build.stderr}"
    return [str(out)]


def run_loader(loader: list[str], compose_file: Path, env_file: Path | None, cwd: Path, v2: bool):
    args = list(loader)
    if v2:
        args += ["-f", str(compose_file)] + (["--env-file", str(env_file)] if env_file else [])
    else:
        args += (["--env-file", str(env_file)] if env_file else []) + ["-f", str(compose_file), "config"]
    return subprocess.run(args, cwd=cwd, env=files.clean_env(), capture_output=True, text=True, timeout=120)


def resolved(loader, v2: bool, compose_file: Path, env_file: Path | None, cwd: Path) -> dict:
    result = run_loader(loader, compose_file, env_file, cwd, v2)
    assert result.returncode == 0, f"{'Compose v2' if v2 else 'docker-compose v1'} rejected the file:\n{result.stderr}"
    return json.loads(result.stdout) if v2 else yaml.safe_load(result.stdout)


LOADERS = [pytest.param("compose_v1", id="compose-v1"), pytest.param("compose_v2", id="compose-v2")]


@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_loader_accepts_the_file_with_the_example_settings(loader_name, request, tmp_path):
    loader = request.getfixturevalue(loader_name)
    project = resolved(loader, loader_name == "compose_v2", COMPOSE_FILE, write_env(tmp_path / "env"), REPO_ROOT)
    # Compose v2 leaves the services of profiles that are off out of the project; v1 lists them.
    assert DEFAULT_SERVICES <= set(project["services"]) <= EXPECTED_SERVICES
    # What the containers get must be settings PFlow accepts, wired for production.
    for name in ("api", "worker", "consumer"):
        env = {k: str(v) for k, v in project["services"][name]["environment"].items()}
        assert env["PFLOW_SECRET_KEY"] == SECRET
        assert (env["CAMUNDA_USERNAME"], env["CAMUNDA_PASSWORD"]) == ("pflow", REQUIRED_VALUES["CAMUNDA_PASSWORD"])
        settings = Settings.from_env(env)
        assert settings.workflow_engine == "camunda"
        assert settings.database_url == f"postgresql+psycopg2://pflow:{REQUIRED_VALUES['POSTGRES_PASSWORD']}@db:5432/pflow"
        assert settings.rabbitmq_url == f"amqp://pflow:{REQUIRED_VALUES['RABBITMQ_DEFAULT_PASS']}@rabbitmq:5672/"
        assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8080)
        assert settings.run_worker_in_serve is False
        assert settings.demo_users_active is False, ".env.example leaves the demo users off"


@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_loader_reads_deploy_env_beside_the_compose_file(loader_name, request, tmp_path):
    """The documented setup: `cp .env.example deploy/.env`, then run Compose from the repository root."""
    loader = request.getfixturevalue(loader_name)
    compose_file = copy_compose_dir(tmp_path)
    write_env(compose_file.parent / ".env", secret="from-deploy-dot-env")
    project = resolved(loader, loader_name == "compose_v2", compose_file, None, compose_file.parent.parent)
    assert project["services"]["api"]["environment"]["PFLOW_SECRET_KEY"] == "from-deploy-dot-env"


@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_loader_refuses_to_start_without_a_secret(loader_name, request, tmp_path):
    loader = request.getfixturevalue(loader_name)
    result = run_loader(loader, COMPOSE_FILE, write_env(tmp_path / "env", secret=""), REPO_ROOT,
                        loader_name == "compose_v2")
    assert result.returncode != 0
    assert "PFLOW_SECRET_KEY is not set - copy .env.example to deploy/.env and set it" in result.stderr


@pytest.mark.parametrize("name", sorted(set(REQUIRED_VALUES) - {"PFLOW_SECRET_KEY"}))
@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_loader_refuses_to_start_without_each_credential(loader_name, name, request, tmp_path):
    loader = request.getfixturevalue(loader_name)
    result = run_loader(loader, COMPOSE_FILE, write_env(tmp_path / "env", **{name: ""}), REPO_ROOT,
                        loader_name == "compose_v2")
    assert result.returncode != 0, f"Compose started with {name} empty"
    assert f"{name} is not set - see .env.example" in result.stderr


@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_loader_refuses_the_example_as_it_is_and_a_missing_env_file(loader_name, request, tmp_path):
    loader = request.getfixturevalue(loader_name)
    v2 = loader_name == "compose_v2"
    as_is = run_loader(loader, COMPOSE_FILE, write_env(tmp_path / "env", secret=None), REPO_ROOT, v2)
    assert as_is.returncode != 0 and "is not set" in as_is.stderr
    compose_file = copy_compose_dir(tmp_path)  # no deploy/.env beside it
    missing = run_loader(loader, compose_file, None, compose_file.parent.parent, v2)
    assert missing.returncode != 0 and "is not set" in missing.stderr


@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_loader_accepts_the_debug_override(loader_name, request, tmp_path):
    loader = request.getfixturevalue(loader_name)
    v2 = loader_name == "compose_v2"
    env_file = write_env(tmp_path / "env")
    args = list(loader) + (["-f", str(COMPOSE_FILE), "-f", str(files.COMPOSE_DEBUG_FILE), "--env-file", str(env_file)]
                           if v2 else ["--env-file", str(env_file), "-f", str(COMPOSE_FILE), "-f",
                                       str(files.COMPOSE_DEBUG_FILE), "config"])
    result = subprocess.run(args, cwd=REPO_ROOT, env=files.clean_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    model = _normalise(json.loads(result.stdout) if v2 else yaml.safe_load(result.stdout))
    assert model["api"]["ports"] == {("127.0.0.1", 8080, 8080)}
    assert model["db"]["ports"] == {("127.0.0.1", 5432, 5432)}
    assert model["frontend"]["ports"] == {("", 443, 8443), ("", 80, 8080)}


@pytest.mark.parametrize("loader_name", LOADERS)
def test_the_operaton_override_runs_operaton_as_the_engine_with_the_same_login(loader_name, request, tmp_path):
    """deploy/docker-compose.operaton.yml: the `camunda` service becomes Operaton (same REST API, its own Run
    settings for basic authentication and the admin user from the same CAMUNDA_USERNAME/PASSWORD), and every
    PFlow process names the engine it talks to."""
    loader = request.getfixturevalue(loader_name)
    v2 = loader_name == "compose_v2"
    env_file = write_env(tmp_path / "env")
    files_ = ["-f", str(COMPOSE_FILE), "-f", str(files.COMPOSE_OPERATON_FILE)]
    args = list(loader) + (files_ + ["--env-file", str(env_file)] if v2 else ["--env-file", str(env_file)] + files_
                                                                             + ["config"])
    result = subprocess.run(args, cwd=REPO_ROOT, env=files.clean_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    model = _normalise(json.loads(result.stdout) if v2 else yaml.safe_load(result.stdout))
    engine = model["camunda"]
    assert re.fullmatch(r"operaton/operaton:1\.0\.3(@sha256:[0-9a-f]{64})?", engine["image"])
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line and line[0] != "#")
    assert env["CAMUNDA_USERNAME"] and env["CAMUNDA_PASSWORD"]
    assert engine["environment"]["OPERATON_BPM_RUN_AUTH_ENABLED"] == "true"
    assert engine["environment"]["OPERATON_BPM_RUN_AUTH_AUTHENTICATION"] == "basic"
    assert engine["environment"]["OPERATON_BPM_ADMINUSER_ID"] == env["CAMUNDA_USERNAME"]
    assert engine["environment"]["OPERATON_BPM_ADMINUSER_PASSWORD"] == env["CAMUNDA_PASSWORD"]
    assert engine["environment"]["DB_URL"] == "jdbc:postgresql://db:5432/camunda"
    assert "OPERATON_BPM_ADMINUSER_ID" in " ".join(engine["healthcheck"])
    assert "http://localhost:8080/engine-rest/version" in " ".join(engine["healthcheck"])
    for name in ("api", "worker", "consumer"):
        assert model[name]["environment"]["WORKFLOW_ENGINE"] == "operaton", name
        assert model[name]["environment"]["CAMUNDA_URL"] == "http://camunda:8080/engine-rest", name
    assert model["api"]["depends_on"]["camunda"] == "service_healthy"


def _normalise(project: dict) -> dict:
    def ports(entries):
        out = set()
        for p in entries or []:
            if isinstance(p, dict):
                out.add((p.get("host_ip", ""), int(p["published"]), int(p["target"])))
            else:
                parts = str(p).split("/")[0].split(":")
                ip = parts[0] if len(parts) == 3 else ""
                out.add((ip, int(parts[-2]), int(parts[-1])))
        return out

    model = {}
    for name, s in project["services"].items():
        model[name] = {
            "image": s.get("image"),
            "command": s.get("command"),
            "environment": {k: str(v) for k, v in (s.get("environment") or {}).items()},
            "ports": ports(s.get("ports")),
            "depends_on": {d: c["condition"] for d, c in (s.get("depends_on") or {}).items()},
            "healthcheck": (s.get("healthcheck") or {}).get("test"),
        }
    return model


def test_compose_v1_and_v2_see_the_same_stack(compose_v1, compose_v2, tmp_path):
    env_file = write_env(tmp_path / "env")
    v1 = _normalise(resolved(compose_v1, False, COMPOSE_FILE, env_file, REPO_ROOT))
    v2 = _normalise(resolved(compose_v2, True, COMPOSE_FILE, env_file, REPO_ROOT))
    for name in PROFILE_SERVICES:  # v2 leaves out services whose profile is off; v1 lists them
        v1.pop(name, None)
    # Compose v2 also interpolates the $${...} escapes of healthcheck commands into ${...}; v1 prints $$.
    for model in (v1, v2):
        for service in model.values():
            if service["healthcheck"]:
                service["healthcheck"] = [t.replace("$${", "${") for t in service["healthcheck"]]
    assert v1 == v2


def test_the_processes_that_send_deliveries_get_the_email_and_webhook_settings():
    """`pflow serve` (api) and `pflow consume` (consumer) send e-mails and webhook calls (docs/notifications.md): both
    get every SMTP_* and delivery setting, e-mail is off until deploy/.env names an SMTP server, the SMTP login may
    stay empty, and the links in e-mails point at the public address Keycloak also uses."""
    outbound = {name for name in files.config_variables()
                if name.startswith("SMTP_") or name in ("PFLOW_PUBLIC_URL", "PFLOW_EMAIL_LINK_TTL", "PFLOW_DIGEST_HOUR",
                                                        "PFLOW_WEBHOOK_DISABLE_AFTER") or
                name.startswith("PFLOW_DELIVERY_")}
    assert len(outbound) == 15
    for name in ("api", "consumer"):
        env = environment(services()[name])
        assert outbound <= set(env), f"{name}: missing {sorted(outbound - set(env))}"
        assert env["PFLOW_SECRET_KEY"] == environment(services()["api"])["PFLOW_SECRET_KEY"], \
            "the consumer signs the e-mail links the api checks"
        assert env["PFLOW_PUBLIC_URL"] == environment(services()["keycloak"])["PFLOW_PUBLIC_URL"]
        assert env["SMTP_USERNAME"] == "${SMTP_USERNAME:-}" and env["SMTP_PASSWORD"] == "${SMTP_PASSWORD:-}"
        example = files.env_example()
        settings = Settings.from_env({k: example.get(re.match(r"\$\{(\w+)", v).group(1), "") if v.startswith("${")
                                      else v for k, v in env.items() if k in outbound and k != "PFLOW_PUBLIC_URL"})
        assert not settings.email_enabled and (settings.smtp_port, settings.smtp_security) == (587, "starttls")
