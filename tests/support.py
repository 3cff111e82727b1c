"""Test support shared by every suite: users, stacks of adapters, service gating."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from dependency_injector import providers
from werkzeug.security import generate_password_hash

from pflow.adapters.users import ConfiguredUserDirectory
from pflow.config import REPO_ROOT, Settings
from pflow.container import Container, build_container, migrate_database, shutdown

BPMN = REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn"
WORKFLOWS = REPO_ROOT / "deploy" / "workflows"
TEST_PROCESSES = Path(__file__).parent / "bdd" / "processes"
REQUIRE_SERVICES = os.environ.get("PFLOW_REQUIRE_SERVICES") == "1"

# Cheap hashes: these users exist only in tests.
_TEST_USERS = [
    ("alice", "Alice", ["requester"], []),
    ("erin", "Erin", ["requester"], []),
    ("bob", "Bob", ["manager"], ["managers"]),
    ("dave", "Dave", ["manager"], ["managers"]),
    ("frank", "Frank", [], ["managers", "finance"]),  # in two groups: four eyes across levels
    ("fiona", "Fiona", [], ["finance"]),
    ("sam", "Sam", [], ["security"]),
    ("pat", "Pat", [], ["legal"]),
    ("lena", "Lena", [], ["leads"]),
    ("carol", "Carol", ["admin"], []),
]
TEST_USERS = ConfiguredUserDirectory(
    {"username": u, "display_name": n, "roles": r, "groups": g, "email": f"{u}@example.com",
     "language": "zh" if u in ("dave", "lena") else "en",
     "password_hash": generate_password_hash(u, "pbkdf2:sha256:1000")}
    for u, n, r, g in _TEST_USERS
)


def test_workflows(folder: Path) -> Path:
    """The shipped processes and types plus the test processes (tests/bdd/processes), in one folder."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for source in (WORKFLOWS, TEST_PROCESSES):
        for path in source.iterdir():
            if path.suffix in (".bpmn", ".yaml"):
                shutil.copy(path, folder / path.name)
    return folder


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
    base = dict(secret_key="test-secret-0123456789-abcdefghijklmnopqrstuvwxyz", data_dir=tmp_path, workflows_dir=test_workflows(tmp_path / "workflows"),
                ui_dir=tmp_path / "no-ui",
                worker_retry_backoff_ms=50, worker_id=f"test-worker-{kind}")
    stores = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'pflow.db'}"}
    if kind in ("memory", "sqlite", "postgres"):
        values = dict(workflow_engine="memory", database_url=stores[kind] if kind in stores else pg_url(),
                      rabbitmq_url="memory://", **base)
        return Settings(**{**values, **overrides})
    if kind == "embedded":  # the embedded default: SpiffWorkflow and tickets in one SQLite file
        values = dict(workflow_engine="embedded", database_url=stores["sqlite"], rabbitmq_url="memory://", **base)
        return Settings(**{**values, **overrides})
    if kind == "camunda":  # Camunda over REST, tickets in SQLite
        from tests.camunda import stack as camunda

        return camunda.settings(base, {"database_url": stores["sqlite"], **overrides})
    raise ValueError(f"unknown adapter set {kind!r}")


# Adapter sets the BDD features and API tests run on; marks say what each needs.
STACKS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.integration),
    pytest.param("embedded", id="embedded"),
    pytest.param("camunda", id="camunda", marks=pytest.mark.camunda),
]
# Stacks whose engine can be down while the ticket store answers (the embedded engine lives in
# the tickets' own database, so it is down exactly when the database is).
SEPARATE_ENGINE_STACKS = [s for s in STACKS if s.values[0] in ("memory", "sqlite", "postgres", "camunda")]


def prepare_stack(kind: str) -> None:
    """Check that what an adapter set needs is running (skip or fail otherwise)."""
    if kind == "postgres":
        require_postgres()
        reset_postgres()
    if kind == "camunda":
        from tests.camunda.stack import require_camunda

        require_camunda()


class SteppedClock:
    """A clock standing still at ``start`` (epoch seconds) until a test moves it on."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MovableClock:
    """Real time plus an offset tests move forward, for the engines PFlow runs itself (their timers)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def now(self):
        from datetime import datetime, timezone

        return datetime.fromtimestamp(self(), timezone.utc)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Stack:
    kind: str
    container: Container
    settings: Settings
    clock: MovableClock | None = None

    def pass_time(self, seconds: float, business_key: str) -> None:
        """Let ``seconds`` go by for the instance of ``business_key``: the embedded engines' clock moves and
        their due timers fire; on Camunda, whose clock is its own, the instance's timer jobs due by then run
        now. Either way the ticket then follows its process."""
        self.clock.advance(seconds)
        if self.kind == "camunda":
            from tests.camunda.stack import run_due_timer_jobs

            run_due_timer_jobs(self.engine, business_key, self.clock.offset)
            self.tickets.sync(business_key)
            return
        self.container.timers().run_once()

    @property
    def tickets(self):
        return self.container.tickets()

    @property
    def engine(self):
        return self.container.workflow_engine()

    def worker(self):
        return self.container.worker()

    def take_engine_down(self) -> None:
        """The workflow engine stops answering (only for SEPARATE_ENGINE_STACKS)."""
        self.engine.available = False

    def bring_engine_back(self) -> None:
        self.engine.available = True

    def make_database_unreachable(self) -> None:
        """From now on the ticket store does not answer (memory: switched off; SQL: a closed port)."""
        if self.kind == "memory":
            self.container.memory_store().available = False
            return
        from sqlalchemy import create_engine

        dead = create_engine(f"postgresql+psycopg2://pflow:pflow@127.0.0.1:{free_port()}/pflow")
        self.container.sql_sessions().configure(bind=dead)

    def deliver_events(self, idle_timeout: float = 0.2) -> int:
        """Publish what the outbox holds and let the notification consumer handle it; returns how many it handled."""
        self.container.relay().drain()
        return self.container.notification_consumer().drain(idle_timeout)

    def close(self) -> None:
        shutdown(self.container)


def build_stack(kind: str, tmp_path: Path, **overrides) -> Stack:
    prepare_stack(kind)
    settings = settings_for(kind, tmp_path, **overrides)
    container = build_container(settings)
    container.users.override(TEST_USERS)
    clock = MovableClock()
    container.engine_clock.override(providers.Object(clock))  # the engines' timers
    container.clock.override(providers.Object(clock.now))  # due times, overdue steps, reminders
    migrate_database(container)
    if kind == "camunda":
        from tests.camunda.stack import install

        install(container, settings)  # through a proxy the test can cut (stack.engine.available = False)
    from pflow.entrypoints.runtime import deploy_processes

    deploy_processes(container)
    return Stack(kind, container, settings, clock)


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

def embedded_database_url(kind: str, tmp_path: Path) -> str:
    """A database for the embedded engine: a SQLite file in tmp_path, or the test PostgreSQL
    (its embedded-engine tables dropped and created again)."""
    if kind == "embedded":
        return f"sqlite:///{tmp_path / 'pflow-engine.db'}"
    if kind == "embedded-postgres":
        require_postgres()
        return pg_url()
    raise ValueError(f"unknown embedded engine database {kind!r}")


def make_embedded_engine(kind: str, tmp_path: Path, *, fresh: bool = True, **options):
    from pflow.adapters.spiff import SpiffWorkflowEngine, tables
    from pflow.adapters.database.engine import create_db_engine

    db = create_db_engine(embedded_database_url(kind, tmp_path))
    if kind == "embedded-postgres":
        if fresh:
            reset_postgres()
    else:
        tables.create_schema(db)
    engine = SpiffWorkflowEngine(db, **options)
    close = engine.close

    def close_both():
        close()
        db.dispose()

    engine.close = close_both
    return engine


def make_engine(kind: str, tmp_path: Path):
    """A fresh engine adapter of the given kind (not yet deployed)."""
    if kind == "memory":
        from pflow.adapters.memory.workflow import InMemoryWorkflowEngine

        return InMemoryWorkflowEngine()
    if kind in ("embedded", "embedded-postgres"):
        return make_embedded_engine(kind, tmp_path)
    if kind == "camunda":
        from pflow.adapters.camunda import CamundaWorkflowEngine
        from tests.camunda.stack import AUTH, require_camunda

        return CamundaWorkflowEngine(require_camunda(), auth=AUTH)
    raise ValueError(f"unknown engine {kind!r}")


def make_unreachable_engine(kind: str, tmp_path: Path):
    """An engine adapter whose engine does not answer."""
    if kind == "camunda":
        from pflow.adapters.camunda import CamundaWorkflowEngine

        return CamundaWorkflowEngine(f"http://127.0.0.1:{free_port()}/engine-rest")  # nothing listens there
    if kind == "embedded":
        from sqlalchemy import create_engine

        from pflow.adapters.spiff import SpiffWorkflowEngine

        # A database file under a path that is a regular file cannot be opened.
        (tmp_path / "not-a-dir").write_text("")
        return SpiffWorkflowEngine(create_engine(f"sqlite:///{tmp_path / 'not-a-dir' / 'engine.db'}"))
    if kind == "embedded-postgres":
        from sqlalchemy import create_engine

        from pflow.adapters.spiff import SpiffWorkflowEngine

        # Nothing listens on port 1.
        return SpiffWorkflowEngine(create_engine("postgresql+psycopg2://pflow:pflow@127.0.0.1:1/pflow",
                                                 connect_args={"connect_timeout": 2}))
    engine = make_engine(kind, tmp_path)
    engine.available = False
    return engine


ENGINES = [
    pytest.param("memory", id="memory"),
    pytest.param("embedded", id="embedded"),
    pytest.param("embedded-postgres", id="embedded-postgres", marks=pytest.mark.integration),
    pytest.param("camunda", id="camunda", marks=pytest.mark.camunda),
]


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


class SqlStoreHarness:
    """Units of work on a migrated SQLite file or PostgreSQL database; 'unreachable' points them at nothing."""

    def __init__(self, url: str, on_commit=None):
        from pflow.adapters.database.engine import create_db_engine
        from pflow.adapters.database.migrate import upgrade
        from pflow.adapters.sqlalchemy.session import build_session_factory

        self.engine = create_db_engine(url)
        upgrade(self.engine)
        self.session_factory = build_session_factory(self.engine)
        self.on_commit = on_commit
        self._dead_engine = None

    def uow(self):
        from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork

        return SqlAlchemyUnitOfWork(self.session_factory, self.on_commit)

    def make_unreachable(self):
        from pflow.adapters.database.engine import create_db_engine

        if self.engine.dialect.name == "sqlite":
            dead = f"sqlite:///{Path(self.engine.url.database).parent}/not-a-dir/x/pflow.db"
            Path(self.engine.url.database).parent.joinpath("not-a-dir").write_text("a file, so no database fits here")
            from sqlalchemy import create_engine

            self._dead_engine = create_engine(dead)
        else:
            self._dead_engine = create_db_engine(closed_port_url(self.engine.url.set(database="pflow_test")))
        self.session_factory.configure(bind=self._dead_engine)

    def close(self):
        for engine in (self.engine, self._dead_engine):
            if engine is not None:
                engine.dispose()


def closed_port_url(url) -> str:
    """The same database URL pointed at a local port nobody listens on."""
    return url.set(host="127.0.0.1", port=free_port()).render_as_string(hide_password=False)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PG_URL = os.environ.get("PFLOW_TEST_DATABASE_URL", "postgresql://pflow:pflow@localhost:5432/pflow_test")
RABBITMQ_URL = os.environ.get("PFLOW_TEST_RABBITMQ_URL", "amqp://guest:guest@localhost:5672/")
PG_HINT = "start it with `.ci/services.sh` (or set PFLOW_TEST_DATABASE_URL)"
RABBITMQ_HINT = "start it with `.ci/services.sh` (or set PFLOW_TEST_RABBITMQ_URL)"


def pg_url() -> str:
    from pflow.config import normalise_database_url

    return normalise_database_url(PG_URL)


def _probe_postgres() -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url(), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def require_postgres() -> None:
    require_service("PostgreSQL", _probe_postgres, PG_HINT)


def _probe_rabbitmq() -> None:
    from kombu import Connection

    with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
        connection.connect()


def require_rabbitmq() -> None:
    require_service("RabbitMQ", _probe_rabbitmq, RABBITMQ_HINT)


_pg_schema_rebuilt = False


def reset_postgres(rebuild: bool = False) -> None:
    """Empty every PFlow table in the test database, so each test starts clean. The first call
    in a test session (or ``rebuild``) rebuilds the schema from the migrations, whatever an
    earlier run or test left."""
    global _pg_schema_rebuilt
    from sqlalchemy import create_engine, text

    from pflow.adapters.spiff.tables import metadata as engine_metadata
    from pflow.adapters.database.migrate import upgrade
    from pflow.adapters.sqlalchemy.tables import metadata

    engine = create_engine(pg_url())
    try:
        if rebuild or not _pg_schema_rebuilt:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            upgrade(engine)
            _pg_schema_rebuilt = True
        names = ", ".join(sorted(set(metadata.tables) | set(engine_metadata.tables)))
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {names} CASCADE"))
    finally:
        engine.dispose()


def make_store(kind: str, tmp_path: Path, on_commit=None):
    if kind == "memory":
        return MemoryStoreHarness(on_commit)
    if kind == "sqlite":
        return SqlStoreHarness(f"sqlite:///{tmp_path / 'pflow.db'}", on_commit)
    if kind == "postgres":
        require_postgres()
        reset_postgres()
        return SqlStoreHarness(pg_url(), on_commit)
    raise ValueError(f"unknown store {kind!r}")


STORES = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.integration),
]


# --- event buses for the event-bus contract suite ------------------------------------------

class BusHarness:
    """A publisher and consumers on one queue; ``unreachable_publisher()`` gives one whose broker is down."""

    def __init__(self, kind: str, tmp_path: Path):
        import uuid

        self.kind = kind
        self.tmp_path = tmp_path
        suffix = uuid.uuid4().hex[:8]
        self.exchange, self.queue = f"test.ticket.events.{suffix}", f"test.ticket.events.queue.{suffix}"
        if kind == "memory":
            from pflow.adapters.memory.events import InMemoryEventPublisher

            self.url = "memory://"
            self.publisher = InMemoryEventPublisher()
        else:
            from pflow.adapters.kombu.bus import KombuEventPublisher

            self.url = {"kombu-memory": "memory://", "local": f"sqla+sqlite:///{tmp_path / 'events.db'}",
                        "rabbitmq": RABBITMQ_URL}[kind]
            self.publisher = KombuEventPublisher(self.url, self.exchange, self.queue)
        self._consumers = []

    def consumer(self, url: str | None = None):
        if self.kind == "memory":
            from pflow.adapters.memory.events import InMemoryEventConsumer

            consumer = InMemoryEventConsumer(self.publisher)
        else:
            from pflow.adapters.kombu.bus import KombuEventConsumer

            consumer = KombuEventConsumer(url or self.url, self.exchange, self.queue, max_backoff_s=1.0)
        self._consumers.append(consumer)
        return consumer

    def unreachable_publisher(self):
        if self.kind == "memory":
            from pflow.adapters.memory.events import InMemoryEventPublisher

            publisher = InMemoryEventPublisher()
            publisher.available = False
            return publisher
        from pflow.adapters.kombu.bus import KombuEventPublisher

        if self.kind == "local":
            blocker = self.tmp_path / "a-file"
            blocker.write_text("not a folder")
            return KombuEventPublisher(f"sqla+sqlite:///{blocker}/events.db", self.exchange, self.queue)
        if self.kind == "rabbitmq":
            return KombuEventPublisher(f"amqp://guest:secret@127.0.0.1:{free_port()}/", self.exchange, self.queue)
        raise ValueError(f"the {self.kind} transport cannot be down")

    def close(self):
        self.publisher.close()
        for consumer in self._consumers:
            consumer.close()
        if self.kind == "rabbitmq":
            delete_rabbitmq_topology(self.exchange, self.queue)


def delete_rabbitmq_topology(exchange: str, queue: str) -> None:
    from kombu import Connection

    with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
        channel = connection.channel()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)


def make_bus(kind: str, tmp_path: Path) -> BusHarness:
    if kind == "rabbitmq":
        require_rabbitmq()
    return BusHarness(kind, tmp_path)


BUSES = [
    pytest.param("memory", id="memory"),
    pytest.param("kombu-memory", id="kombu-memory"),
    pytest.param("local", id="local"),
    pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.integration),
]
# Transports that can be unreachable (kombu's in-process transport cannot).
BUSES_THAT_CAN_BE_DOWN = [b for b in BUSES if b.values[0] != "kombu-memory"]


# --- real processes --------------------------------------------------------------------------

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
