"""In-memory adapters: real implementations of every port, kept in one process.

Used by the fast tests and by ``WORKFLOW_ENGINE=memory``. They keep the same
contracts as the database, broker and engine adapters (tests/contract).
"""
