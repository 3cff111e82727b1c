"""Turning database errors into the domain's errors, with messages that say what to do.

Messages name the database by host, port and name (or the SQLite file), never by the
full URL, so a password in DATABASE_URL cannot leak into a response or a log.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Iterator

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL
from sqlalchemy.orm.exc import StaleDataError

from pflow.domain.errors import ConcurrencyConflict, DomainError, ServiceUnavailable

# PostgreSQL SQLSTATEs that mean "lost a race, try again" rather than "the database is gone".
_RETRYABLE_PGCODES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


def describe(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return f"the SQLite database at {url.database or ':memory:'}"
    return f"the database at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def hint(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return "check that its folder exists and is writable, or set DATABASE_URL"
    return ("start PostgreSQL (e.g. `pg_ctlcluster 15 main start`, or `.ci/services.sh` on a dev machine) "
            "or fix DATABASE_URL")


def _reason(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    text = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {text[0] if text else ''}".rstrip(": ")


def unavailable(url: URL, error: BaseException) -> ServiceUnavailable:
    # Where the database is and how to start it are for the log; an API client only learns what is down.
    return ServiceUnavailable(
        "database", f"{describe(url)} is unreachable ({_reason(error)}); {hint(url)}.",
        public_message="The database is unavailable; try again in a moment.",
    )


def translate(error: BaseException, url: URL) -> DomainError | None:
    """The domain error for a database error, or None when it is a bug to let through."""
    if isinstance(error, DomainError):
        return error
    if isinstance(error, StaleDataError):
        return ConcurrencyConflict("The ticket was changed by someone else; reload and try again.",
                                   key="ticket.changed_meanwhile")
    if isinstance(error, sa_exc.IntegrityError):
        text = str(getattr(error, "orig", error))
        if "processed_events" in text:
            return ConcurrencyConflict("The event was already processed.")
        if "task_reminders" in text:
            return ConcurrencyConflict("The reminder was sent already (or its ticket is gone).")
        if "tickets" in text:
            return ConcurrencyConflict("A ticket with this id already exists.")
        if "notifications" in text:
            return ConcurrencyConflict("A notification with this id already exists.")
        return None
    if isinstance(error, sa_exc.DBAPIError):
        pgcode = getattr(getattr(error, "orig", None), "pgcode", None)
        if pgcode in _RETRYABLE_PGCODES:
            return ConcurrencyConflict("Someone else was changing the same data; try again.")
        if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or error.connection_invalidated:
            return unavailable(url, error)
        return None
    if isinstance(error, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return unavailable(url, error)
    return None


@contextlib.contextmanager
def translated(url: URL) -> Iterator[None]:
    """Database errors raised inside the block leave as the domain's errors (see ``translate``); any other
    error, and a database error that is a bug to let through, leaves as it was."""
    try:
        yield
    except Exception as exc:
        domain = translate(exc, url)
        if domain is None or domain is exc:
            raise
        raise domain from exc


def translated_method(method):
    """``translated`` around a method of an object that keeps its SQLAlchemy engine as ``self._engine``: a
    database that is down is ServiceUnavailable (503 naming the database), as for the ticket store."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with translated(self._engine.url):
            return method(self, *args, **kwargs)

    return wrapper
