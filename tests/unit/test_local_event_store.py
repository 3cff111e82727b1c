"""The embedded default's event transport keeps messages across restarts and crashes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

from pflow.adapters.kombu.bus import KombuEventConsumer, KombuEventPublisher
from tests.support import REPO_ROOT


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)


def _drain(url: str, **kwargs) -> list:
    got = []
    KombuEventConsumer(url, "ticket.events", "ticket.events.queue", **kwargs).consume(
        got.append, threading.Event(), idle_timeout=0.5)
    return got


def test_events_published_by_a_process_that_exited_are_delivered(tmp_path):
    url = f"sqla+sqlite:///{tmp_path / 'events.db'}"
    published = _run(f"""
        from pflow.adapters.kombu.bus import KombuEventPublisher
        p = KombuEventPublisher({url!r})
        for i in range(3):
            p.publish("ticket.created", {{"event_id": str(i), "n": i}}, message_id=str(i))
    """)
    assert published.returncode == 0, published.stderr
    assert [(m.message_id, m.body["n"]) for m in _drain(url)] == [("0", 0), ("1", 1), ("2", 2)]
    assert _drain(url) == []  # acknowledged messages are gone from the store


def test_a_message_whose_consumer_died_before_acking_is_delivered_again(tmp_path):
    url = f"sqla+sqlite:///{tmp_path / 'events.db'}"
    publisher = KombuEventPublisher(url)
    publisher.publish("ticket.approved", {"event_id": "e1"}, message_id="e1")
    publisher.publish("ticket.completed", {"event_id": "e2"}, message_id="e2")
    publisher.close()
    crashed = _run(f"""
        import os, threading
        from pflow.adapters.kombu.bus import KombuEventConsumer
        def die(message):
            print(message.message_id, flush=True)
            os._exit(3)  # killed mid-handling: no ack, no clean shutdown
        KombuEventConsumer({url!r}).consume(die, threading.Event())
    """)
    assert crashed.returncode == 3 and crashed.stdout.strip() == "e1"
    # The next process to consume takes the dead one's lease back: e1 comes again at once, in its place,
    # not after the visibility timeout (a restarted `pflow serve` must not sit five minutes on it).
    assert [(m.message_id, m.redelivered) for m in _drain(url)] == [("e1", True), ("e2", False)]
    assert _drain(url) == []


def test_a_publish_the_locked_store_cannot_take_fails_and_the_next_one_is_stored(tmp_path, monkeypatch):
    import sqlite3

    import pytest

    import pflow.adapters.database.engine as engine
    from pflow.domain.errors import ServiceUnavailable

    monkeypatch.setattr(engine, "SQLITE_WRITE_WAIT_S", 0.3)  # SQLite's busy timeout, for this store's engine
    url = f"sqla+sqlite:///{tmp_path / 'events.db'}"
    publisher = KombuEventPublisher(url)
    publisher.publish("ticket.created", {"event_id": "e0"}, message_id="e0")
    writer = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # another writer holds the file past the busy timeout
    with pytest.raises(ServiceUnavailable) as caught:
        publisher.publish("ticket.submitted", {"event_id": "e1"}, message_id="e1")
    assert caught.value.dependency == "event broker"
    writer.execute("ROLLBACK")
    writer.close()
    publisher.publish("ticket.submitted", {"event_id": "e1"}, message_id="e1")  # the relay's retry
    publisher.close()
    assert [m.message_id for m in _drain(url)] == ["e0", "e1"]
