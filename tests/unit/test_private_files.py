"""The embedded default keeps every ticket, the login state, the events and the signing key under its data dir:
the folders it creates there are its owner's only (0700), and so are the files (0600), whatever the umask."""

from __future__ import annotations

import os
import stat

import pytest

from pflow.adapters.database.engine import create_db_engine
from pflow.config import Settings
from pflow.container import build_container, prepare_database, shutdown
from pflow.entrypoints.http import create_app


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """The usual umask (022), which leaves new files readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_data_dir_the_database_the_event_store_and_the_key_are_owner_only(tmp_path, open_umask):
    data = tmp_path / "srv" / "var"
    settings = Settings.from_env({"PFLOW_DATA_DIR": str(data)})
    assert settings.is_embedded_default
    container = build_container(settings)
    try:
        prepare_database(container)
        container.event_publisher().check()
        create_app(container)  # generates the signing key
        files = {p.name: mode(p) for p in data.iterdir() if p.is_file()}
        assert {"pflow.db", "events.db", "secret_key"} <= set(files)
        assert "pflow.db-wal" in files  # WAL mode: SQLite gives its side files the database's mode
        assert files == {name: 0o600 for name in files}, files
        assert mode(data) == 0o700 and mode(data.parent) == 0o700  # each folder it made
    finally:
        shutdown(container)


def test_an_existing_folder_keeps_its_mode_and_a_new_database_in_it_is_still_private(tmp_path, open_umask):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    engine = create_db_engine(f"sqlite:///{shared / 'pflow.db'}")
    try:
        with engine.connect() as c:
            c.exec_driver_sql("CREATE TABLE t (x)")
            c.commit()
    finally:
        engine.dispose()
    assert mode(shared) == 0o755
    assert mode(shared / "pflow.db") == 0o600
