"""A ticket's trace across processes, as an operator collects it (docs/tracing.md): gunicorn's API processes
and a separate `pflow worker` export OTLP over HTTP to a collector, here a small receiver that decodes what
they send. The approval request, the relay's publish of its events (in the worker process, from the outbox
row) and the worker's provisioning step are one trace."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.integration.test_gunicorn import Gunicorn, login, migrated_postgres_env
from tests.support import REPO_ROOT, reset_postgres, wait_until


class OtlpReceiver:
    """Accepts OTLP/HTTP protobuf trace exports at /v1/traces and keeps the spans, flattened."""

    def __init__(self):
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        spans = self.spans = []
        lock = self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                with lock:
                    for resource in request.resource_spans:
                        service = next((a.value.string_value for a in resource.resource.attributes
                                        if a.key == "service.name"), "")
                        for scope in resource.scope_spans:
                            for s in scope.spans:
                                spans.append({
                                    "service": service, "name": s.name, "trace": s.trace_id.hex(),
                                    "span": s.span_id.hex(), "parent": s.parent_span_id.hex() or None,
                                    "attributes": {a.key: a.value.string_value for a in s.attributes}})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.spans)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.integration
def test_one_tickets_trace_spans_the_api_the_outbox_relay_and_the_worker(tmp_path):
    receiver = OtlpReceiver()
    env = migrated_postgres_env(tmp_path, PFLOW_METRICS="0", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
                                OTEL_BSP_SCHEDULE_DELAY="200")
    server = Gunicorn(env, tmp_path)
    worker = None
    try:
        server.wait_ready(workers=2)
        alice, bob = login(server.url, "alice"), login(server.url, "bob")
        created = requests.post(server.url + "/api/tickets", json={"title": "Laptop", "amount": "999"},
                                headers=alice, timeout=10)
        assert created.status_code == 201, created.text
        ticket = created.json()["id"]
        assert requests.post(f"{server.url}/api/tickets/{ticket}/submit", headers=alice, timeout=10).ok
        assert requests.post(f"{server.url}/api/tickets/{ticket}/approve", headers=bob, timeout=10).ok
        worker = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "worker"], cwd=REPO_ROOT,
                                  env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: requests.get(f"{server.url}/api/tickets/{ticket}", headers=alice,
                                        timeout=10).json()["status"] == "completed",
                   timeout=60, interval=0.2, message="the worker did not complete the ticket")

        def approval_trace():
            spans = receiver.snapshot()
            approve = [s for s in spans if s["service"] == "pflow-api" and s["name"].endswith("/approve")]
            if not approve:
                return None
            trace = [s for s in spans if s["trace"] == approve[0]["trace"]]
            names = {(s["service"], s["name"]) for s in trace}
            if ("pflow-worker", "ticket-processing task") in names and any(
                    service == "pflow-worker" and name.endswith(" publish") for service, name in names):
                return approve[0], trace
            return None

        approve, trace = wait_until(approval_trace, timeout=30, interval=0.3,
                                    message=f"no complete approval trace among {receiver.snapshot()}")
        assert approve["attributes"]["pflow.ticket_id"] == ticket
        (task,) = [s for s in trace if s["name"] == "ticket-processing task"]
        assert task["attributes"]["pflow.ticket_id"] == ticket
        by_id = {s["span"]: s for s in trace}
        assert by_id[task["parent"]]["service"] == "pflow-api"  # the API's task completion is its parent
        publishes = [s for s in trace if s["name"].endswith(" publish")]
        assert {s["attributes"]["pflow.ticket_id"] for s in publishes} == {ticket}
        assert any(by_id.get(s["parent"], {}).get("service") == "pflow-api" for s in publishes), \
            "no publish span is a child of the API request that wrote the event"
        assert any(s["service"] == "pflow-api" and "db.system" in s["attributes"] for s in trace), \
            "no SQL span of the API in the trace"
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)
        assert server.stop() == 0, server.log()
        receiver.close()
        reset_postgres()
