"""No event is lost while the broker is down: the API keeps working, the outbox fills, and once
the broker is back every event is delivered and each is applied exactly once."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from kombu import Connection
from sqlalchemy import text

from pflow.adapters.kombu.bus import KombuEventConsumer, KombuEventPublisher
from pflow.entrypoints.http import create_app
from pflow.entrypoints.runtime import BackgroundServices
from pflow.service.notifications import NotificationService
from pflow.service.relay import OutboxRelay
from tests.conftest import ApiClient
from tests.support import RABBITMQ_URL, build_stack, delete_rabbitmq_topology, free_port, wait_until

pytestmark = pytest.mark.integration

TICKETS = 10
REJECTED = (TICKETS + 1) // 2  # _work_while_down rejects the even ones
# Per ticket worked while down: ticket.created, ticket.submitted, task.created (its first step), task.completed
# (the decision), and ticket.rejected for a rejection (an approval opens the automated step: no event).
EVENTS_WHILE_DOWN = 4 * TICKETS + REJECTED


def _names():
    suffix = uuid.uuid4().hex[:8]
    return f"test.ticket.events.{suffix}", f"test.ticket.events.queue.{suffix}"


def _sql(stack, query: str):
    with stack.container.db_engine().connect() as connection:
        return connection.execute(text(query)).all()


def _pending(stack) -> int:
    return _sql(stack, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")[0][0]


def _queue_depth(queue: str) -> int:
    with Connection(RABBITMQ_URL, connect_timeout=3) as connection:
        return connection.channel().queue_declare(queue, passive=True).message_count


def _work_while_down(api) -> dict[str, int]:
    """Create, submit and decide TICKETS tickets through the API; every call must succeed."""
    statuses: Counter = Counter()
    for i in range(TICKETS):
        r = api.post("/api/tickets", "alice", json={"title": f"Outage ticket {i}", "amount": "10.00"})
        statuses[r.status_code] += 1
        ticket_id = r.json["id"]
        statuses[api.post(f"/api/tickets/{ticket_id}/submit", "alice").status_code] += 1
        if i % 2:
            r = api.post(f"/api/tickets/{ticket_id}/approve", "bob", json={"comment": "fine"})
        else:
            r = api.post(f"/api/tickets/{ticket_id}/reject", "bob", json={"comment": "too much"})
        statuses[r.status_code] += 1
    return dict(statuses)


def _assert_each_event_applied_once(stack, expected_events: int) -> None:
    event_ids = {row[0] for row in _sql(stack, "SELECT event_id FROM outbox")}
    processed = _sql(stack, "SELECT event_id FROM processed_events WHERE consumer = 'notifications'")
    assert len(event_ids) == expected_events
    assert sorted(r[0] for r in processed) == sorted(event_ids)  # every event, each once
    per_event = Counter((r[0], r[1]) for r in _sql(stack, "SELECT event_id, recipient FROM notifications"))
    assert set(per_event.values()) == {1}  # nobody was told the same thing twice


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", id="postgres")])
def test_no_event_is_lost_while_the_broker_is_down(kind, tmp_path, rabbit_proxy):
    exchange, queue = _names()
    stack = build_stack(kind, tmp_path, rabbitmq_url=rabbit_proxy.url_for(RABBITMQ_URL),
                        rabbitmq_exchange=exchange, rabbitmq_queue=queue)
    container = stack.container
    container.relay().max_backoff_s = 0.5
    container.event_consumer().max_backoff_s = 0.5
    services = BackgroundServices(container, worker=False, relay=True, consumer=True)
    api = ApiClient(create_app(container))
    notifications = container.notifications()
    users = {name: stack.container.users().get(name) for name in ("alice", "bob", "dave")}
    services.start()
    try:
        # Everything flows while the broker is up.
        first = api.post("/api/tickets", "alice", json={"title": "Before the outage"}).json["id"]
        assert api.post(f"/api/tickets/{first}/submit", "alice").status_code == 200
        wait_until(lambda: notifications.list(users["bob"]).total == 1, 15, message="first event not delivered")
        connections_before = rabbit_proxy.connections

        rabbit_proxy.cut()
        statuses = _work_while_down(api)
        assert statuses == {201: TICKETS, 200: 2 * TICKETS}  # the API does not depend on the broker
        wait_until(lambda: _sql(stack, "SELECT max(attempts) FROM outbox WHERE sent_at IS NULL")[0][0],
                   10, message="the relay never tried the broker")
        assert _pending(stack) == EVENTS_WHILE_DOWN  # all waiting in the outbox
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json["error"]["details"]["unavailable"] == ["event_broker"]
        assert notifications.list(users["alice"]).total == 0

        rabbit_proxy.restore()
        wait_until(lambda: _pending(stack) == 0, 30, message="the outbox did not drain after the broker came back")
        wait_until(lambda: notifications.list(users["alice"]).total == TICKETS + REJECTED, 30,
                   message="not every event reached the consumer")
        wait_until(lambda: _queue_depth(queue) == 0, 15)
        assert rabbit_proxy.connections > connections_before  # relay and consumer reconnected

        # A relay that crashed after publishing but before marking sent publishes again: duplicates.
        replay = KombuEventPublisher(RABBITMQ_URL, exchange, queue)
        for row in _sql(stack, "SELECT routing_key, body, event_id FROM outbox ORDER BY id"):
            body = row[1] if isinstance(row[1], dict) else __import__("json").loads(row[1])
            replay.publish(row[0], body, message_id=row[2])
        replay.close()
        wait_until(lambda: _queue_depth(queue) == 0, 30, message="the duplicates were not consumed")
    finally:
        services.stop()
    try:
        expected_events = 3 + EVENTS_WHILE_DOWN  # the first ticket: created, submitted, task.created
        _assert_each_event_applied_once(stack, expected_events)
        counts = {name: notifications.list(user).total for name, user in users.items()}
        # alice: each decision (task.completed) and each rejection. The managers: the first ticket's step only;
        # the steps opened during the outage were decided before their task.created arrived, and a step that is
        # already done is not announced as waiting (the event is applied all the same, once).
        assert counts == {"alice": TICKETS + REJECTED, "bob": 1, "dave": 1}
        told = notifications.list(users["alice"], page_size=100).items
        assert len([n for n in told if n.kind == "ticket.rejected"]) == REJECTED
        decisions = [n for n in told if n.kind == "task.completed"]
        assert len(decisions) == TICKETS
        assert len([n for n in decisions if n.message.endswith("Comment: too much")]) == REJECTED
    finally:
        stack.close()
        delete_rabbitmq_topology(exchange, queue)


def test_a_closed_broker_port_fills_the_outbox_and_a_later_relay_delivers_everything(tmp_path):
    from tests.support import require_rabbitmq

    require_rabbitmq()
    exchange, queue = _names()
    closed = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    stack = build_stack("sqlite", tmp_path, rabbitmq_url=closed, rabbitmq_exchange=exchange, rabbitmq_queue=queue)
    try:
        api = ApiClient(create_app(stack.container))
        assert _work_while_down(api) == {201: TICKETS, 200: 2 * TICKETS}
        with pytest.raises(Exception) as err:
            stack.container.relay().publish_pending()
        assert "event broker" in str(getattr(err.value, "message", err.value))
        assert _pending(stack) == EVENTS_WHILE_DOWN
        ready = api.get("/readyz").json
        assert ready["checks"]["database"] == "ok" and "127.0.0.1" in ready["checks"]["event_broker"]

        # The broker is 'back': the same outbox, relayed to the real RabbitMQ.
        publisher = KombuEventPublisher(RABBITMQ_URL, exchange, queue)
        relay = OutboxRelay(stack.container.uow, publisher)
        assert relay.drain() == EVENTS_WHILE_DOWN and _pending(stack) == 0
        publisher.close()
        service = NotificationService(stack.container.uow, stack.container.users())
        consumer = KombuEventConsumer(RABBITMQ_URL, exchange, queue)
        import threading

        assert consumer.consume(service.handle, threading.Event(), idle_timeout=1.0) == EVENTS_WHILE_DOWN
        _assert_each_event_applied_once(stack, EVENTS_WHILE_DOWN)
        assert service.list(stack.container.users().get("alice")).total == TICKETS + REJECTED
    finally:
        stack.close()
        delete_rabbitmq_topology(exchange, queue)
