"""RABBITMQ_QUEUE_TYPE=quorum (docs/kubernetes.md): ticket.events.queue is declared as a quorum queue, which a
RabbitMQ cluster replicates over its nodes, and messages go through it as through a classic one. A queue that
already exists with the other type is refused by RabbitMQ; PFlow says so and what to do, and publishes nothing."""

from __future__ import annotations

import subprocess
import threading
import uuid

import pytest

from pflow.adapters.kombu.bus import KombuEventConsumer, KombuEventPublisher
from pflow.domain import events as ev
from pflow.domain.errors import ServiceUnavailable
from tests.support import RABBITMQ_URL, delete_rabbitmq_topology, require_rabbitmq

pytestmark = pytest.mark.integration


@pytest.fixture
def names():
    require_rabbitmq()
    suffix = uuid.uuid4().hex[:8]
    exchange, queue = f"pflow.test.quorum.{suffix}", f"pflow.test.quorum.{suffix}.queue"
    yield exchange, queue
    delete_rabbitmq_topology(exchange, queue)


def queue_type(queue: str) -> str:
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "type"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    types = dict(line.split("\t")[:2] for line in out.stdout.splitlines() if "\t" in line)
    return types[queue]


def body(key: str) -> tuple[dict, str]:
    event_id = str(uuid.uuid4())
    return {"event_id": event_id, "type": key, "version": ev.SCHEMA_VERSION, "occurred_at": "2026-01-01T00:00:00+00:00",
            "ticket_id": "t-1", "actor": "alice", "data": {}}, event_id


def test_the_queue_is_a_quorum_queue_and_carries_the_messages(names):
    exchange, queue = names
    publisher = KombuEventPublisher(RABBITMQ_URL, exchange, queue, queue_type="quorum")
    consumer = KombuEventConsumer(RABBITMQ_URL, exchange, queue, queue_type="quorum")
    try:
        sent = [body("ticket.created"), body("ticket.submitted")]
        for message, event_id in sent:
            publisher.publish(message["type"], message, message_id=event_id)
        assert queue_type(queue) == "quorum"
        got = []
        consumer.consume(got.append, threading.Event(), idle_timeout=1.0)
        assert [m.message_id for m in got] == [event_id for _, event_id in sent]
    finally:
        publisher.close()
        consumer.close()


def test_a_classic_queue_of_that_name_is_refused_with_what_to_do(names):
    exchange, queue = names
    classic = KombuEventPublisher(RABBITMQ_URL, exchange, queue)
    classic.check()
    classic.close()
    assert queue_type(queue) == "classic"
    quorum = KombuEventPublisher(RABBITMQ_URL, exchange, queue, queue_type="quorum")
    try:
        with pytest.raises(ServiceUnavailable) as err:
            quorum.check()
        assert "RABBITMQ_QUEUE_TYPE" in err.value.message and "RABBITMQ_TICKET_QUEUE" in err.value.message
        assert "delete" in err.value.message
    finally:
        quorum.close()
