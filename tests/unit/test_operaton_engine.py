"""WORKFLOW_ENGINE=operaton: Operaton (Camunda 7's open fork, the same REST API) through the Camunda 7 REST
adapter, named as the engine it is in every message; the engine tests themselves run on a real Operaton
(`make test`'s second pass over the `camunda` tests, deploy/operaton-dev)."""

from __future__ import annotations

import pytest

from pflow.adapters.camunda import CamundaClient, CamundaWorkflowEngine
from pflow.config import ENGINES, REST_ENGINES, ConfigError, Settings
from pflow.container import build_container
from pflow.domain.errors import EngineAccessDenied, EngineUnavailable
from tests.support import free_port


def test_operaton_is_a_selectable_engine_that_runs_like_camunda():
    assert "operaton" in ENGINES and set(REST_ENGINES) == {"camunda", "operaton"}
    s = Settings.from_env({"WORKFLOW_ENGINE": "Operaton", "CAMUNDA_URL": "http://operaton:8080/engine-rest/",
                           "CAMUNDA_USERNAME": "pflow", "CAMUNDA_PASSWORD": "secret"})
    assert s.workflow_engine == "operaton" and s.camunda_url == "http://operaton:8080/engine-rest"
    assert s.camunda_auth == ("pflow", "secret")
    # as with Camunda, production runs `pflow worker` and `pflow consume` as processes of their own
    assert s.run_worker_in_serve is False and s.run_consumer_in_serve is False
    assert s.http_host == "0.0.0.0" and not s.is_embedded_default


def test_an_unknown_engine_names_every_choice():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"WORKFLOW_ENGINE": "zeebe"})
    assert "operaton" in str(err.value) and "camunda" in str(err.value)


def test_the_container_builds_the_rest_adapter_named_operaton():
    settings = Settings(workflow_engine="operaton", database_url="memory://", rabbitmq_url="memory://",
                        camunda_url=f"http://127.0.0.1:{free_port()}/engine-rest")
    container = build_container(settings)
    engine = container.workflow_engine()
    try:
        assert isinstance(engine, CamundaWorkflowEngine) and engine.name == "Operaton"
        with pytest.raises(EngineUnavailable) as err:
            engine.check()
        assert err.value.dependency == "Operaton"
        assert err.value.message.startswith(f"Operaton is not reachable at {settings.camunda_url}: connection refused")
        assert "make operaton-up" in err.value.message and "Camunda" not in err.value.message
        assert err.value.public_message.startswith("Operaton is not reachable: connection refused")
    finally:
        container.shutdown_resources()


@pytest.mark.parametrize("flavour, name", [("camunda", "Camunda"), ("operaton", "Operaton")])
def test_refused_credentials_name_the_engine(flavour, name):
    client = CamundaClient("http://engine:8080/engine-rest", auth=("pflow", "wrong"), flavour=flavour)
    denied = client.access_denied(401, "GET", "/version")
    assert isinstance(denied, EngineAccessDenied) and denied.dependency == name
    assert denied.message.startswith(f"{name} at http://engine:8080/engine-rest refused PFlow's credentials")


def test_an_unknown_flavour_is_refused():
    with pytest.raises(ValueError, match="unknown engine flavour 'zeebe'"):
        CamundaClient("http://engine:8080/engine-rest", flavour="zeebe")
