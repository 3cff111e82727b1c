"""Settings from the environment, with the variable names of the system PFlow replaces."""

from pathlib import Path

import pytest

from pflow.config import ConfigError, Settings, normalise_database_url, parse_http_address
from pflow.container import build_user_directory


@pytest.mark.parametrize("raw, expected", [(":8080", ("0.0.0.0", 8080)), ("8080", ("0.0.0.0", 8080)),
                                           ("127.0.0.1:9000", ("127.0.0.1", 9000)), (" :80 ", ("0.0.0.0", 80))])
def test_api_http_port_accepts_both_forms(raw, expected):
    assert parse_http_address(raw) == expected


@pytest.mark.parametrize("raw", ["http", ":0", ":70000", "localhost:"])
def test_bad_ports_are_named(raw):
    with pytest.raises(ConfigError, match="API_HTTP_PORT"):
        parse_http_address(raw)


def test_the_old_postgres_url_form_is_accepted():
    assert normalise_database_url("postgres://pflow:pflow@localhost:5432/pflow?sslmode=disable") == (
        "postgresql+psycopg2://pflow:pflow@localhost:5432/pflow?sslmode=disable")
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert normalise_database_url("sqlite:///var/x.db") == "sqlite:///var/x.db"


def test_seed_variable_names_are_read():
    s = Settings.from_env({
        "WORKFLOW_ENGINE": "camunda", "CAMUNDA_URL": "http://camunda:8080/engine-rest/",
        "CAMUNDA_PROCESS_KEY": "other_process", "RABBITMQ_URL": "amqp://guest:guest@mq:5672/",
        "RABBITMQ_TICKET_EXCHANGE": "ex", "RABBITMQ_TICKET_QUEUE": "q", "API_HTTP_PORT": ":9090",
        "DATABASE_URL": "postgres://pflow:pflow@db:5432/pflow",
    })
    assert s.workflow_engine == "camunda" and s.camunda_url == "http://camunda:8080/engine-rest"
    assert s.camunda_process_key == "other_process" and s.rabbitmq_url.startswith("amqp://")
    assert (s.rabbitmq_exchange, s.rabbitmq_queue, s.http_port) == ("ex", "q", 9090)
    assert s.database_url.startswith("postgresql+psycopg2://")
    assert s.run_worker_in_serve is False  # production runs `pflow worker` separately


@pytest.mark.parametrize("env, name", [({"WORKFLOW_ENGINE": "zeebe"}, "WORKFLOW_ENGINE"),
                                       ({"PFLOW_DEMO_USERS": "maybe"}, "PFLOW_DEMO_USERS"),
                                       ({"PFLOW_WORKER_CONCURRENCY": "0"}, "PFLOW_WORKER_CONCURRENCY"),
                                       ({"PFLOW_TOKEN_TTL": "soon"}, "PFLOW_TOKEN_TTL")])
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


@pytest.mark.parametrize("engine, raw, expected", [("embedded", ":8080", ("127.0.0.1", 8080)),
                                                   ("memory", "9000", ("127.0.0.1", 9000)),
                                                   ("embedded", "0.0.0.0:8080", ("0.0.0.0", 8080)),
                                                   ("camunda", ":8080", ("0.0.0.0", 8080))])
def test_the_embedded_default_listens_on_localhost_unless_a_host_is_given(engine, raw, expected):
    s = Settings.from_env({"WORKFLOW_ENGINE": engine, "API_HTTP_PORT": raw})
    assert (s.http_host, s.http_port) == expected
    assert (Settings.from_env({}).http_host, Settings.from_env({}).http_port) == ("127.0.0.1", 8080)


@pytest.mark.parametrize("env, active", [
    ({}, True),  # `make run`: the embedded default on localhost
    ({"PFLOW_DEMO_USERS": "0"}, False),  # the finding: 0 changed nothing on the embedded default
    ({"API_HTTP_PORT": "0.0.0.0:8080"}, False),  # reachable from other machines: not unless asked for
    ({"WORKFLOW_ENGINE": "camunda", "API_HTTP_PORT": "127.0.0.1:8080"}, False),
    ({"WORKFLOW_ENGINE": "camunda", "PFLOW_DEMO_USERS": "1"}, True),
    ({"PFLOW_DEMO_USERS": "1", "PFLOW_USERS_FILE": "/etc/pflow/users.json"}, False),
])
def test_demo_users_are_off_unless_asked_for_except_the_embedded_default_on_localhost(env, active):
    assert Settings.from_env(env).demo_users_active is active


def test_demo_users_0_really_turns_them_off_on_the_embedded_default():
    settings = Settings.from_env({"WORKFLOW_ENGINE": "embedded", "PFLOW_DEMO_USERS": "0"})
    with pytest.raises(ConfigError, match="PFLOW_DEMO_USERS=0 turns the demo users off.*PFLOW_USERS_FILE"):
        build_user_directory(settings)


def test_demo_users_only_in_the_embedded_default_unless_allowed():
    assert build_user_directory(Settings(workflow_engine="embedded")).authenticate("bob", "bob").username == "bob"
    with pytest.raises(ConfigError, match="PFLOW_USERS_FILE"):
        build_user_directory(Settings(workflow_engine="camunda"))
    allowed = build_user_directory(Settings(workflow_engine="camunda", demo_users=True))
    assert allowed.get("carol").is_admin


def test_users_file(tmp_path: Path):
    from werkzeug.security import generate_password_hash

    path = tmp_path / "users.json"
    path.write_text('{"users": [{"username": "max", "display_name": "Max", "roles": ["manager"], '
                    f'"password_hash": "{generate_password_hash("s3cret", "pbkdf2:sha256:1000")}"}}]}}')
    users = build_user_directory(Settings(workflow_engine="camunda", users_file=path))
    assert users.authenticate("max", "s3cret").is_manager
    assert users.authenticate("max", "wrong") is None and users.authenticate("bob", "bob") is None


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ('{"users": 3}', "list of users"),
    ('[{"username": "x"}]', "password_hash"),
    ('[{"username": "x", "password_hash": "h", "groups": "pope"}]', "groups must be a list of names"),
])
def test_bad_users_files_say_what_is_wrong(tmp_path, content, message):
    from pflow.adapters.users import UserConfigError

    path = tmp_path / "users.json"
    path.write_text(content)
    with pytest.raises(UserConfigError, match=message):
        build_user_directory(Settings(users_file=path))
    with pytest.raises(UserConfigError, match="does not exist"):
        build_user_directory(Settings(users_file=tmp_path / "missing.json"))


@pytest.mark.parametrize("command, env, says", [
    ("worker", {"DATABASE_URL": "memory://"}, "needs the tickets' database"),
    ("consume", {"RABBITMQ_URL": "memory://"}, "pflow consume runs in its own process"),
    ("relay", {"DATABASE_URL": "memory://"}, "pflow relay runs in its own process"),
])
def test_separate_processes_refuse_a_store_they_cannot_share(command, env, says):
    from click.testing import CliRunner

    from pflow.entrypoints.cli import main

    result = CliRunner().invoke(main, [command], env={"WORKFLOW_ENGINE": "memory", **env})
    assert result.exit_code != 0 and says in result.output


@pytest.mark.parametrize("env, wait_s", [
    ({"WORKFLOW_ENGINE": "embedded"}, 2.0),  # its calls queue for the file's writer lock under a burst
    ({"WORKFLOW_ENGINE": "camunda"}, 0.5),
    ({"WORKFLOW_ENGINE": "camunda", "PFLOW_ENGINE_WAIT_MS": "250"}, 0.25),
    ({"WORKFLOW_ENGINE": "embedded", "PFLOW_ENGINE_WAIT_MS": "0"}, 0.0),
])
def test_the_engine_bulkhead_waits_per_engine_unless_told(env, wait_s):
    from pflow.container import build_container

    settings = Settings.from_env(env)
    assert settings.engine_wait_s == wait_s
    assert build_container(settings).service_engine.kwargs["wait_s"]() == wait_s


def test_a_bad_engine_wait_names_the_variable():
    with pytest.raises(ConfigError, match="PFLOW_ENGINE_WAIT_MS='soon' is not a whole number"):
        Settings.from_env({"PFLOW_ENGINE_WAIT_MS": "soon"})


def test_camunda_credentials_are_read_and_the_password_stays_out_of_the_repr():
    s = Settings.from_env({"WORKFLOW_ENGINE": "camunda", "CAMUNDA_USERNAME": "pflow", "CAMUNDA_PASSWORD": "hunter2"})
    assert (s.camunda_username, s.camunda_password, s.camunda_auth) == ("pflow", "hunter2", ("pflow", "hunter2"))
    assert "hunter2" not in repr(s) and "camunda_username='pflow'" in repr(s)
    assert s.replace(camunda_url="http://x/engine-rest").camunda_auth == ("pflow", "hunter2")


def test_without_camunda_credentials_none_are_sent():
    s = Settings.from_env({"WORKFLOW_ENGINE": "camunda"})
    assert s.camunda_username is None and s.camunda_password is None and s.camunda_auth is None
    assert Settings.from_env({"CAMUNDA_USERNAME": "", "CAMUNDA_PASSWORD": ""}).camunda_auth is None  # empty = unset


@pytest.mark.parametrize("env, named", [
    ({"CAMUNDA_USERNAME": "pflow"}, "CAMUNDA_PASSWORD is not set but CAMUNDA_USERNAME is"),
    ({"CAMUNDA_PASSWORD": "hunter2"}, "CAMUNDA_USERNAME is not set but CAMUNDA_PASSWORD is"),
    ({"CAMUNDA_USERNAME": "pf:low", "CAMUNDA_PASSWORD": "hunter2"}, "CAMUNDA_USERNAME must not contain ':'"),
    ({"CAMUNDA_USERNAME": "  ", "CAMUNDA_PASSWORD": "hunter2"}, "CAMUNDA_USERNAME is blank"),
])
def test_camunda_credentials_come_both_or_neither_and_the_error_names_the_variable(env, named):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"WORKFLOW_ENGINE": "camunda", **env})
    assert named in str(err.value) and "hunter2" not in str(err.value)


@pytest.mark.parametrize("values, missing", [({"camunda_username": "pflow"}, "camunda_password"),
                                             ({"camunda_password": "hunter2"}, "camunda_username")])
def test_settings_made_in_code_need_both_camunda_credentials_too(values, missing):
    with pytest.raises(ConfigError, match=f"{missing} is not set"):
        Settings(**values)


def test_engine_rest_credentials_are_read_and_the_password_stays_out_of_the_repr():
    s = Settings.from_env({"PFLOW_ENGINE_REST_USERNAME": "worker", "PFLOW_ENGINE_REST_PASSWORD": "hunter2"})
    assert (s.engine_rest_username, s.engine_rest_password, s.engine_rest_auth) == ("worker", "hunter2",
                                                                                    ("worker", "hunter2"))
    assert "hunter2" not in repr(s) and "engine_rest_username='worker'" in repr(s)
    assert s.engine_rest_max_wait_ms == 60_000
    assert Settings.from_env({}).engine_rest_auth is None  # off unless configured
    assert Settings.from_env({"PFLOW_ENGINE_REST_MAX_WAIT_MS": "5000"}).engine_rest_max_wait_ms == 5000


@pytest.mark.parametrize("env, named", [
    ({"PFLOW_ENGINE_REST_USERNAME": "worker"}, "PFLOW_ENGINE_REST_PASSWORD is not set but PFLOW_ENGINE_REST_USERNAME is"),
    ({"PFLOW_ENGINE_REST_PASSWORD": "hunter2"}, "PFLOW_ENGINE_REST_USERNAME is not set but PFLOW_ENGINE_REST_PASSWORD is"),
    ({"PFLOW_ENGINE_REST_USERNAME": "wo:rker", "PFLOW_ENGINE_REST_PASSWORD": "hunter2"}, "must not contain ':'"),
    ({"PFLOW_ENGINE_REST_USERNAME": " ", "PFLOW_ENGINE_REST_PASSWORD": "hunter2"}, "PFLOW_ENGINE_REST_USERNAME is blank"),
    ({"PFLOW_ENGINE_REST_MAX_WAIT_MS": "forever"}, "PFLOW_ENGINE_REST_MAX_WAIT_MS='forever' is not a whole number"),
    ({"PFLOW_ENGINE_REST_MAX_WAIT_MS": "999999"}, "must be at most 300000"),
])
def test_engine_rest_settings_come_both_or_neither_and_the_error_names_the_variable(env, named):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert named in str(err.value) and "hunter2" not in str(err.value)


@pytest.mark.parametrize("values, missing", [({"engine_rest_username": "worker"}, "engine_rest_password"),
                                             ({"engine_rest_password": "hunter2"}, "engine_rest_username")])
def test_settings_made_in_code_need_both_engine_rest_credentials_too(values, missing):
    with pytest.raises(ConfigError, match=f"{missing} is not set"):
        Settings(**values)
