"""SQLAlchemy 2 adapters: one code path for SQLite (embedded default) and PostgreSQL."""
