"""The relay deletes events the broker confirmed longer ago than the retention, and nothing else."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from pflow.adapters.memory.events import InMemoryEventPublisher
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.domain.model import Ticket
from pflow.domain.users import User
from pflow.service.relay import OutboxRelay

alice = User("alice", roles=frozenset({"requester"}))


def _setup(retention):
    store = InMemoryStore()
    publisher = InMemoryEventPublisher()
    relay = OutboxRelay(lambda: InMemoryUnitOfWork(store), publisher, retention=retention)
    for _ in range(3):
        with InMemoryUnitOfWork(store) as uow:
            uow.tickets.add(Ticket.create(alice, "it_request", "Laptop", {}))
            uow.commit()
    return store, publisher, relay


def test_sent_events_go_after_the_retention_in_batches():
    store, publisher, relay = _setup(timedelta(days=7))
    assert relay.drain() == 3 and len(publisher.messages) == 3
    with InMemoryUnitOfWork(store) as uow:  # a fourth event, not yet published
        uow.tickets.add(Ticket.create(alice, "it_request", "Monitor", {}))
        uow.commit()
    now = datetime.now(timezone.utc)
    assert relay.purge(now + timedelta(days=6)) == 0
    assert relay.purge(now + timedelta(days=8), batch=2) == 3  # two batches
    assert len(store.outbox) == 1
    with InMemoryUnitOfWork(store) as uow:
        assert [m.body["data"]["title"] for m in uow.outbox.pending()] == ["Monitor"]


def test_no_retention_keeps_every_event():
    store, _, relay = _setup(None)
    relay.drain()
    assert relay.purge(datetime.now(timezone.utc) + timedelta(days=10_000)) == 0
    assert len(store.outbox) == 3


def test_the_running_relay_purges_when_it_starts_and_then_every_interval():
    store, _, relay = _setup(timedelta(0))
    relay.purge_interval_s = 3600
    relay.drain()
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop, 0.05))
    thread.start()
    try:
        deadline = datetime.now() + timedelta(seconds=5)
        while store.outbox and datetime.now() < deadline:
            stop.wait(0.02)
        assert store.outbox == []
    finally:
        stop.set()
        thread.join(5)
