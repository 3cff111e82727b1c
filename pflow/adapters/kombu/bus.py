"""Publishing and consuming ticket events with kombu.

The URL picks the transport:

* ``amqp://user:pass@host:5672/vhost`` - RabbitMQ: durable topic exchange, durable queue bound to
  ``ticket.#`` and ``task.#``, persistent messages, publisher confirms.
* ``sqla+sqlite:///path/events.db`` (or ``sqla+postgresql://...``) - a durable local store
  (``sql_transport``), for the embedded default: no broker to run, events survive restarts.
* ``memory://`` - kombu's in-process transport, for tests.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from amqp.exceptions import AMQPError
from kombu import Connection, Consumer, Exchange, Producer, Queue, binding
from kombu.exceptions import KombuError
from kombu.utils.url import maybe_sanitize_url

from pflow.adapters.kombu import memory_transport, sql_transport
from pflow.domain.errors import ServiceUnavailable
from pflow.domain.events import REASON_MAX, shown
from pflow.ports.events import EventConsumer, EventPublisher, MessageHandler, ReceivedMessage, RejectMessage

log = logging.getLogger(__name__)

# Ticket events and step events (task.created, task.completed) reach the queue.
BINDING_KEY = ("ticket.#", "task.#")
SQL_PREFIXES = ("sqla+", "sqlalchemy+")
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")
CONNECT_TIMEOUT_S = 5.0
CONFIRM_TIMEOUT_S = 10.0
HEARTBEAT_S = 30


def is_local_store(url: str) -> bool:
    return url.startswith(SQL_PREFIXES)


def describe(url: str) -> str:
    """Where the broker is, without the password."""
    if is_local_store(url):
        target = url.split("+", 1)[1]
        return f"the local event store {maybe_sanitize_url(target)}"
    return f"the event broker at {maybe_sanitize_url(url)}"


def _hint(url: str) -> str:
    if is_local_store(url):
        return "check that its folder exists and is writable, or set RABBITMQ_URL"
    if url.startswith("memory:"):
        return "the in-process transport cannot be down; this is a bug"
    return ("start RabbitMQ (e.g. `rabbitmq-server -detached`, or `.ci/services.sh` on a dev machine) "
            "or fix RABBITMQ_URL")


def make_connection(url: str, *, heartbeat: int = 0,
                    visibility_timeout_s: float = sql_transport.DEFAULT_VISIBILITY_TIMEOUT_S) -> Connection:
    """A kombu connection (not yet connected) for RABBITMQ_URL. ``visibility_timeout_s``: how long the
    local store waits for the ack of a message it handed out before handing it out again."""
    if is_local_store(url):
        return Connection(url.split("+", 1)[1], transport=sql_transport.Transport,
                          transport_options={"polling_interval": 0.1, "visibility_timeout": visibility_timeout_s})
    if url.startswith("memory://"):
        return Connection(url, transport=memory_transport.Transport)
    if url.startswith(AMQP_SCHEMES):
        return Connection(url, connect_timeout=CONNECT_TIMEOUT_S, heartbeat=heartbeat,
                          transport_options={"confirm_publish": True})
    scheme = url.split("://", 1)[0] if "://" in url else url
    raise ValueError(f"RABBITMQ_URL scheme {scheme!r} is not supported: use amqp://user:pass@host:5672/ (RabbitMQ), "
                     "sqla+sqlite:///path/events.db (local store) or memory:// (tests)")


def _connect(connection: Connection) -> None:
    """Connect once, now: retrying is the caller's business (relay backoff, consumer reconnect)."""
    connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2)


def _broker_errors(connection: Connection | None) -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, socket.timeout, TimeoutError, AMQPError, KombuError)
    if connection is not None:
        errors += tuple(connection.connection_errors) + tuple(connection.channel_errors)
    return errors


def _unavailable(url: str, exc: BaseException) -> ServiceUnavailable:
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    if "x-queue-type" in str(exc):
        # the queue exists with another type: RabbitMQ refuses to declare it otherwise, and never converts it
        return ServiceUnavailable(
            "event broker", f"{describe(url)} refused the queue declaration ({reason}): the queue exists with another "
            "type than RABBITMQ_QUEUE_TYPE asks for. RabbitMQ does not convert a queue: drain it and delete it "
            "(rabbitmqctl delete_queue), or name a new one with RABBITMQ_TICKET_QUEUE, or keep its type.",
            public_message="The event broker is unavailable; try again in a moment.")
    return ServiceUnavailable("event broker", f"{describe(url)} is unreachable ({reason}); {_hint(url)}.",
                              public_message="The event broker is unavailable; try again in a moment.")


def _traceparent(headers: Any) -> str | None:
    """The W3C trace context a message carries (None when it carries none, or something else)."""
    value = headers.get("traceparent") if isinstance(headers, dict) else None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if isinstance(value, str) and 0 < len(value) <= 100 else None


class _Topology:
    """The exchange, the queue and its binding, declared by publisher and consumer alike, so
    no message is dropped for want of a queue whichever of them starts first."""

    def __init__(self, exchange: str, queue: str, binding_key: str | tuple[str, ...] = BINDING_KEY,
                 queue_type: str = "classic") -> None:
        self.exchange = Exchange(exchange, type="topic", durable=True, delivery_mode="persistent")
        keys = (binding_key,) if isinstance(binding_key, str) else tuple(binding_key)
        # quorum (RABBITMQ_QUEUE_TYPE=quorum): replicated over a RabbitMQ cluster's nodes (docs/kubernetes.md);
        # the local store and the in-memory transport ignore the argument
        arguments = {"x-queue-type": "quorum"} if queue_type == "quorum" else None
        self.queue = Queue(queue, bindings=[binding(self.exchange, routing_key=k) for k in keys], durable=True,
                           auto_delete=False, queue_arguments=arguments)


class KombuEventPublisher(EventPublisher):
    """Publishes with confirmation. One connection, kept open and re-made after a failure;
    safe to share between threads (publishes are serialised)."""

    def __init__(self, url: str, exchange: str = "ticket.events", queue: str = "ticket.events.queue", *,
                 binding_key: str | tuple[str, ...] = BINDING_KEY, confirm_timeout_s: float = CONFIRM_TIMEOUT_S,
                 queue_type: str = "classic") -> None:
        make_connection(url)  # refuse an unsupported URL now, not at the first publish
        self.url = url
        self._topology = _Topology(exchange, queue, binding_key, queue_type)
        self.confirm_timeout_s = confirm_timeout_s
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def _ready_producer(self) -> Producer:
        if self._producer is None:
            connection = make_connection(self.url)
            self._connection = connection
            _connect(connection)
            channel = connection.channel()
            self._topology.queue(channel).declare()
            self._producer = Producer(channel, exchange=self._topology.exchange, serializer="json")
        return self._producer

    def publish(self, routing_key: str, body: dict[str, Any], *, message_id: str,
                traceparent: str | None = None) -> None:
        with self._lock:
            try:
                producer = self._ready_producer()
                producer.publish(
                    body,
                    routing_key=routing_key,
                    serializer="json",  # content type application/json, utf-8
                    delivery_mode=2,  # persistent
                    message_id=message_id,
                    type=str(body.get("type", routing_key)),
                    # W3C trace context in the AMQP headers, where OpenTelemetry's messaging conventions put it
                    headers={"traceparent": traceparent} if traceparent else None,
                    retry=False,  # the outbox relay retries, with backoff, from the database
                    confirm_timeout=self.confirm_timeout_s,
                )
            except _broker_errors(self._connection) as exc:
                self._reset()
                raise _unavailable(self.url, exc) from exc

    def check(self) -> None:
        """A round trip on the publishing connection (declaring the queue, which also re-creates a deleted
        one), made first if there is none: cheap enough for a readiness probe polled every second, and no
        new broker connection per probe."""
        with self._lock:
            try:
                producer = self._ready_producer()
                self._topology.queue(producer.channel).declare()
            except _broker_errors(self._connection) as exc:
                self._reset()
                raise _unavailable(self.url, exc) from exc

    def _reset(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        _release(connection)

    def close(self) -> None:
        with self._lock:
            self._reset()


def _release(connection: Connection | None) -> None:
    if connection is None:
        return
    try:
        connection.release()
    except Exception:  # closing a broken connection: nothing more to do
        log.debug("error while closing a broker connection", exc_info=True)


class KombuEventConsumer(EventConsumer):
    """Consumes the queue with prefetch 1 and manual acks; reconnects with backoff."""

    def __init__(self, url: str, exchange: str = "ticket.events", queue: str = "ticket.events.queue", *,
                 binding_key: str | tuple[str, ...] = BINDING_KEY, max_backoff_s: float = 30.0, poll_s: float = 0.5,
                 visibility_timeout_s: float = sql_transport.DEFAULT_VISIBILITY_TIMEOUT_S,
                 queue_type: str = "classic") -> None:
        make_connection(url)
        self.url = url
        self.visibility_timeout_s = visibility_timeout_s
        self._topology = _Topology(exchange, queue, binding_key, queue_type)
        self.max_backoff_s = max_backoff_s
        self.poll_s = poll_s
        self.connected = threading.Event()  # set while consuming (tests and readiness read it)

    def consume(self, handler: MessageHandler, stop: threading.Event, *, idle_timeout: float | None = None) -> int:
        handled = 0
        backoff = 0.0
        last_activity = time.monotonic()
        while not stop.is_set():
            connection = make_connection(self.url, heartbeat=HEARTBEAT_S, visibility_timeout_s=self.visibility_timeout_s)
            outcome: dict[str, Any] = {}

            def on_message(body: Any, message) -> None:
                nonlocal handled, last_activity
                last_activity = time.monotonic()
                outcome.clear()
                routing_key = message.delivery_info.get("routing_key", "")
                if not isinstance(body, dict):
                    log.error("dropping message on %s: the body is not a JSON object", routing_key)
                    message.reject(requeue=False)
                    return
                received = ReceivedMessage(
                    routing_key=routing_key, body=body,
                    message_id=message.properties.get("message_id") or body.get("event_id"),
                    # AMQP says so in delivery_info; kombu's virtual transports keep it in the raw payload.
                    redelivered=bool(message.delivery_info.get("redelivered")
                                     or (getattr(message, "_raw", None) or {}).get("redelivered")),
                    traceparent=_traceparent(message.headers))
                try:
                    handler(received)
                except RejectMessage as exc:
                    log.warning("dropping message %s (%s): %s", shown(received.message_id), shown(routing_key),
                                str(exc)[:REASON_MAX])
                    message.reject(requeue=False)
                except Exception as exc:  # keep it: put it back and slow down
                    message.requeue()
                    outcome["failed"] = exc
                else:
                    message.ack()
                    handled += 1

            def on_decode_error(message, exc) -> None:
                log.error("dropping a message that is not JSON (content type %r): %s", message.content_type, exc)
                message.reject(requeue=False)

            try:
                _connect(connection)
                channel = connection.channel()
                queue = self._topology.queue(channel)
                queue.declare()
                with Consumer(channel, queues=[queue], callbacks=[on_message], accept=["json"],
                              prefetch_count=1, on_decode_error=on_decode_error):
                    if backoff:
                        log.info("event consumer: %s reachable again", describe(self.url))
                    backoff = 0.0
                    self.connected.set()
                    failures = 0
                    while not stop.is_set():
                        wait = self.poll_s
                        if idle_timeout is not None:
                            wait = max(0.02, min(wait, idle_timeout - (time.monotonic() - last_activity)))
                        try:
                            connection.drain_events(timeout=wait)
                        except socket.timeout:
                            connection.heartbeat_check()
                            if idle_timeout is not None and time.monotonic() - last_activity >= idle_timeout:
                                return handled
                            continue
                        if "failed" in outcome:
                            failures += 1
                            wait = min(self.max_backoff_s, 0.1 * 2 ** min(failures, 10))
                            log.warning("event consumer: handling failed (%s); redelivering in %.1fs",
                                        outcome["failed"], wait)
                            stop.wait(wait)
                        else:
                            failures = 0
            except _broker_errors(connection) as exc:
                self.connected.clear()
                backoff = min(self.max_backoff_s, backoff * 2 or 0.5)
                log.warning("event consumer: %s; reconnecting in %.1fs", _unavailable(self.url, exc).message, backoff)
                stop.wait(backoff)
            finally:
                self.connected.clear()
                _release(connection)
        return handled

    def check(self) -> None:
        connection = make_connection(self.url)
        try:
            _connect(connection)
            connection.channel()
        except _broker_errors(connection) as exc:
            raise _unavailable(self.url, exc) from exc
        finally:
            _release(connection)
