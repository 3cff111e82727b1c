"""Creating the SQLAlchemy engine both the ticket store and the embedded workflow engine use, and the
lock that queues the writers of one SQLite file."""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import QueuePool

from pflow.domain.errors import ServiceUnavailable

#: The longest a writer waits for a SQLite file: for the lock below, and in SQLite's busy handler for a
#: writer in another process (`pflow worker` on the same file). Write transactions take milliseconds, so a
#: wait this long means something is wrong; the request gets a 503 rather than holding its thread longer.
SQLITE_WRITE_WAIT_S = 10.0

#: Connections kept open per SQLite file. Checkouts beyond it open a new connection instead of waiting
#: (``max_overflow=-1``): a request holds its unit of work's connection while the embedded engine takes a
#: second one, so a bounded pool can be emptied by threads that each wait for their second connection.
#: Opening a SQLite connection costs well under a millisecond; the pool only saves that cost.
SQLITE_POOL_SIZE = 24


def create_private_dir(path: Path) -> None:
    """Make the folder ``path`` and any missing parents, each one it creates readable by its owner only (0700);
    a folder that exists already keeps its mode (it may be shared on purpose, like /tmp)."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        folder.chmod(0o700)


def create_private_file(path: Path) -> None:
    """Make an empty file (a SQLite database before its first connection) readable and writable by its owner
    only (0600), in a private folder; SQLite gives its -wal and -shm files the database file's mode. A file that
    exists already is left as it is."""
    create_private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return
    path.chmod(0o600)  # an odd umask may have taken the owner's own write bit


def create_db_engine(url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 10) -> Engine:
    """An engine for ``url``. SQLite files get WAL mode, foreign keys and a bounded busy timeout so
    several threads of one process can share them, and a pool that never makes a thread wait for a
    connection; the file and its folder are created if missing, owner-only (0600 and 0700): they hold every
    ticket, the login state and the events.

    For PostgreSQL, ``pool_size`` connections stay open and ``max_overflow`` more are opened at a peak: sized per
    process from its request threads (``Settings.database_pool_size``), so every process of a deployment
    together stays under the server's max_connections (docs/production-server.md)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        file_backed = bool(path) and path != ":memory:" and "mode=memory" not in path
        if file_backed:
            try:
                create_private_file(Path(path))
            except OSError:
                pass  # connecting fails next, and the unit of work names the file and what to check
        pool = dict(poolclass=QueuePool, pool_size=SQLITE_POOL_SIZE, max_overflow=-1) if file_backed else {}
        engine = create_engine(url, echo=echo, **pool,
                               connect_args={"check_same_thread": False, "timeout": SQLITE_WRITE_WAIT_S})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every sqlite test
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_WRITE_WAIT_S * 1000)}")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=pool_size,
                         max_overflow=max_overflow,
                         connect_args=connect_args)


class WriterLockMisuse(RuntimeError):
    """A thread asked for the writer lock it already holds, from another transaction: that transaction
    would wait for the file this thread itself keeps locked (a self-deadlock until SQLite's busy timeout)."""


class _Waiter:
    __slots__ = ("thread", "granted", "event")

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.granted = False
        self.event = threading.Event()


#: Precedence classes for ``SqliteWriterLock``: a higher one is served first, equal ones in arrival order.
#: PRECEDENCE is for the steps of a flow already under way (see the embedded engine and the unit of work),
#: so the automated part of a flow does not queue behind every new request.
NORMAL, PRECEDENCE = 0, 1


class SqliteWriterLock:
    """The writers of one SQLite file in this process take turns on this lock, handed from one to the next.

    SQLite lets one transaction write at a time, and a writer that finds the file taken polls with
    sleeps of up to 100 ms; under a few concurrent requests that turned into p99 latencies of a second.
    Here a writer waits on its own event and gets the file the moment the previous transaction ends,
    in order of arrival within its precedence class (``PRECEDENCE`` before ``NORMAL``).

    Not re-entrant: a thread that holds it and asks again would open a second write transaction on the
    same file, which waits for the first, its own (``WriterLockMisuse`` at once instead). A wait is bounded
    (``SQLITE_WRITE_WAIT_S``) and ends in ``ServiceUnavailable`` naming the file.
    """

    def __init__(self, name: str = "", wait_s: float = SQLITE_WRITE_WAIT_S) -> None:
        self.name = name
        self.wait_s = wait_s
        self._guard = threading.Lock()
        self._owner: int | None = None
        self._queue: list[tuple[int, int, _Waiter]] = []
        self._arrivals = itertools.count()
        self._steps = threading.local()
        self._units = threading.local()

    # --- the threading.Lock interface (acquire/release/locked/with), for callers and tests

    def acquire(self, blocking: bool = True, timeout: float = -1, *, precedence: int | None = None) -> bool:
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                raise WriterLockMisuse(
                    f"this thread already writes to the SQLite database at {self.name} in another transaction; "
                    "that transaction must end (commit or roll back) before the next one writes")
            if self._owner is None and not self._queue:
                self._owner = me
                return True
            if not blocking:
                return False
            waiter = _Waiter()
            entry = (-(precedence or NORMAL), next(self._arrivals), waiter)
            heapq.heappush(self._queue, entry)
        if waiter.event.wait(None if timeout is None or timeout < 0 else timeout):
            return True
        with self._guard:
            if waiter.granted:  # handed over just as the wait ended
                return True
            self._queue.remove(entry)
            heapq.heapify(self._queue)
            return False

    def release(self) -> None:
        with self._guard:
            if self._owner != threading.get_ident():
                raise RuntimeError("the SQLite writer lock is released by a thread that does not hold it")
            if self._queue:
                _, _, waiter = heapq.heappop(self._queue)
                self._owner = waiter.thread
                waiter.granted = True
                waiter.event.set()
            else:
                self._owner = None

    # --- flow steps: an engine transaction whose ticket must catch up

    def note_engine_step(self) -> None:
        """The embedded engine committed a step of a flow in this thread (a task completed, a process
        started): the ticket-store transaction that records the same step on the ticket follows."""
        self._steps.count = self.engine_steps() + 1

    def engine_steps(self) -> int:
        """How many engine steps this thread committed so far (compare two readings)."""
        return getattr(self._steps, "count", 0)

    # --- units of work: what waits for the thread's open ones to end

    def unit_entered(self) -> None:
        """A unit of work on this file began in this thread."""
        self._units.depth = getattr(self._units, "depth", 0) + 1

    def unit_left(self) -> None:
        """A unit of work of this thread ended; when it was the last one, run what waited for it."""
        depth = getattr(self._units, "depth", 0) - 1
        self._units.depth = max(depth, 0)
        if depth <= 0:
            waiting, self._units.after = getattr(self._units, "after", []), []
            for callback in waiting:
                try:
                    callback()
                except Exception:  # one failed callback must not keep the others from running
                    logging.getLogger(__name__).exception("a callback after the unit of work failed")

    def after_units(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` when this thread's open units of work on the file have ended. False (and
        nothing registered) when none is open: the caller acts at once."""
        if getattr(self._units, "depth", 0) <= 0:
            return False
        if not hasattr(self._units, "after"):
            self._units.after = []
        self._units.after.append(callback)
        return True

    def locked(self) -> bool:
        return self._owner is not None

    def held_by_current_thread(self) -> bool:
        return self._owner == threading.get_ident()

    def waiting(self) -> int:
        return len(self._queue)

    @contextmanager
    def holding(self, precedence: int | None = None) -> Iterator["SqliteWriterLock"]:
        self.take(precedence)
        try:
            yield self
        finally:
            self.release()

    def __enter__(self) -> "SqliteWriterLock":
        self.take()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    # --- what the writers use

    def take(self, precedence: int | None = None) -> None:
        """Acquire within ``wait_s``, or raise ``ServiceUnavailable`` saying the database is busy."""
        started = time.monotonic()
        if not self.acquire(timeout=self.wait_s, precedence=precedence):
            raise ServiceUnavailable(
                "database", f"the SQLite database at {self.name} is busy: another writer kept it for more than "
                f"{self.wait_s:g} s; try again in a moment",
                details={"database": f"SQLite database at {self.name}",
                         "waited_s": round(time.monotonic() - started, 3)})


_sqlite_writers: dict[str, SqliteWriterLock] = {}
_sqlite_writers_guard = threading.Lock()


def sqlite_writer_lock(db: Engine) -> SqliteWriterLock | None:
    """One lock per SQLite file, shared by every writer in this process: the ticket store's units of
    work and the embedded engine's transactions. None for other databases (PostgreSQL locks rows
    itself)."""
    if db.dialect.name != "sqlite":
        return None
    key = str(db.url.database)
    with _sqlite_writers_guard:
        lock = _sqlite_writers.get(key)
        if lock is None:
            lock = _sqlite_writers[key] = SqliteWriterLock(key)
        return lock
