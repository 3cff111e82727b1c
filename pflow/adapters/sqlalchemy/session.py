"""The session factory the units of work use (the composition root builds one per engine)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from pflow.adapters.sqlalchemy.orm import start_mappers
from pflow.adapters.sqlalchemy.repository import UnitOfWorkSession


def build_session_factory(engine: Engine) -> sessionmaker:
    start_mappers()
    # expire_on_commit=False: use cases return the tickets they committed, read after the session ends.
    return sessionmaker(bind=engine, class_=UnitOfWorkSession, expire_on_commit=False, autoflush=True)
