"""The embedded engine's transactions on its database.

Every change to an instance is one read-modify-write transaction: PostgreSQL locks the rows
(``SELECT … FOR UPDATE``, ``SKIP LOCKED`` for fetches); SQLite runs ``BEGIN IMMEDIATE`` behind the
file's writer lock, shared with the ticket store and taken after the connection. Database errors
that mean "cannot reach the database" become ``EngineUnavailable`` naming the engine.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import Engine, func, select as sql_select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from pflow.adapters.database.engine import PRECEDENCE, SqliteWriterLock
from pflow.adapters.spiff.waiting import NOTIFY_CHANNEL, Waiters
from pflow.domain.errors import ConcurrencyConflict, EngineUnavailable

log = logging.getLogger(__name__)


@dataclass
class Tx:
    conn: Connection
    wake: bool = False  # a task became fetchable: wake waiting fetches after commit
    created: list[str] = field(default_factory=list)  # external tasks this transaction created


class Transactions:
    """Read and write transactions of one engine object (``name`` is the engine's, for messages)."""

    def __init__(self, db: Engine, name: str, waiters: Waiters, write_lock: SqliteWriterLock | None) -> None:
        self._db = db
        self._name = name
        self._waiters = waiters
        self.write_lock = write_lock
        self._sqlite = db.dialect.name == "sqlite"
        self._postgres = db.dialect.name == "postgresql"

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Translate database errors: unreachable or missing tables -> ``EngineUnavailable``; a lost
        deadlock or serialization race -> ``ConcurrencyConflict``; anything else stays as it is."""
        try:
            yield
        except IntegrityError:
            raise
        except DBAPIError as exc:
            orig = getattr(exc, "orig", None)
            text = str(orig if orig is not None else exc).strip()
            lowered = text.lower()
            name = self._name
            if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
                raise EngineUnavailable(name, f"the {name}'s tables are missing in the database "
                                              f"({text.splitlines()[0]}); run the database migrations first"
                                        ) from None
            if getattr(orig, "pgcode", None) in ("40001", "40P01"):
                raise ConcurrencyConflict(f"the {name} lost a race in the database; try again") from None
            if isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated:
                where = self._db.url.render_as_string(hide_password=True)
                first = text.splitlines()[0] if text else type(exc).__name__
                raise EngineUnavailable(name, f"the {name} cannot use its database ({where}): {first}") from None
            raise

    @contextmanager
    def write(self, *, automated: bool = False) -> Iterator[Tx]:
        """A read-modify-write transaction, serialized against other writers of the same rows.

        ``automated``: a step of the external-task side (fetch, complete, fail, extend, timers). On SQLite
        these go ahead of waiting request writers, so the automated part of a flow keeps pace with the
        approvals that feed it instead of queueing behind every request thread."""
        tx: Tx
        with self.guard():
            if self._sqlite:
                # The connection first, then the file's writer lock, as the ticket store's units of work do:
                # whoever holds the lock never waits for anything but the database itself.
                with self._db.connect() as raw, self.write_lock.holding(PRECEDENCE if automated else None):
                    conn = raw.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    tx = Tx(conn)
                    try:
                        yield tx
                    except BaseException:
                        try:
                            conn.exec_driver_sql("ROLLBACK")
                        except Exception:  # the original error matters more
                            log.debug("rollback failed", exc_info=True)
                        raise
                    conn.exec_driver_sql("COMMIT")
                    if tx.created and not automated and self._hold_until_units_end(tx.created):
                        tx.wake = False  # the end of the caller's unit of work wakes the fetchers
                if not automated:
                    self.write_lock.note_engine_step()
            else:
                with self._db.begin() as conn:
                    tx = Tx(conn)
                    yield tx
                    if tx.wake and self._postgres:
                        conn.execute(sql_select(func.pg_notify(NOTIFY_CHANNEL, "")))
        if tx.wake:
            self._waiters.wake()

    @contextmanager
    def read(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """A read-only transaction with one snapshot for all its statements (``snapshot=False``: for a
        single statement, which needs none)."""
        with self.guard():
            if not snapshot:
                with self._db.connect() as conn:
                    yield conn
                    conn.rollback()
            elif self._sqlite:
                with self._db.connect() as raw:
                    conn = raw.execution_options(isolation_level="AUTOCOMMIT")
                    conn.exec_driver_sql("BEGIN")
                    try:
                        yield conn
                    finally:
                        conn.exec_driver_sql("COMMIT")
            else:
                with self._db.connect() as raw:
                    conn = raw.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        yield conn

    def _hold_until_units_end(self, task_ids: list[str]) -> bool:
        """Keep this process's fetches off tasks that a caller's open unit of work is about to record on
        its ticket (the approval that created the provisioning task), until that unit of work ends.

        Otherwise the worker the task wakes reads the ticket before the approval's commit, and its own
        write then loses to it and costs the flow a retry. Called while the writer lock is still held,
        so no fetch of this process can see the tasks before they are held. Holds end after
        ``hold_s`` at the latest, should a caller never end its unit of work."""
        ids = tuple(task_ids)
        self._waiters.hold(ids)
        if self.write_lock.after_units(lambda: self._waiters.release(ids)):
            return True
        self._waiters.release(ids, wake=False)
        return False
