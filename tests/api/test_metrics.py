"""/metrics after a real ticket flow: the counters and gauges move as the flow goes (docs/metrics.md)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient
from tests.support import build_stack, wait_until

TOKEN = "metrics-token-0123456789abcdef"


def samples(api, headers=None) -> dict[tuple[str, frozenset], float]:
    r = api.client.get("/metrics", headers=headers or {})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found, name, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(params=["memory", "sqlite"])
def flow_stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


def test_a_full_ticket_flow_moves_the_metrics(flow_stack):
    api = ApiClient(create_app(flow_stack.container))
    before = samples(api)
    created = api.post("/api/tickets", "alice", json={"title": "Laptop"})
    assert created.status_code == 201
    tid = created.json["id"]
    assert api.post(f"/api/tickets/{tid}/submit", "alice").status_code == 200
    middle = samples(api)
    # the open approval step shows under its candidate group, and no step is overdue
    assert sum(v for (n, labels), v in middle.items() if n == "pflow_open_tasks") >= 1
    assert value(middle, "pflow_store_up") == 1
    assert api.post(f"/api/tickets/{tid}/approve", "bob", json={"comment": "ok"}).status_code == 200
    worker = flow_stack.worker()
    wait_until(lambda: worker.run_once(wait_ms=1000), message="no automated step to run")
    published = flow_stack.container.relay().drain()
    assert published > 0
    consumed = flow_stack.container.notification_consumer().drain(idle_timeout=0.2)
    assert consumed > 0
    after = samples(api)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    route = dict(route="/api/tickets", method="POST", status="201")
    assert moved("pflow_http_request_duration_seconds_count", **route) == 1
    assert moved("pflow_http_request_duration_seconds_count", route="/api/tickets/<id:ticket_id>/submit",
                 method="POST", status="200") == 1
    assert moved("pflow_worker_tasks_completed_total", topic="ticket-processing") == 1
    assert moved("pflow_worker_tasks_fetched_total", topic="ticket-processing") == 1
    assert moved("pflow_worker_handler_duration_seconds_count", topic="ticket-processing", outcome="completed") == 1
    assert moved("pflow_worker_polls_total") >= 1
    assert moved("pflow_relay_published_total") == published
    assert moved("pflow_consumer_handled_total") == consumed
    assert moved("pflow_consumer_failed_total") == 0
    assert moved("pflow_engine_call_duration_seconds_count", operation="start", outcome="ok") == 1
    assert value(after, "pflow_tickets", type=created.json["type"], status="completed") == 1
    assert value(after, "pflow_outbox_unsent") == 0
    assert value(after, "pflow_outbox_oldest_unsent_age_seconds") == 0
    assert not any(n == "pflow_open_tasks" and v for (n, _), v in after.items())


def test_the_route_label_is_the_url_rule_not_the_path(memory_stack):
    api = ApiClient(create_app(memory_stack.container))
    api.get("/api/tickets/no-such-ticket", "alice")
    found = samples(api)
    assert not any(dict(labels).get("route") == "/api/tickets/no-such-ticket" for _, labels in found)
    assert value(found, "pflow_http_request_duration_seconds_count", route="/api/tickets/<id:ticket_id>",
                 method="GET", status="404") >= 1


def test_an_unsent_event_shows_in_the_outbox_backlog(memory_stack):
    api = ApiClient(create_app(memory_stack.container))
    created = api.post("/api/tickets", "alice", json={"title": "Laptop"}).json
    api.post(f"/api/tickets/{created['id']}/submit", "alice")
    found = samples(api)
    assert value(found, "pflow_outbox_unsent") >= 1
    assert value(found, "pflow_outbox_oldest_unsent_age_seconds") >= 0


def test_metrics_with_a_token(tmp_path):
    s = build_stack("memory", tmp_path, metrics_token=TOKEN)
    try:
        api = ApiClient(create_app(s.container))
        assert api.client.get("/metrics").status_code == 401
        assert api.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert api.client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        r = api.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and b"pflow_tickets" in r.data
    finally:
        s.close()


def test_metrics_off_is_404_and_not_in_the_openapi_document(tmp_path):
    s = build_stack("memory", tmp_path, metrics_enabled=False)
    try:
        api = ApiClient(create_app(s.container))
        assert api.client.get("/metrics").status_code == 404
        assert "/metrics" not in api.client.get("/api/openapi.json").json["paths"]
    finally:
        s.close()


def test_the_worker_and_consumer_metrics_server(memory_stack):
    """`pflow worker` and `pflow consume` (PFLOW_METRICS_PORT): the same text, the same token check."""
    import requests

    from pflow.adapters.metrics import MetricsServer

    server = MetricsServer(18101, TOKEN, memory_stack.container.metrics_store(), host="127.0.0.1").start()
    try:
        url = "http://127.0.0.1:18101/metrics"
        assert requests.get(url, timeout=5).status_code == 401
        assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
        assert requests.get("http://127.0.0.1:18101/other", timeout=5).status_code == 404
        r = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert r.status_code == 200 and "pflow_store_up 1.0" in r.text and "pflow_worker_polls_total" in r.text
    finally:
        server.stop()
