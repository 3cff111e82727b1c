"""Test support shared by every suite: users, stacks of adapters, service gating."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from werkzeug.security import generate_password_hash

from pflow.adapters.users import ConfiguredUserDirectory
from pflow.config import REPO_ROOT, Settings
from pflow.container import Container, build_container, shutdown

BPMN = REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn"
REQUIRE_SERVICES = os.environ.get("PFLOW_REQUIRE_SERVICES") == "1"

# Cheap hashes: these users exist only in tests.
_TEST_USERS = [
    ("alice", "Alice", ["requester"]),
    ("erin", "Erin", ["requester"]),
    ("bob", "Bob", ["manager"]),
    ("dave", "Dave", ["manager"]),
    ("carol", "Carol", ["admin"]),
]
TEST_USERS = ConfiguredUserDirectory(
    {"username": u, "display_name": n, "roles": r, "password_hash": generate_password_hash(u, "pbkdf2:sha256:1000")}
    for u, n, r in _TEST_USERS
)


def require_service(name: str, probe: Callable[[], object], hint: str) -> None:
    """Skip (printing why) when a real service is unreachable; under PFLOW_REQUIRE_SERVICES=1, fail instead."""
    try:
        probe()
    except Exception as exc:  # any failure to reach it counts as unreachable
        reason = f"{name} is not reachable ({type(exc).__name__}: {exc}); {hint}"
        if REQUIRE_SERVICES:
            pytest.fail(f"PFLOW_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
        print(f"\nSKIP: {reason}")
        pytest.skip(reason)


def settings_for(kind: str, tmp_path: Path, **overrides) -> Settings:
    """Settings for a named adapter set. New adapter sets are added here (and to STACKS)."""
    base = dict(secret_key="test-secret", data_dir=tmp_path, bpmn_file=BPMN, ui_dir=tmp_path / "no-ui",
                worker_retry_backoff_ms=50, worker_id=f"test-worker-{kind}")
    if kind == "memory":
        return Settings(workflow_engine="memory", database_url="memory://", rabbitmq_url="memory://",
                        **{**base, **overrides})
    if kind == "camunda":
        from tests.camunda import stack as camunda

        return camunda.settings(base, overrides)
    raise ValueError(f"unknown adapter set {kind!r}")


# Adapter sets the BDD features and API tests run on; marks say what each needs.
STACKS = [pytest.param("memory", id="memory"),
          pytest.param("camunda", id="camunda", marks=pytest.mark.camunda)]


def prepare_stack(kind: str) -> None:
    """Check that what an adapter set needs is running (skip or fail otherwise)."""
    if kind == "camunda":
        from tests.camunda.stack import require_camunda

        require_camunda()


@dataclass
class Stack:
    kind: str
    container: Container
    settings: Settings

    @property
    def tickets(self):
        return self.container.tickets()

    @property
    def engine(self):
        return self.container.workflow_engine()

    def worker(self):
        return self.container.worker()

    def close(self) -> None:
        shutdown(self.container)


def build_stack(kind: str, tmp_path: Path, **overrides) -> Stack:
    prepare_stack(kind)
    settings = settings_for(kind, tmp_path, **overrides)
    container = build_container(settings)
    container.users.override(TEST_USERS)
    if kind == "camunda":
        from tests.camunda.stack import install

        install(container, settings)  # through a proxy the test can cut (stack.engine.available = False)
    container.workflow_engine().deploy(settings.bpmn_file)
    return Stack(kind, container, settings)


def wait_until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.02, message: str = ""):
    """Poll until ``predicate()`` is truthy; return its value or fail with ``message``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)


# --- workflow engines for the port's contract suite -------------------------------------------

def make_engine(kind: str, tmp_path: Path):
    """A fresh engine adapter of the given kind (not yet deployed)."""
    if kind == "memory":
        from pflow.adapters.memory.workflow import InMemoryWorkflowEngine

        return InMemoryWorkflowEngine()
    if kind == "camunda":
        from pflow.adapters.camunda import CamundaWorkflowEngine
        from tests.camunda.stack import require_camunda

        return CamundaWorkflowEngine(require_camunda())
    raise ValueError(f"unknown engine {kind!r}")


def make_unreachable_engine(kind: str, tmp_path: Path):
    """An engine adapter whose engine does not answer."""
    if kind == "camunda":
        from pflow.adapters.camunda import CamundaWorkflowEngine

        return CamundaWorkflowEngine(f"http://127.0.0.1:{free_port()}/engine-rest")  # nothing listens there
    engine = make_engine(kind, tmp_path)
    engine.available = False
    return engine


ENGINES = [pytest.param("memory", id="memory"),
           pytest.param("camunda", id="camunda", marks=pytest.mark.camunda)]


# --- ticket stores for the repository contract suite ---------------------------------------

class MemoryStoreHarness:
    """Gives units of work on one shared store, and can make the store 'unreachable'."""

    def __init__(self, on_commit=None):
        from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork

        self.store = InMemoryStore()
        self._uow = InMemoryUnitOfWork
        self.on_commit = on_commit

    def uow(self):
        return self._uow(self.store, self.on_commit)

    def make_unreachable(self):
        self.store.available = False

    def close(self):
        pass


def make_store(kind: str, tmp_path: Path, on_commit=None):
    if kind == "memory":
        return MemoryStoreHarness(on_commit)
    raise ValueError(f"unknown store {kind!r}")


STORES = [pytest.param("memory", id="memory")]


# --- real processes --------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedPFlow:
    """`pflow serve` as a child process on a free port, as a user would start it."""

    def __init__(self, env: dict[str, str], port: int):
        import subprocess
        import sys

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pflow.entrypoints.cli", "serve"],
            env={**os.environ, **env, "API_HTTP_PORT": f"127.0.0.1:{port}"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, timeout: float = 30.0) -> None:
        import requests

        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"pflow serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                return requests.get(self.url + "/healthz", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(up, timeout=timeout, interval=0.1, message="pflow serve did not come up")

    def stop(self, timeout: float = 20.0) -> int:
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def output(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stdout.read() if self.process.stdout else ""
