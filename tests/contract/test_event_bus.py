"""The EventPublisher / EventConsumer contract, run on every transport."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from pflow.domain import events as ev
from pflow.domain.errors import ServiceUnavailable
from pflow.ports.events import RejectMessage
from tests.support import BUSES, BUSES_THAT_CAN_BE_DOWN, make_bus


@pytest.fixture(params=BUSES)
def bus(request, tmp_path):
    harness = make_bus(request.param, tmp_path)
    yield harness
    harness.close()


def message(key="ticket.created", **data):
    event_id = str(uuid.uuid4())
    return key, {"event_id": event_id, "type": key, "version": ev.SCHEMA_VERSION,
                 "occurred_at": "2026-01-01T00:00:00+00:00",
                 "ticket_id": "t-1", "actor": "alice", "data": data}, event_id


def publish(bus, *messages):
    for key, body, event_id in messages:
        bus.publisher.publish(key, body, message_id=event_id)


def consume_all(consumer, handler=None, idle=0.6):
    got = []

    def record(m):
        if handler:
            handler(m)
        got.append(m)

    consumer.consume(record, threading.Event(), idle_timeout=idle)
    return got


def test_published_messages_reach_the_consumer_in_order_with_their_ids(bus):
    sent = [message(k, n=i) for i, k in enumerate(
        ["ticket.created", "ticket.submitted", "task.created", "task.completed", "ticket.needs_attention",
         "ticket.resumed", "ticket.completed"])]
    publish(bus, *sent)  # before any consumer exists: the queue keeps them
    got = consume_all(bus.consumer())
    assert [(m.routing_key, m.body, m.message_id) for m in got] == sent
    assert not any(m.redelivered for m in got)


def test_every_kind_of_event_pflow_publishes_is_queued(bus):
    # The notification consumer reads one queue: a kind its binding misses (task.created tells the
    # candidates of a new step) would never reach anybody, without an error anywhere.
    sent = [message(kind) for kind in ev.EVENT_TYPES]
    publish(bus, *sent)
    got = consume_all(bus.consumer())
    assert sorted(m.routing_key for m in got) == sorted(ev.EVENT_TYPES)


def test_only_ticket_and_task_events_are_queued(bus):
    publish(bus, message("audit.login"), message("ticket.rejected", comment="no"), message("tasks"),
            message("task.completed", comment="ok"))
    got = consume_all(bus.consumer())
    assert [m.routing_key for m in got] == ["ticket.rejected", "task.completed"]
    assert got[0].body["data"] == {"comment": "no"}


def test_each_message_is_handled_once_when_acknowledged(bus):
    publish(bus, message(), message())
    assert len(consume_all(bus.consumer())) == 2
    assert consume_all(bus.consumer(), idle=0.3) == []


def test_a_failed_handler_gets_the_message_again_before_the_next(bus):
    first, second = message("ticket.submitted"), message("task.created")
    publish(bus, first, second)
    attempts = []

    def flaky(m):
        attempts.append(m.message_id)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    got = consume_all(bus.consumer(), flaky)
    assert attempts == [first[2], first[2], second[2]]
    assert [m.message_id for m in got] == [first[2], second[2]]
    assert got[0].redelivered


def test_a_rejected_message_is_dropped(bus):
    bad, good = message("ticket.created"), message("task.completed")
    publish(bus, bad, good)
    seen = []

    def strict(m):
        seen.append(m.message_id)
        if m.message_id == bad[2]:
            raise RejectMessage("not a ticket event")

    got = consume_all(bus.consumer(), strict)
    assert seen == [bad[2], good[2]] and [m.message_id for m in got] == [good[2]]
    assert consume_all(bus.consumer(), idle=0.3) == []


def test_a_message_being_handled_when_the_consumer_stops_is_not_lost(bus):
    publish(bus, message("ticket.completed"))
    stop = threading.Event()

    def interrupted(m):
        stop.set()
        raise RuntimeError("stopping mid-way")

    assert bus.consumer().consume(interrupted, stop) == 0
    got = consume_all(bus.consumer())
    assert [m.routing_key for m in got] == ["ticket.completed"]


def test_the_consumer_stops_promptly_when_asked(bus):
    consumer = bus.consumer()
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(consumer.consume(lambda m: None, stop)))
    thread.start()
    time.sleep(0.3)
    publish(bus, message())
    time.sleep(0.5)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and result == [1]


def test_a_healthy_bus_passes_its_checks(bus):
    bus.publisher.check()
    bus.consumer().check()


def test_readiness_checks_reuse_the_publishing_connection(bus, monkeypatch):
    # /readyz is polled every second by every pod: a probe must not open (and close) a broker connection.
    from pflow.adapters.kombu import bus as kombu_bus

    made = []
    real = kombu_bus.make_connection
    monkeypatch.setattr(kombu_bus, "make_connection", lambda *a, **kw: made.append(1) or real(*a, **kw))
    for _ in range(5):
        bus.publisher.check()
    publish(bus, message())  # and publishing goes on over that same connection
    assert len(made) <= 1
    assert [m.routing_key for m in consume_all(bus.consumer())] == ["ticket.created"]


@pytest.fixture(params=BUSES_THAT_CAN_BE_DOWN)
def down_bus(request, tmp_path):
    harness = make_bus(request.param, tmp_path)
    yield harness
    harness.close()


def test_publishing_to_an_unreachable_broker_says_event_broker(down_bus):
    publisher = down_bus.unreachable_publisher()
    key, body, event_id = message()
    with pytest.raises(ServiceUnavailable) as err:
        publisher.publish(key, body, message_id=event_id)
    assert err.value.dependency == "event broker"
    assert "secret" not in err.value.message
    with pytest.raises(ServiceUnavailable):
        publisher.check()
    publisher.close()


def test_a_trace_context_travels_with_the_message_and_none_is_none(bus):
    traced, untraced = message("ticket.approved"), message("ticket.completed")
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    bus.publisher.publish(traced[0], traced[1], message_id=traced[2], traceparent=traceparent)
    publish(bus, untraced)
    got = consume_all(bus.consumer())
    assert [(m.message_id, m.traceparent) for m in got] == [(traced[2], traceparent), (untraced[2], None)]
