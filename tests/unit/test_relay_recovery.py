"""After an outage the relay's log says what came back: the database, or the broker."""

from __future__ import annotations

import logging
import threading

import pytest

from pflow.adapters.memory.events import InMemoryEventPublisher
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.domain.model import Ticket
from pflow.domain.users import User
from pflow.service.relay import OutboxRelay
from tests.support import wait_until

alice = User("alice", roles=frozenset({"requester"}))


@pytest.mark.parametrize("what_goes_down, named", [("store", "database"), ("publisher", "event broker")])
def test_the_relay_logs_what_came_back(what_goes_down, named, caplog):
    caplog.set_level(logging.INFO, logger="pflow.service.relay")
    store, publisher = InMemoryStore(), InMemoryEventPublisher()
    with InMemoryUnitOfWork(store) as uow:
        uow.tickets.add(Ticket.create(alice, "it_request", "Laptop", {}))
        uow.commit()
    relay = OutboxRelay(lambda: InMemoryUnitOfWork(store), publisher, max_backoff_s=0.2)
    down = store if what_goes_down == "store" else publisher
    down.available = False
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop, 0.05), daemon=True)
    thread.start()
    try:
        wait_until(lambda: "retrying in" in caplog.text, timeout=5)
        down.available = True
        wait_until(lambda: publisher.messages, timeout=5, message="nothing was relayed after the outage")
        wait_until(lambda: "reachable again" in caplog.text, timeout=5)
    finally:
        stop.set()
        relay.notify()
        thread.join(5)
    assert not thread.is_alive()
    assert f"event relay: {named} reachable again; relaying" in caplog.text
    assert caplog.text.count("reachable again") == 1
