"""Units of work on one SQLite file queue their writes on a lock of this process, and every way
a unit of work ends gives the lock back."""

from __future__ import annotations

import threading

import pytest

from pflow.domain.errors import ConcurrencyConflict
from pflow.domain.model import Ticket
from pflow.domain.users import User
from tests.support import make_store

alice = User("alice", "Alice", frozenset({"requester"}))


@pytest.fixture
def store(tmp_path):
    s = make_store("sqlite", tmp_path)
    yield s
    s.close()


def _held(lock) -> bool:
    """Whether some thread holds the (re-entrant) lock, seen from another thread."""
    result = []

    def probe():
        got = lock.acquire(blocking=False)
        if got:
            lock.release()
        result.append(not got)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result[0]


def _writes_within(store, seconds: float = 5.0) -> bool:
    """Whether another thread can write now (False if some lock was never given back)."""
    done = threading.Event()

    def write():
        with store.uow() as uow:
            uow.tickets.add(Ticket.create(alice, {"title": "probe"}))
            uow.commit()
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(seconds)


def test_the_lock_is_held_from_the_first_write_until_commit(store):
    uow = store.uow()
    with uow:
        uow.tickets.add(Ticket.create(alice, {"title": "first"}))
        uow.session.flush()  # the write transaction has begun
        assert _held(uow._writer_lock)
        uow.commit()
    assert not _held(uow._writer_lock)
    assert _writes_within(store)


def test_leaving_without_commit_gives_the_lock_back(store):
    with store.uow() as uow:
        uow.tickets.add(Ticket.create(alice, {"title": "abandoned"}))
        uow.session.flush()
    assert _writes_within(store)


def test_a_failed_commit_gives_the_lock_back(store):
    t = Ticket.create(alice, {"title": "raced"})
    with store.uow() as uow:
        uow.tickets.add(t)
        uow.commit()
    first, second = store.uow(), store.uow()
    with first, second:
        first.tickets.get(t.id).update(alice, {"title": "one"})
        second.tickets.get(t.id).update(alice, {"title": "two"})
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    assert _writes_within(store)


def test_statements_that_write_take_the_lock_too(store):
    with store.uow() as uow:
        uow.tickets.add(Ticket.create(alice, {"title": "event source"}))
        uow.commit()
    with store.uow() as uow:
        [message] = uow.outbox.pending(10)
        uow.outbox.mark_sent([message.id])  # an UPDATE statement, no flush
        assert _held(uow._writer_lock)
        uow.commit()
    assert _writes_within(store)


def test_many_writers_at_once_all_commit(store):
    errors: list[BaseException] = []

    def write(i):
        try:
            for n in range(10):
                with store.uow() as uow:
                    uow.tickets.add(Ticket.create(alice, {"title": f"t{i}-{n}"}))
                    uow.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors
    with store.uow() as uow:
        from pflow.ports.repository import TicketQuery

        assert uow.tickets.list(TicketQuery()).total == 80


def test_the_embedded_engine_queues_on_the_same_lock_as_the_ticket_store(store):
    from pflow.adapters.spiff import SpiffWorkflowEngine

    engine = SpiffWorkflowEngine(store.engine)
    try:
        with store.uow() as uow:
            assert engine._write_lock is uow._writer_lock is not None
            uow.tickets.add(Ticket.create(alice, {"title": "first"}))
            uow.session.flush()  # this thread writes to the ticket store...
            assert _held(engine._write_lock)  # ...so engine writers in other threads wait for its commit
            uow.commit()
        assert not _held(engine._write_lock)
    finally:
        engine.close()
