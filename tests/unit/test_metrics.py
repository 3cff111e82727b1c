"""The metrics settings, the scrape-time store collector, the engine bulkhead's timing and multiprocess mode
(docs/metrics.md)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pflow.adapters.guarded import BoundedProcessEngine
from pflow.adapters.memory.workflow import InMemoryWorkflowEngine
from pflow.adapters.metrics import StoreCollector
from pflow.config import REPO_ROOT, ConfigError, Settings
from pflow.domain.errors import EngineUnavailable, NotFound
from pflow.entrypoints.http import create_app
from pflow.ports.telemetry import Telemetry
from tests.conftest import ApiClient

TOKEN = "0123456789abcdef-metrics"


# --- settings ------------------------------------------------------------------------------------

def test_metrics_are_on_without_a_token_by_default():
    s = Settings.from_env({})
    assert s.metrics_enabled is True and s.metrics_token is None and s.metrics_port is None


def test_metrics_settings_from_the_environment():
    s = Settings.from_env({"PFLOW_METRICS": "0", "PFLOW_METRICS_TOKEN": TOKEN, "PFLOW_METRICS_PORT": "9100"})
    assert s.metrics_enabled is False and s.metrics_token == TOKEN and s.metrics_port == 9100
    assert TOKEN not in repr(s)


@pytest.mark.parametrize("env, says", [
    ({"PFLOW_METRICS": "maybe"}, "PFLOW_METRICS='maybe' is not a boolean"),
    ({"PFLOW_METRICS_TOKEN": "short"}, "PFLOW_METRICS_TOKEN is shorter than 16 characters"),
    ({"PFLOW_METRICS_TOKEN": "0123456789 abcdef-x"}, "PFLOW_METRICS_TOKEN must not contain spaces"),
    ({"PFLOW_METRICS_TOKEN": " 0123456789abcdef-x"}, "PFLOW_METRICS_TOKEN must not contain spaces"),
    ({"PFLOW_METRICS_TOKEN": "0123456789abcdef-ä"}, "PFLOW_METRICS_TOKEN must be printable ASCII"),
    ({"PFLOW_METRICS_PORT": "0"}, "PFLOW_METRICS_PORT='0' must be at least 1"),
    ({"PFLOW_METRICS_PORT": "x"}, "PFLOW_METRICS_PORT='x' is not a whole number"),
])
def test_bad_metrics_settings_say_what_is_wrong(env, says):
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


# --- the store collector ---------------------------------------------------------------------------

def collect(collector) -> dict[tuple[str, frozenset], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_the_store_gauges_come_from_the_store_at_scrape_time(memory_stack):
    api = ApiClient(create_app(memory_stack.container))
    for _ in range(2):
        t = api.post("/api/tickets", "alice", json={"title": "Laptop"}).json
        api.post(f"/api/tickets/{t['id']}/submit", "alice")
    api.post("/api/tickets", "alice", json={"title": "Draft"})
    now = memory_stack.clock.now()
    later = now + timedelta(days=2)
    found = collect(StoreCollector(memory_stack.container.uow, clock=lambda: later))
    assert found[("pflow_store_up", frozenset())] == 1
    assert found[("pflow_tickets", frozenset({("type", t["type"]), ("status", "in_progress")}))] == 2
    assert found[("pflow_tickets", frozenset({("type", t["type"]), ("status", "draft")}))] == 1
    groups = {dict(labels)["group"] for (name, labels) in found if name == "pflow_open_tasks"}
    assert groups
    group = sorted(groups)[0]
    assert found[("pflow_open_tasks", frozenset({("group", group), ("age", "d1_3")}))] == 2
    oldest = found[("pflow_open_task_oldest_age_seconds", frozenset({("group", group)}))]
    assert 2 * 86400 - 60 < oldest < 2 * 86400 + 60
    assert found[("pflow_outbox_unsent", frozenset())] >= 2
    assert 2 * 86400 - 60 < found[("pflow_outbox_oldest_unsent_age_seconds", frozenset())] < 2 * 86400 + 60
    # the same store a moment later: nothing is kept between scrapes
    memory_stack.container.relay().drain()
    again = collect(StoreCollector(memory_stack.container.uow, clock=lambda: now))
    assert again[("pflow_outbox_unsent", frozenset())] == 0
    assert again[("pflow_outbox_oldest_unsent_age_seconds", frozenset())] == 0
    assert again[("pflow_open_tasks", frozenset({("group", group), ("age", "lt_1d")}))] == 2


def test_a_scrape_with_the_database_down_says_so_and_does_not_fail():
    def down():
        raise RuntimeError("connection refused")

    found = collect(StoreCollector(down, clock=lambda: None))
    assert found == {("pflow_store_up", frozenset()): 0}


# --- engine call latency -----------------------------------------------------------------------------

class Recorded(Telemetry):
    def __init__(self):
        self.calls = []

    def engine_call(self, operation, outcome, seconds):
        self.calls.append((operation, outcome))
        assert seconds >= 0


def test_the_bulkhead_times_every_engine_call_by_operation_and_outcome():
    telemetry = Recorded()
    inner = InMemoryWorkflowEngine()
    engine = BoundedProcessEngine(inner, telemetry=telemetry)
    engine.check()
    with pytest.raises(NotFound):
        engine.task("no-such-task")
    inner.available = False
    with pytest.raises(EngineUnavailable):
        engine.instance("T-1")
    assert telemetry.calls == [("check", "ok"), ("task", "rejected"), ("instance", "unavailable")]
    inner.close()


# --- multiprocess mode -----------------------------------------------------------------------------

COUNT = textwrap.dedent("""
    from pflow.adapters.metrics import PrometheusTelemetry
    PrometheusTelemetry().relay_published({n})
    PrometheusTelemetry().task_completed("ticket-processing", 0.01)
""")
SCRAPE = textwrap.dedent("""
    import os
    from pflow.adapters import metrics
    body, _ = metrics.scrape(None)
    print(body.decode())
""")


def run(code: str, directory) -> str:
    env = {"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                            cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_several_processes_add_up_in_multiprocess_mode(tmp_path):
    directory = tmp_path / "not" / "there" / "yet"  # `pflow worker` with the variable set must not fail
    run(COUNT.format(n=3), directory)
    run(COUNT.format(n=2), directory)
    assert directory.is_dir() and any(directory.iterdir())
    text = run(SCRAPE, directory)
    found = {(s.name, frozenset(s.labels.items())): s.value
             for f in text_string_to_metric_families(text) for s in f.samples}
    assert found[("pflow_relay_published_total", frozenset())] == 5
    assert found[("pflow_worker_tasks_completed_total", frozenset({("topic", "ticket-processing")}))] == 2
    # only the files' metrics: this scraping process's own (gc, platform) are not mixed in
    assert not any(name.startswith("python_gc") for name, _ in found)


def test_child_exit_marks_the_worker_dead(tmp_path):
    code = textwrap.dedent("""
        import os
        from types import SimpleNamespace
        from pflow.adapters import metrics
        metrics.child_exit(None, SimpleNamespace(pid=os.getpid()))
        print("ok")
    """)
    assert run(code, tmp_path / "m").strip() == "ok"
