"""Creating the SQLAlchemy engine both the ticket store and the embedded workflow engine use."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url``. SQLite files get WAL mode, foreign keys and a busy timeout so
    several threads of one process can share them; their folder is created if missing."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError:
                pass  # connecting fails next, and the unit of work names the file and what to check
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every sqlite test
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10,
                         connect_args=connect_args)


_sqlite_writers: dict[str, threading.RLock] = {}
_sqlite_writers_guard = threading.Lock()


def sqlite_writer_lock(db: Engine) -> threading.RLock | None:
    """One lock per SQLite file, shared by every writer in this process: the ticket store's units of
    work and the embedded engine's transactions. None for other databases.

    SQLite lets one transaction write at a time; a second writer that finds the file locked polls
    with sleeps of up to 100 ms, which under a few concurrent requests turns into p99 latencies of
    a second. Writers queued on this lock get the file the moment the previous transaction ends.
    Re-entrant, so a thread that already writes is never blocked by its own lock.
    (PostgreSQL locks rows itself: no lock there.)
    """
    if db.dialect.name != "sqlite":
        return None
    key = str(db.url.database)
    with _sqlite_writers_guard:
        return _sqlite_writers.setdefault(key, threading.RLock())
