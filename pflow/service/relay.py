"""The outbox relay: publishes committed domain events, in commit order, at least once."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

from pflow import tracing
from pflow.domain.errors import ServiceUnavailable
from pflow.ports.events import EventPublisher
from pflow.ports.telemetry import NO_TELEMETRY, Telemetry
from pflow.service.tickets import UnitOfWorkFactory

log = logging.getLogger(__name__)


class OutboxRelay:
    """Moves messages from the outbox to the broker.

    A message is marked sent only after the broker confirmed it, so a crash
    or a broker outage can only cause a message to be sent again (consumers
    dedupe by event id), never lost. Messages go out in outbox order; the
    first failure stops the batch so a ticket's events never overtake each
    other.

    Sent messages are kept ``retention`` (the audit trail of what went out, and for replays by
    hand), then deleted by ``purge`` about every ``purge_interval_s``; ``retention=None`` keeps
    them forever.
    """

    def __init__(self, uow_factory: UnitOfWorkFactory, publisher: EventPublisher, *, batch_size: int = 100,
                 max_backoff_s: float = 30.0, wakeup: threading.Event | None = None,
                 retention: timedelta | None = timedelta(days=7), purge_interval_s: float = 3600.0,
                 telemetry: Telemetry = NO_TELEMETRY) -> None:
        self._telemetry = telemetry
        self._uow = uow_factory
        self._publisher = publisher
        self.batch_size = batch_size
        self.max_backoff_s = max_backoff_s
        self.retention = retention
        self.purge_interval_s = purge_interval_s
        # Set by the unit of work after a commit that wrote events (see the container).
        self.wakeup = wakeup or threading.Event()

    def notify(self) -> None:
        """Called after a commit that wrote events, so they go out without waiting for the next poll."""
        self.wakeup.set()

    def publish_pending(self) -> int:
        """Publish one batch; returns how many were confirmed. Raises ``ServiceUnavailable``
        when the broker or the database is down (after recording what was sent)."""
        with self._uow() as uow:
            if not uow.outbox.try_lock_relay():
                return 0  # another process's relay is publishing; it keeps each ticket's order
            messages = uow.outbox.pending(self.batch_size)
            sent: list[int] = []
            failure: ServiceUnavailable | None = None
            for message in messages:
                try:
                    # a span in the trace of the request that wrote the event; the message carries it on
                    with tracing.span(f"{message.routing_key} publish", parent=message.traceparent,
                                      kind=tracing.SpanKind.PRODUCER,
                                      attributes={tracing.TICKET_ID: message.ticket_id,
                                                  "messaging.message.id": message.event_id}):
                        self._publisher.publish(message.routing_key, message.body, message_id=message.event_id,
                                                traceparent=tracing.current_traceparent() or message.traceparent)
                except ServiceUnavailable as exc:
                    uow.outbox.record_failure(message.id, exc.message)
                    self._telemetry.relay_failed()
                    failure = exc
                    break
                sent.append(message.id)
            if sent:
                uow.outbox.mark_sent(sent)
            if sent or failure:
                uow.commit()
        if sent:
            self._telemetry.relay_published(len(sent))
        if failure:
            raise failure
        return len(sent)

    def purge(self, now: datetime | None = None, batch: int = 1000) -> int:
        """Delete the messages sent longer than ``retention`` ago, a batch per transaction;
        returns how many. Unsent messages stay, however old."""
        if self.retention is None:
            return 0
        before = (now or datetime.now(timezone.utc)) - self.retention
        total = 0
        while True:
            with self._uow() as uow:
                n = uow.outbox.purge_sent(before, batch)
                uow.commit()
            total += n
            if n < batch:
                break
        if total:
            log.info("event relay: deleted %d events sent before %s", total, before.isoformat(timespec="seconds"))
        return total

    def drain(self) -> int:
        """Publish until the outbox is empty (tests, shutdown)."""
        total = 0
        while (n := self.publish_pending()) > 0:
            total += n
        return total

    def run(self, stop: threading.Event, poll_interval_s: float = 1.0) -> None:
        backoff = 0.0
        down = ""  # what the last failed round could not reach: the database (outbox) or the broker
        next_purge = time.monotonic()
        while not stop.is_set():
            try:
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.purge_interval_s
                    self.purge()
                n = self.publish_pending()
                if backoff:
                    log.info("event relay: %s", f"{down} reachable again; relaying" if down else "relaying again")
                backoff = 0.0
                if n >= self.batch_size:
                    continue
            except ServiceUnavailable as exc:
                backoff = min(self.max_backoff_s, backoff * 2 or 0.5)
                down = exc.dependency
                log.warning("event relay: %s; retrying in %.1fs", exc.message, backoff)
                stop.wait(backoff)
                continue
            except Exception:
                backoff = min(self.max_backoff_s, backoff * 2 or 0.5)
                down = ""
                log.exception("event relay failed; retrying in %.1fs", backoff)
                stop.wait(backoff)
                continue
            self.wakeup.wait(poll_interval_s)
            self.wakeup.clear()
