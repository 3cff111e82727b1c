"""Alembic environment: runs on the engine PFlow hands over in ``config.attributes["engine"]``."""

from alembic import context

from pflow.adapters.spiff.tables import metadata as engine_metadata
from pflow.adapters.sqlalchemy.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=[metadata, engine_metadata],  # tickets and the embedded engine's state
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
