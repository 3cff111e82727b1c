"""The in-memory process engine: the embedded engine's own logic on a private in-memory SQLite.

It is not a second interpreter: BPMN is read by the shared reader and run by SpiffWorkflow with the
same JUEL-subset evaluator and the same task, lock, retry and incident rules as the embedded engine,
so a model that runs here runs there (and the contract suite holds both to Camunda's behaviour). The
state lives in one SQLite database in memory, private to this object and gone with it.

``available = False`` makes every call raise ``EngineUnavailable``, so tests can simulate an outage
of the engine while the ticket store answers.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.pool import StaticPool

from pflow.adapters.spiff import tables
from pflow.adapters.spiff.engine import SpiffWorkflowEngine
from pflow.adapters.database.engine import SqliteWriterLock
from pflow.domain.errors import EngineUnavailable


def _memory_database():
    # One connection shared by all threads (StaticPool), so every call sees the same database; the
    # engine below lets one call at a time use it.
    db = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})

    @event.listens_for(db, "connect")
    def _pragmas(dbapi_connection, _record):  # pragma: no cover - runs once per engine
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    tables.create_schema(db)
    return db


class InMemoryWorkflowEngine(SpiffWorkflowEngine):
    """The process ports, held in memory; fast enough for unit tests, same semantics as the embedded engine."""

    name = "in-memory engine"

    def __init__(self, clock: Callable[[], float] = time.time, **options) -> None:
        db = _memory_database()
        # A private writer lock, so engines of one test process do not queue behind each other.
        super().__init__(db, clock=clock, listen=False, write_lock=SqliteWriterLock("in-memory engine"), **options)
        # The shared connection cannot hold two transactions: calls take turns (waits for tasks happen
        # outside it).
        self._call_lock = threading.RLock()
        self.available = True  # tests flip this to simulate an outage

    def _ensure(self) -> None:
        if not self.available:
            raise EngineUnavailable(self.name, "the in-memory engine is switched off")

    @contextmanager
    def _write(self, *, automated: bool = False) -> Iterator:
        self._ensure()
        with self._call_lock, super()._write(automated=automated) as tx:
            yield tx

    @contextmanager
    def _read(self, *, snapshot: bool = True) -> Iterator:
        self._ensure()
        with self._call_lock, super()._read(snapshot=snapshot) as conn:
            yield conn

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        self._db.dispose()
