"""Fixtures of the fault suite: private PostgreSQL and RabbitMQ (once per session, only when a
production scenario asks for them), and a way to freeze the workflow engine."""

from __future__ import annotations

import os
import atexit
import signal
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest

from tests.support import require_service

_startup: dict[str, float] = {}


@pytest.fixture(scope="session")
def private_postgres():
    from tests.faults.services import PG_HINT, PrivatePostgres

    holder: dict = {}

    def start():
        holder["pg"] = PrivatePostgres()
        holder["pg"].start_cluster()

    require_service("a private PostgreSQL cluster", start, PG_HINT)
    pg = holder["pg"]
    _startup["PostgreSQL (initdb + start)"] = pg.startup_s
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def private_rabbitmq():
    from tests.faults.services import RABBITMQ_HINT, PrivateRabbitMQ

    holder: dict = {}

    def start():
        holder["mq"] = PrivateRabbitMQ()
        try:
            holder["mq"].start_node()
        except Exception:
            holder["mq"].close()
            raise

    require_service("a private RabbitMQ node", start, RABBITMQ_HINT)
    mq = holder["mq"]
    _startup["RabbitMQ (node start)"] = mq.startup_s
    yield mq
    mq.close()


def pytest_terminal_summary(terminalreporter):
    if _startup:
        costs = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in _startup.items())
        terminalreporter.write_line(f"fault suite: private services started in {costs}")


class EngineFreezer:
    """Freezes Camunda for a while. With ``PFLOW_FAULTS_ENGINE_PID`` (CI, where the run owns the
    engine process) the JVM gets SIGSTOP/SIGCONT; otherwise the proxy in front of it stops passing
    bytes, so an engine other people's tests share is never frozen."""

    def __init__(self, proxy) -> None:
        self.proxy = proxy
        pid = os.environ.get("PFLOW_FAULTS_ENGINE_PID", "").strip()
        self.pid = int(pid) if pid.isdigit() else None
        self.method = "SIGSTOP" if self.pid else "proxy"

    @contextmanager
    def frozen(self) -> Iterator[None]:
        if self.pid:
            # Whatever happens to this test run, the engine must not stay stopped.
            atexit.register(self._resume)
            os.kill(self.pid, signal.SIGSTOP)
        else:
            self.proxy.freeze()
        try:
            yield
        finally:
            if self.pid:
                self._resume()
                atexit.unregister(self._resume)
            else:
                self.proxy.thaw()

    def _resume(self) -> None:
        try:
            os.kill(self.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass


@pytest.fixture
def camunda_proxy():
    """The shared Camunda behind a proxy of this test's own (cut/freeze it without touching others)."""
    from urllib.parse import urlsplit

    from tests.camunda import stack as camunda
    from tests.tcp_proxy import TcpProxy

    url = camunda.require_camunda()
    target = urlsplit(url)
    proxy = TcpProxy(target.hostname or "localhost", target.port or 80)
    yield proxy, proxy.url_for(url)
    proxy.close()
    camunda.cancel_running(",".join(camunda.session_process_keys()))


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]

