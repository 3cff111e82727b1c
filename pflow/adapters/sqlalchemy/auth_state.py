"""Login state in the database, so lockouts and revocations hold across every API process."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from pflow.adapters.database.errors import translated_method as _translated
from pflow.adapters.sqlalchemy.tables import login_attempts, token_generations
from pflow.ports.auth_state import AttemptState, AuthStateStore, LoginPolicy, after_failure



class SqlAlchemyAuthState(AuthStateStore):
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    @_translated
    def record_failure(self, key: str, now: datetime, policy: LoginPolicy) -> AttemptState:
        for attempt in range(3):  # two processes inserting the first failure at once: one retries as an update
            try:
                with self._engine.begin() as conn:
                    # write first: takes SQLite's writer lock (PostgreSQL: the row lock) before the read, so
                    # two processes counting at once do not both read the old count
                    conn.execute(login_attempts.update().where(login_attempts.c.key == key)
                                 .values(failures=login_attempts.c.failures))
                    row = conn.execute(sa.select(login_attempts).where(login_attempts.c.key == key)
                                       .with_for_update()).first()
                    old = AttemptState(row.failures, row.window_start, row.locked_until) if row else None
                    new = after_failure(old, now, policy)
                    values = dict(failures=new.failures, window_start=new.window_start, locked_until=new.locked_until)
                    if row is None:
                        conn.execute(login_attempts.insert().values(key=key, **values))
                    else:
                        conn.execute(login_attempts.update().where(login_attempts.c.key == key).values(**values))
                    return new
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @_translated
    def locked_until(self, key: str, now: datetime) -> datetime | None:
        with self._engine.connect() as conn:
            until = conn.execute(sa.select(login_attempts.c.locked_until)
                                 .where(login_attempts.c.key == key)).scalar()
        return until if until is not None and until > now else None

    @_translated
    def clear(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(login_attempts.delete().where(login_attempts.c.key == key))

    @_translated
    def token_generation(self, username: str) -> int:
        with self._engine.connect() as conn:
            value = conn.execute(sa.select(token_generations.c.generation)
                                 .where(token_generations.c.username == username)).scalar()
        return value or 0

    @_translated
    def bump_token_generation(self, username: str) -> int:
        for attempt in range(3):
            try:
                with self._engine.begin() as conn:
                    done = conn.execute(token_generations.update()
                                        .where(token_generations.c.username == username)
                                        .values(generation=token_generations.c.generation + 1))
                    if done.rowcount == 0:
                        conn.execute(token_generations.insert().values(username=username, generation=1))
                    return conn.execute(sa.select(token_generations.c.generation)
                                        .where(token_generations.c.username == username)).scalar_one()
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
