"""Run schemathesis' engine (what `schemathesis run` does) against the app and collect what it found.

The engine runs every phase the CLI runs (examples, coverage — boundary values, unexpected methods,
missing parameters — and fuzzing) with every check. The app is served over HTTP on the loopback
interface from this process: schemathesis' WSGI transport breaks on its own auth probes (it passes
``max_redirects`` to werkzeug's test client), and its pytest loader relies on a private attribute
that pytest 9 removed (``Node._nodeid``).
"""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from werkzeug.serving import WSGIRequestHandler, make_server

SEED = 20261201


@dataclass
class Findings:
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    cases: int = 0
    operations: set[str] = field(default_factory=set)  # the labels of the operations that got requests

    def report(self) -> str:
        lines = [f"{self.cases} requests; statuses {dict(sorted(self.statuses.items()))}"]
        lines += [f"FAILURE {f}" for f in self.failures] + [f"ERROR {e}" for e in self.errors]
        return "\n\n".join(lines)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # thousands of lines per run otherwise
        pass


@contextmanager
def served(app) -> Iterator[str]:
    """The app on a free loopback port, for as long as the block lasts; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="fuzzed-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


# Bodies holding form values: a ticket's fields (checked against its type's form) and a step's variables
# (checked against that task's form in its BPMN). Forms come from the deployed types and processes, so
# the document can declare only "values by field name"; data that fits it may still be a 422 naming the
# field (an unknown field, a value outside an enum). Only for these is a 422 an accepted answer to
# schema-valid data; every other operation keeps schemathesis' default (no 422 for valid data).
FORM_BODIES = [("POST", "/api/tickets"), ("PATCH", "/api/tickets/{ticket_id}"),
               ("POST", "/api/tasks/{task_id}/complete")]
# Bodies naming a user or a period: whether the user exists, may take the step, or the period lies ahead
# depends on the data and the clock, which no schema declares; a 422 naming the field is the answer there too.
FORM_BODIES += [("PUT", "/api/me/substitute"), ("PUT", "/api/tasks/{task_id}/assignee")]
POSITIVE_WITH_FORMS = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]


def load(base_url: str, token: str, max_examples: int, operation: tuple[str, str],
         path_parameters: dict[str, str] | None = None):
    """One operation (method, path) of the document at ``base_url``, fuzzed as the holder of ``token``;
    ``path_parameters`` pin ids (an existing ticket) where drawn ones would only ever reach a 404."""
    method, path = operation
    # One operation per load, so its checks are the whole configuration's (an "operations" section would
    # also widen the selection to every operation).
    checks = ({"positive_data_acceptance": {"expected-statuses": POSITIVE_WITH_FORMS}}
              if operation in FORM_BODIES else {})
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {token}"},
        "parameters": {f"path.{name}": value for name, value in (path_parameters or {}).items()},
        "generation": {"deterministic": True, "max-examples": max_examples, "database": "none"},
        # Stateful testing chains operations through links the document does not declare.
        "phases": {"stateful": {"enabled": False}},
        "checks": checks,
    })
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json", config=config)
    return schema.include(method=method, path=path)


def run(schema) -> Findings:
    found = Findings()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _collect(event.recorder, found)
        elif isinstance(event, events.NonFatalError):
            found.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.errors.append(f"fatal: {event.exception!r}")
    return found


def _collect(recorder, found: Findings) -> None:
    for interaction in recorder.interactions.values():
        if interaction.response is not None:
            found.operations.add(recorder.label)
            found.cases += 1
            found.statuses[interaction.response.status_code] += 1
    seen = set()
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            key = (check.name, failure.title, failure.message)
            if key in seen:
                continue
            seen.add(key)
            found.failures.append(f"[{check.name}] {failure.operation}: {failure.title}\n{failure.message}\n"
                                  f"{check.failure_info.code_sample}")
