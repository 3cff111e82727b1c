"""Schema migrations (Alembic), configured in code: no alembic.ini is looked up from the
current directory, so `pflow migrate` works from anywhere and from an installed package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from pflow.adapters.database.errors import describe, translated

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not at the revision this code needs."""


def alembic_config(engine: Engine, metadata=None) -> Config:
    """Alembic's configuration on ``engine``; ``metadata`` (a MetaData or a list of them) only for
    comparing or autogenerating, e.g. the ticket store's and the embedded engine's tables."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    if metadata is not None:
        config.attributes["metadata"] = metadata
    return config


def head_revision() -> str:
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:  # pragma: no cover - a broken migration chain is a packaging bug
        raise RuntimeError(f"the migration chain must have exactly one head, found {heads}")
    return heads[0]


def _guarded(engine: Engine, action):
    with translated(engine.url):
        return action()


def current_revision(engine: Engine) -> str | None:
    def read():
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    return _guarded(engine, read)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Upgrade the schema; returns (revision before, revision after)."""
    before = current_revision(engine)
    _guarded(engine, lambda: command.upgrade(alembic_config(engine), revision))
    return before, current_revision(engine) or ""


def ensure_current(engine: Engine) -> None:
    """Raise ``SchemaNotCurrent`` telling to run `pflow migrate` unless the schema is at head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        state = "has no PFlow tables yet" if current is None else f"is at revision {current}, not {head}"
        raise SchemaNotCurrent(f"{describe(engine.url)} {state}: run `pflow migrate` (with the same DATABASE_URL) "
                               "before starting PFlow.")
