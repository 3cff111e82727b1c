"""A durable local message store for the embedded default: kombu's SQLAlchemy transport,
with acknowledgements that survive a crash.

kombu's stock SQLAlchemy transport marks a message invisible when it hands it out and
keeps the unacknowledged copy only in the consumer's memory: if the process dies before
the ack, the message is gone, and acknowledged rows are never deleted. Here a message
stays in its table until it is acknowledged (then it is deleted); a message that was
handed out and never acknowledged becomes visible again after ``visibility_timeout``
seconds (default 300), and a rejected or unacked-at-shutdown message becomes visible at
once, in its original position, so a ticket's events keep their order.

A process that starts consuming a queue first takes back every lease left on it: a lease it
finds then was handed out by a process that is gone (killed before it could ack), and its
message is delivered again at once instead of after the visibility timeout. If two processes
do consume one file, the second one's start may deliver a message twice; consumers apply each
event once (they record its id), so nothing is applied twice.

Exchanges and bindings live in the process, as in every kombu virtual transport: the
publisher declares the queue and its binding when it connects, so messages published
before any consumer started are kept.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from json import dumps, loads
from queue import Empty

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import and_, insert, or_, select, text, update
from sqlalchemy.exc import OperationalError

from pflow.adapters.database.engine import create_db_engine

DEFAULT_VISIBILITY_TIMEOUT_S = 300.0



_reclaimed: set[tuple[str, str]] = set()  # (database, queue) whose leftover leases this process took back
_reclaimed_lock = threading.Lock()


class Channel(kombu_sqla.Channel):
    _engines: dict = {}  # our own engine cache (the base class shares one across all its users)

    def __init__(self, connection, **kwargs):
        super().__init__(connection, **kwargs)
        options = connection.client.transport_options
        self.visibility_timeout = float(options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT_S))
        self._rows: dict[str, int] = {}  # delivery tag -> message row handed out and not yet settled
        self._taken_back: set[int] = set()  # rows whose lease this channel took back from a dead process
        self._queue_ids: dict[str, int] = {}

    def _queue_id(self, queue: str) -> int:
        """The queue's row id, looked up (or created) once per channel: queue rows are never dropped (purging
        a queue deletes its messages), and looking one up through the ORM on every message cost more than
        storing the message."""
        queue_id = self._queue_ids.get(queue)
        if queue_id is None:
            queue_id = self._queue_ids[queue] = self._get_or_create(queue).id
        return queue_id

    def _put(self, queue, payload, **kwargs):
        messages = self.message_cls.__table__
        try:
            self.session.execute(insert(messages), {"queue_id": self._queue_id(queue), "payload": dumps(payload)})
            self.session.commit()
        except OperationalError:
            # The publish fails (and can be retried) rather than report a message that was never stored.
            self.session.rollback()
            raise

    def _engine_from_config(self):
        # WAL, foreign keys and a busy timeout, like the ticket store: several threads share the file.
        return create_db_engine(self.connection.client.hostname)

    def _reclaim_leftover_leases(self, queue: str, queue_id: int) -> None:
        key = (str(self.connection.client.hostname), queue)
        with _reclaimed_lock:
            if key in _reclaimed:
                return
            _reclaimed.add(key)
        leftover = self.session.query(self.message_cls).filter(
            self.message_cls.queue_id == queue_id, self.message_cls.visible == False  # noqa: E712
        )
        self._taken_back.update(row.id for row in leftover)
        leftover.update({"visible": True}, synchronize_session=False)
        self.session.commit()

    def _get(self, queue):
        queue_id = self._queue_id(queue)
        self._reclaim_leftover_leases(queue, queue_id)
        session = self.session
        m = self.message_cls.__table__.c
        if session.bind.name == "sqlite":
            session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            lease_expired = datetime.now() - timedelta(seconds=self.visibility_timeout)
            # Core statements, not ORM objects: the row is locked (BEGIN IMMEDIATE, FOR UPDATE) from the read
            # to the lease's commit, so no version check is needed, and the ORM's cost per message was a
            # large share of the all-in-one server's CPU.
            row = session.execute(
                select(m.id, m.visible, m.payload).with_for_update()
                .where(m.queue_id == queue_id,
                       or_(m.visible != False,  # noqa: E712 - SQL comparison
                           and_(m.visible == False, m.timestamp < lease_expired)))  # noqa: E712
                .order_by(m.id).limit(1)).first()
            if row is None:
                raise Empty()
            redelivered = row.visible is False or row.id in self._taken_back
            self._taken_back.discard(row.id)
            # the lease starts now
            session.execute(update(self.message_cls.__table__).where(m.id == row.id)
                            .values(visible=False, timestamp=datetime.now(), version=m.version + 1))
            payload = loads(bytes_to_str(row.payload))
            row_id = row.id
        finally:
            session.commit()
        if redelivered:
            payload["redelivered"] = True
        self._rows[payload["properties"]["delivery_tag"]] = row_id
        return payload

    def _delete_row(self, row_id: int) -> None:
        self.session.query(self.message_cls).filter(self.message_cls.id == row_id).delete(synchronize_session=False)
        self.session.commit()

    def basic_ack(self, delivery_tag, multiple=False):
        super().basic_ack(delivery_tag, multiple)
        row_id = self._rows.pop(delivery_tag, None)
        if row_id is not None:
            self._delete_row(row_id)

    def basic_reject(self, delivery_tag, requeue=False):
        super().basic_reject(delivery_tag, requeue=requeue)  # requeue goes through _restore below
        row_id = self._rows.pop(delivery_tag, None)
        if row_id is not None and not requeue:
            self._delete_row(row_id)

    def _restore(self, message):
        row_id = self._rows.pop(message.delivery_tag, None)
        if row_id is None:
            return super()._restore(message)
        payload = message.serializable()
        payload["redelivered"] = True
        self.session.query(self.message_cls).filter(self.message_cls.id == row_id).update(
            {"visible": True, "payload": dumps(payload)}, synchronize_session=False)
        self.session.commit()

    def _restore_at_beginning(self, message):
        return self._restore(message)


class Transport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = 0.1
    driver_name = "pflow-sqlalchemy"
