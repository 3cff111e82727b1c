"""Units of work on one SQLite file queue their writes on a lock of this process, every way a unit of
work ends gives the lock back, and no writer waits for a connection while it holds the lock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event

from pflow.adapters.database.engine import (
    SQLITE_POOL_SIZE,
    SQLITE_WRITE_WAIT_S,
    PRECEDENCE,
    SqliteWriterLock,
    WriterLockMisuse,
)
from pflow.domain.errors import ConcurrencyConflict, ServiceUnavailable
from pflow.domain.model import Ticket
from pflow.domain.users import User
from pflow.ports.repository import TicketQuery
from tests.support import BPMN, make_store

# The seed's process, as tests/support.BPMN deploys it: its names live in the BPMN, not in the ports.
PROCESS = "ticket_approval"
TOPIC = "ticket-processing"


def user_task(engine, key):
    """The ticket process's one open user task for the key, or None."""
    tasks = engine.open_tasks(key)
    return tasks[0] if tasks else None

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
            uow.tickets.add(Ticket.create(alice, "it_request", "probe", {}))
            uow.commit()
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(seconds)


def test_the_lock_is_held_from_the_first_write_until_commit(store):
    uow = store.uow()
    with uow:
        uow.tickets.add(Ticket.create(alice, "it_request", "first", {}))
        uow.session.flush()  # the write transaction has begun
        assert _held(uow._writer_lock)
        uow.commit()
    assert not _held(uow._writer_lock)
    assert _writes_within(store)


def test_leaving_without_commit_gives_the_lock_back(store):
    with store.uow() as uow:
        uow.tickets.add(Ticket.create(alice, "it_request", "abandoned", {}))
        uow.session.flush()
    assert _writes_within(store)


def test_a_failed_commit_gives_the_lock_back(store):
    t = Ticket.create(alice, "it_request", "raced", {})
    with store.uow() as uow:
        uow.tickets.add(t)
        uow.commit()
    first, second = store.uow(), store.uow()
    with first, second:
        first.tickets.get(t.id).update(alice, title="one")
        second.tickets.get(t.id).update(alice, title="two")
        first.commit()
        with pytest.raises(ConcurrencyConflict):
            second.commit()
    assert _writes_within(store)


def test_statements_that_write_take_the_lock_too(store):
    with store.uow() as uow:
        uow.tickets.add(Ticket.create(alice, "it_request", "event source", {}))
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
                    uow.tickets.add(Ticket.create(alice, "it_request", f"t{i}-{n}", {}))
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
        assert uow.tickets.list(TicketQuery()).total == 80


def test_the_embedded_engine_queues_on_the_same_lock_as_the_ticket_store(store):
    from pflow.adapters.spiff import SpiffWorkflowEngine

    engine = SpiffWorkflowEngine(store.engine)
    try:
        with store.uow() as uow:
            assert engine._write_lock is uow._writer_lock is not None
            uow.tickets.add(Ticket.create(alice, "it_request", "first", {}))
            uow.session.flush()  # this thread writes to the ticket store...
            assert _held(engine._write_lock)  # ...so engine writers in other threads wait for its commit
            uow.commit()
        assert not _held(engine._write_lock)
    finally:
        engine.close()


# --- the order of connection and lock, and bounded waits ------------------------------------------

def _engine_on(store):
    from pflow.adapters.spiff import SpiffWorkflowEngine

    engine = SpiffWorkflowEngine(store.engine)
    engine.deploy(BPMN)
    return engine


def _run_all(targets, timeout: float) -> list[BaseException]:
    """Run the callables in threads at once; what they raised, plus an error for each still running."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def run(target):
        try:
            barrier.wait(5)
            target()
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    errors.extend(AssertionError("still waiting") for thread in threads if thread.is_alive())
    return errors


def test_no_thread_waits_for_a_connection_while_it_holds_the_writer_lock(store):
    """The mechanism of the 30 s freeze: the engine took the file's lock, then waited for a pooled
    connection that the threads queued behind that lock were holding."""
    engine = _engine_on(store)
    lock = engine._write_lock
    checked_out_under_lock: list[str] = []

    @event.listens_for(store.engine, "checkout")
    def _checkout(*_):
        if lock.held_by_current_thread():
            checked_out_under_lock.append(threading.current_thread().name)

    keys = [f"order-{i}" for i in range(12)]
    for key in keys:
        engine.start(PROCESS, key, {"requester": "alice"})

    def approve_within_a_unit_of_work(key):
        # As the ticket service does: its unit of work holds a connection across the engine's calls.
        def run():
            with store.uow() as uow:
                uow.tickets.add(Ticket.create(alice, "it_request", key, {}))
                uow.session.connection()
                task = user_task(engine, key)
                engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
                uow.commit()
        return run

    try:
        assert not _run_all([approve_within_a_unit_of_work(k) for k in keys], timeout=20)
        assert checked_out_under_lock == []
    finally:
        event.remove(store.engine, "checkout", _checkout)
        engine.close()


def test_more_threads_than_pooled_connections_each_holding_one_while_the_engine_writes(store):
    """Every thread holds its unit of work's connection and asks for a second one in the engine: with a
    pool that makes the surplus wait, they would wait for each other."""
    engine = _engine_on(store)
    threads = SQLITE_POOL_SIZE + 8
    keys = [f"many-{i}" for i in range(threads)]
    for key in keys:
        engine.start(PROCESS, key, {"requester": "alice"})
    holding = threading.Barrier(threads)

    def decide(key):
        def run():
            with store.uow() as uow:
                uow.tickets.list(TicketQuery())
                holding.wait(10)  # every thread holds a connection now
                task = user_task(engine, key)
                engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
        return run

    try:
        assert not _run_all([decide(k) for k in keys], timeout=30)
        assert len(engine.find_external_tasks_by_topic(TOPIC, limit=100)) == threads
    finally:
        engine.close()


def test_a_second_write_transaction_in_the_same_thread_fails_at_once(store):
    """It would wait for the file this thread itself keeps locked: SQLite's busy timeout, then an error."""
    engine = _engine_on(store)
    engine.start(PROCESS, "self", {"requester": "alice"})
    try:
        with store.uow() as uow:
            uow.tickets.add(Ticket.create(alice, "it_request", "first", {}))
            uow.session.flush()  # this thread's transaction now writes to the file
            task = user_task(engine, "self")
            started = time.monotonic()
            with pytest.raises(WriterLockMisuse):
                engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
            assert time.monotonic() - started < 1
            uow.commit()
        assert _writes_within(store)
        engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
    finally:
        engine.close()


def test_a_writer_that_waits_too_long_gets_service_unavailable_naming_the_file(store):
    lock = SqliteWriterLock("/data/pflow.db", wait_s=0.2)
    holder_in, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            holder_in.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    holder_in.wait(5)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as raised:
        lock.take()
    assert 0.2 <= time.monotonic() - started < 2
    assert "/data/pflow.db is busy" in raised.value.message and raised.value.dependency == "database"
    assert lock.waiting() == 0  # the timed-out writer left the queue
    release.set()
    holder.join(5)
    lock.take()  # free again for the next writer
    lock.release()


def test_waiting_writers_get_the_lock_in_order_and_precedence_goes_first():
    lock = SqliteWriterLock("order.db")
    lock.acquire()
    order: list[str] = []

    def wait(name, precedence=False):
        def run():
            lock.take(PRECEDENCE if precedence else None)
            order.append(name)
            lock.release()
        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 5
        while lock.waiting() < expected[0] and time.monotonic() < deadline:
            time.sleep(0.001)
        return thread

    expected = [0]
    threads = []
    for name, precedence in (("a", False), ("b", False), ("worker", True), ("c", False)):
        expected[0] += 1
        threads.append(wait(name, precedence))
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == ["worker", "a", "b", "c"]


# --- who goes first: the steps of a flow before new requests -----------------------------------

def _queue_behind_a_holder(lock, *writers):
    """Hold the lock while each (name, start) writer is started and has joined the queue, in order;
    then let go. Returns the threads."""
    holder_in, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            holder_in.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holder_in.wait(5)
    threads = [holder]
    for n, start in enumerate(writers, start=1):
        threads.append(start())
        deadline = time.monotonic() + 5
        while lock.waiting() < n and time.monotonic() < deadline:
            time.sleep(0.001)
        assert lock.waiting() == n
    release.set()
    return threads


def _committing(store, order, name, before=lambda uow: None):
    """A unit of work that writes a ticket; ``order`` gets ``name`` while it still holds the lock."""
    def start():
        def run():
            with store.uow() as uow:
                before(uow)
                event.listen(uow.session, "after_commit", lambda _s: order.append(name))
                uow.tickets.add(Ticket.create(alice, "it_request", name, {}))
                uow.commit()
        thread = threading.Thread(target=run)
        thread.start()
        return thread
    return start


def test_the_ticket_commit_of_an_engine_step_goes_ahead_of_waiting_requests(store):
    """An approval's ticket commit follows the engine's step in the same thread; if new requests went
    first, the worker that step woke would read the ticket before it shows the approval."""
    engine = _engine_on(store)
    lock = engine._write_lock
    order: list[str] = []
    stepped, go = threading.Event(), threading.Event()

    def approve_first(uow):
        uow.tickets.list(TicketQuery())  # the unit of work is open before the engine step, as in the service
        engine.start(PROCESS, "step", {"requester": "alice"})
        stepped.set()
        go.wait(10)  # ...and commits only once a new request queued ahead of it

    holder_in, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            holder_in.set()
            release.wait(10)

    def queued(n):
        deadline = time.monotonic() + 5
        while lock.waiting() < n and time.monotonic() < deadline:
            time.sleep(0.001)
        return lock.waiting() == n

    try:
        step = _committing(store, order, "after engine step", approve_first)()
        assert stepped.wait(5)  # the engine took its step: now the file gets busy
        holder = threading.Thread(target=hold)
        holder.start()
        assert holder_in.wait(5)
        request = _committing(store, order, "new request")()
        assert queued(1)
        go.set()
        assert queued(2)  # the step's ticket commit arrived after the new request
        release.set()
        for thread in (holder, request, step):
            thread.join(10)
        assert order == ["after engine step", "new request"]
    finally:
        release.set()
        go.set()
        engine.close()


def test_the_engine_s_external_task_steps_go_ahead_of_waiting_requests(store):
    engine = _engine_on(store)
    lock = engine._write_lock
    engine.start(PROCESS, "auto", {"requester": "alice"})
    task = user_task(engine, "auto")
    engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
    order: list[str] = []

    fetched: list = []

    def fetch():
        def run():
            fetched.extend(engine.fetch_and_lock("w1", [TOPIC], lock_duration_ms=10_000))
        thread = threading.Thread(target=run, name="worker fetch")
        thread.start()
        return thread

    release = lock.release

    def noting_release():  # the order in which writers held the lock is the order they let go
        order.append(threading.current_thread().name)
        release()

    lock.release = noting_release
    try:
        threads = _queue_behind_a_holder(lock, _committing(store, [], "request 1"),
                                         _committing(store, [], "request 2"), fetch)
        for thread in threads:
            thread.join(10)
        assert len(fetched) == 1
        assert order[1] == "worker fetch" and len(order) == 4
    finally:
        del lock.release
        engine.close()


def test_without_an_engine_step_a_unit_of_work_keeps_its_place(store):
    order: list[str] = []
    lock = store.uow()._writer_lock
    threads = _queue_behind_a_holder(lock, _committing(store, order, "first"), _committing(store, order, "second"),
                                     _committing(store, order, "third"))
    for thread in threads:
        thread.join(10)
    assert order == ["first", "second", "third"]


def test_a_unit_of_work_that_cannot_get_the_file_in_time_answers_503_and_keeps_nothing(store):
    lock = store.uow()._writer_lock
    holder_in, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            holder_in.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    lock.wait_s = 0.2
    try:
        holder.start()
        assert holder_in.wait(5)
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as raised:
            with store.uow() as uow:
                uow.tickets.add(Ticket.create(alice, "it_request", "too late", {}))
                uow.commit()
        assert time.monotonic() - started < 2 and "is busy" in raised.value.message
    finally:
        release.set()
        holder.join(5)
        lock.wait_s = SQLITE_WRITE_WAIT_S
    assert _writes_within(store)
    with store.uow() as uow:
        assert [t.title for t in uow.tickets.list(TicketQuery()).items] == ["probe"]


# --- tasks a caller's unit of work is about to record are fetched after it ------------------------

def _fetch_in_thread(engine, wait_ms=0):
    got: list = []
    thread = threading.Thread(target=lambda: got.extend(
        engine.fetch_and_lock("w1", [TOPIC], lock_duration_ms=10_000, wait_ms=wait_ms)))
    thread.start()
    return thread, got


def test_a_task_created_inside_an_open_unit_of_work_is_fetched_once_it_ends(store):
    engine = _engine_on(store)
    engine.start(PROCESS, "held", {"requester": "alice"})
    try:
        waiting, woken = _fetch_in_thread(engine, wait_ms=20_000)  # a worker waiting for work, as in serve
        with store.uow() as uow:
            uow.tickets.list(TicketQuery())
            task = user_task(engine, "held")
            engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
            early, got = _fetch_in_thread(engine)
            early.join(5)
            assert got == []  # the approval's ticket is not committed yet: the worker would read it pending
            uow.tickets.add(Ticket.create(alice, "it_request", "the approval's commit", {}))
            uow.commit()
            assert woken == []
        started = time.monotonic()
        waiting.join(5)
        assert [t.business_key for t in woken] == ["held"] and time.monotonic() - started < 1
    finally:
        engine.close()


def test_a_task_created_outside_a_unit_of_work_is_fetchable_at_once(store):
    engine = _engine_on(store)
    engine.start(PROCESS, "free", {"requester": "alice"})
    try:
        task = user_task(engine, "free")
        engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
        thread, got = _fetch_in_thread(engine)
        thread.join(5)
        assert [t.business_key for t in got] == ["free"]
    finally:
        engine.close()


def test_a_hold_ends_by_itself_when_the_unit_of_work_never_does(store):
    from pflow.adapters.spiff import SpiffWorkflowEngine

    engine = SpiffWorkflowEngine(store.engine, hold_s=0.2)
    engine.deploy(BPMN)
    engine.start(PROCESS, "forgotten", {"requester": "alice"})
    uow = store.uow().__enter__()
    try:
        task = user_task(engine, "forgotten")
        engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
        thread, got = _fetch_in_thread(engine, wait_ms=5_000)
        thread.join(5)
        assert [t.business_key for t in got] == ["forgotten"]
    finally:
        uow.__exit__(None, None, None)
        engine.close()
