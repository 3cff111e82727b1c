"""Request ids and JSON log lines (docs/production-server.md#logs): every response carries X-Request-ID, a
client's valid id is kept and a bad one replaced, and every line logged while a request is served names it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pflow.entrypoints import logs
from pflow.entrypoints.http import create_app
from tests.support import build_stack


@pytest.fixture
def stack(tmp_path):
    s = build_stack("memory", tmp_path)
    yield s
    s.close()


@pytest.fixture
def json_lines():
    """What PFlow's JSON handler writes while the test runs, one dict per line."""
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def token(client, user: str) -> dict[str, str]:
    r = client.post("/api/auth/login", json={"username": user, "password": user})
    return {"Authorization": "Bearer " + r.get_json()["token"]}


def test_a_clients_request_id_is_echoed_and_on_the_access_line(stack, json_lines):
    client = create_app(stack.container).test_client(use_cookies=False)
    alice = token(client, "alice")
    r = client.post("/api/tickets", json={"title": "Laptop", "amount": "999"},
                    headers={**alice, "X-Request-ID": "from-the-proxy-42"})
    assert r.status_code == 201 and r.headers["X-Request-ID"] == "from-the-proxy-42"
    (access,) = [line for line in json_lines() if line["logger"] == "pflow.access"
                 and line.get("request_id") == "from-the-proxy-42"]
    assert access["message"] == "access" and access["user"] == "alice" and access["status"] == 201
    assert access["route"] == "/api/tickets" and access["method"] == "POST" and access["level"] == "INFO"
    assert access["time"].endswith("Z") and isinstance(access["duration_ms"], float)


@pytest.mark.parametrize("bad", ["", " padded ", "x" * 129, "tab\there", "ünïcode"])
def test_a_bad_request_id_is_replaced_by_a_new_one(stack, bad):
    client = create_app(stack.container).test_client(use_cookies=False)
    r = client.get("/healthz", headers={"X-Request-ID": bad})
    given = r.headers["X-Request-ID"]
    assert given != bad and len(given) == 32 and int(given, 16) >= 0


def test_requests_without_an_id_get_different_ones(stack):
    client = create_app(stack.container).test_client(use_cookies=False)
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_every_line_logged_inside_a_request_names_it_and_none_outside(stack, json_lines):
    app = create_app(stack.container)

    @app.get("/probe-log")
    def probe():
        logging.getLogger("pflow.probe").warning("inside", extra={"ticket_id": "TCK-9"})
        return "ok"

    client = app.test_client(use_cookies=False)
    assert client.get("/probe-log", headers={"X-Request-ID": "probe-1"}).status_code == 200
    logging.getLogger("pflow.probe").warning("outside")
    probe_lines = {line["message"]: line for line in json_lines() if line["logger"] == "pflow.probe"}
    assert probe_lines["inside"]["request_id"] == "probe-1" and probe_lines["inside"]["ticket_id"] == "TCK-9"
    assert probe_lines["inside"]["level"] == "WARNING"
    assert "request_id" not in probe_lines["outside"]


def test_a_traceback_is_one_field_of_one_line():
    stream = io.StringIO()
    logger = logging.getLogger("pflow.test_logs")
    handler = logs.handler("json", stream)
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "failed" and "RuntimeError: boom" in entry["exc_info"]


def test_text_lines_put_the_request_id_in_brackets():
    record = logging.LogRecord("pflow.x", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "abc"
    assert "INFO    pflow.x: [abc] hello" in logs.TextFormatter().format(record)
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        logs.formatter("xml")
