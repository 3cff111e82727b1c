"""A submit whose commit is lost after the engine started the instance: 503, the instance is
cancelled (compensation), nothing is left behind, and submitting again works — on PostgreSQL,
whose connection really goes away (the ORM cannot read the ticket after that)."""

from __future__ import annotations

import pytest

from pflow.domain.model import TicketStatus
from pflow.entrypoints.http import create_app
from pflow.ports.process import InstanceState
from tests.conftest import ApiClient
from tests.support import build_stack, pg_url
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


def test_a_submit_whose_database_goes_away_after_the_engine_started_is_503_and_compensated(tmp_path):
    from tests.support import prepare_stack

    prepare_stack("postgres")
    proxy = TcpProxy.for_url(pg_url())
    stack = build_stack("postgres", tmp_path, database_url=proxy.url_for(pg_url()))
    try:
        api = ApiClient(create_app(stack.container))
        created = api.post("/api/tickets", "alice", json={"title": "Laptop"}).json
        engine = stack.engine
        start = engine.start

        def start_then_database_goes_away(*args, **kwargs):
            instance = start(*args, **kwargs)
            proxy.cut()
            return instance

        engine.start = start_then_database_goes_away
        r = api.post(f"/api/tickets/{created['id']}/submit", "alice")
        engine.start = start
        assert r.status_code == 503, r.json
        assert r.json["error"]["code"]
        proxy.restore()
        # The instance the engine started is cancelled: no step of it is left for anyone.
        assert engine.instance(created["id"]).state == InstanceState.TERMINATED
        assert engine.open_tasks(created["id"]) == []
        again = api.get(f"/api/tickets/{created['id']}", "alice")
        assert again.status_code == 200 and again.json["status"] == TicketStatus.DRAFT
        assert again.json["steps"] == [] and again.json["allowed_actions"] == ["edit", "submit", "delete"]
        assert api.get("/api/tasks", "bob").json["total"] == 0
        resubmitted = api.post(f"/api/tickets/{created['id']}/submit", "alice").json
        assert resubmitted["status"] == "in_progress" and resubmitted["current_steps"] == ["Manager Approval"]
        assert [i["ticket"]["id"] for i in api.get("/api/tasks", "bob").json["items"]] == [created["id"]]
        assert engine.instance(created["id"]).state == InstanceState.ACTIVE
    finally:
        proxy.restore()
        stack.close()
        proxy.close()
