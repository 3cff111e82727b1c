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
