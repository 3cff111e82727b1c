"""Teams add their own external-task handlers: PFLOW_TASK_HANDLERS and the pflow.task_handlers entry points."""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time

import pytest

from pflow.config import REPO_ROOT, ConfigError, Settings
from pflow.container import build_container, shutdown
from pflow.runtime import handlers as handler_loading
from pflow.runtime.handlers import load_task_handlers, parse_handler_spec

PROVISIONING_TOPIC = Settings().provisioning_topic


class AuditHandler:
    topic = "ticket-audit"

    def __init__(self, container=None):
        self.container = container

    def handle(self, task):
        return {"audited": True}


def audit_factory(container):
    return AuditHandler(container)


def two_factory(container):
    class Mail:
        topic = "mail"

        def handle(self, task):
            return None

    return [Mail(), AuditHandler(container)]


def clashing_factory(container):
    class Clash:
        topic = PROVISIONING_TOPIC

        def handle(self, task):
            return None

    return Clash()


def nothing_factory(container):
    return None


def topicless_factory(container):
    return object()


NAME = __name__


def test_parse_handler_spec():
    assert parse_handler_spec(None) == []
    assert parse_handler_spec(" a.b:f , c:g.h ,") == ["a.b:f", "c:g.h"]
    with pytest.raises(ConfigError) as err:
        parse_handler_spec("a.b.f")
    assert "PFLOW_TASK_HANDLERS" in str(err.value) and "'a.b.f'" in str(err.value)


def test_factories_get_the_container_and_add_topics():
    container = object()
    builtin = [AuditHandler()]
    builtin[0].topic = PROVISIONING_TOPIC
    loaded = load_task_handlers(container, builtin, f"{NAME}:two_factory", entry_points=False)
    assert [h.topic for h in loaded] == [PROVISIONING_TOPIC, "mail", "ticket-audit"]
    assert loaded[2].container is container


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:factory", "cannot import 'no_such_module_xyz'"),
    (f"{NAME}:missing", f"{NAME!r} has no 'missing'"),
    (f"{NAME}:NAME", "is not callable"),
    (f"{NAME}:clashing_factory", "two handlers for topic 'ticket-processing': from PFlow (built in) and from "
                                 f"PFLOW_TASK_HANDLERS entry '{NAME}:clashing_factory'"),
    (f"{NAME}:nothing_factory", "returned no handler"),
    (f"{NAME}:topicless_factory", "which has no topic"),
])
def test_bad_handler_configuration_is_refused_clearly(spec, message):
    builtin = [AuditHandler()]
    builtin[0].topic = PROVISIONING_TOPIC
    with pytest.raises(ConfigError) as err:
        load_task_handlers(object(), builtin, spec, entry_points=False)
    assert message in str(err.value)


def test_entry_points_are_loaded(monkeypatch):
    ep = importlib.metadata.EntryPoint(name="audit", value=f"{NAME}:audit_factory", group="pflow.task_handlers")
    monkeypatch.setattr(handler_loading.importlib.metadata, "entry_points",
                        lambda group: [ep] if group == "pflow.task_handlers" else [])
    loaded = load_task_handlers("container", [], None)
    assert [h.topic for h in loaded] == ["ticket-audit"] and loaded[0].container == "container"


def test_the_container_s_worker_runs_the_configured_handlers(tmp_path):
    settings = Settings(data_dir=tmp_path, task_handlers=f"{NAME}:audit_factory")
    container = build_container(settings)
    try:
        worker = container.worker()
        assert worker.topics == ["ticket-audit", PROVISIONING_TOPIC]
        audit = worker._handlers["ticket-audit"]
        assert audit.container is container  # so it can reach container.tickets(), the engine, settings…
    finally:
        shutdown(container)


def test_settings_read_pflow_task_handlers():
    assert Settings.from_env({"PFLOW_TASK_HANDLERS": "a.b:c"}).task_handlers == "a.b:c"
    assert Settings.from_env({}).task_handlers is None


def test_pflow_worker_stops_cleanly_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WORKFLOW_ENGINE": "memory",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'pflow.db'}", "RABBITMQ_URL": "memory://", "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_TASK_HANDLERS": f"{NAME}:audit_factory"}
    proc = subprocess.Popen([sys.executable, "-m", "pflow.entrypoints.cli", "worker"], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = []
        while not any("polling" in line for line in seen):
            line = proc.stdout.readline()
            assert line, "".join(seen)
            seen.append(line)
        assert "polling ticket-audit, ticket-processing on the memory engine" in seen[-1]
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "SIGTERM: stopping the worker" in output and "stopped (0 done, 0 failed, 0 released)" in output
