"""The database every SQL adapter shares: creating the SQLAlchemy engine (pools, SQLite pragmas), the
SQLite file's writer lock, turning database errors into the domain's, and the schema migrations.

The ticket store (``adapters/sqlalchemy``), the embedded engine (``adapters/spiff``) and the local
event transport (``adapters/kombu``) each import from here and never from one another.
"""
