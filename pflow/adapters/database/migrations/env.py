"""Alembic environment: runs on the engine PFlow hands over in ``config.attributes["engine"]``.

The tables' definitions stay with the adapters that own them; whoever compares or autogenerates
passes them in ``config.attributes["metadata"]`` (``pflow.adapters.database.migrate.schema_metadata``),
so the migrations import no adapter.
"""

from alembic import context

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=context.config.attributes.get("metadata"),
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
