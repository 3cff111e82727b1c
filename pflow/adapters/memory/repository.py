"""Tickets and outbox in a dict, with the same transaction and locking rules as the database."""

from __future__ import annotations

import copy
import dataclasses
import threading
from datetime import datetime, timezone
from typing import Callable

from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable
from pflow.domain.events import DomainEvent
from pflow.domain.model import HistoryEntry, Ticket
from pflow.domain.notifications import Notification
from pflow.ports.repository import (
    NotificationPage,
    NotificationRepository,
    Outbox,
    OutboxMessage,
    Page,
    ProcessedEvents,
    TicketQuery,
    TicketRepository,
    UnitOfWork,
    check_page,
)


def _clone(ticket: Ticket) -> Ticket:
    """A detached copy through the constructor (not deepcopy: once the SQL mappers have started in
    this process the class is instrumented, and copying SQLAlchemy's bookkeeping breaks)."""
    return Ticket(
        id=ticket.id, title=ticket.title, description=ticket.description, amount=ticket.amount,
        priority=ticket.priority, requester=ticket.requester, status=ticket.status, approver=ticket.approver,
        fulfilment_reference=ticket.fulfilment_reference, created_at=ticket.created_at,
        updated_at=ticket.updated_at, version=ticket.version,
        history=[HistoryEntry(at=h.at, actor=h.actor, action=h.action, from_status=h.from_status,
                              to_status=h.to_status, comment=h.comment, details=copy.deepcopy(h.details))
                 for h in ticket.history],
    )


def _copy_notification(n: Notification) -> Notification:
    return dataclasses.replace(n, params=dict(n.params))


def _state(ticket: Ticket) -> tuple:
    return (ticket.title, ticket.description, ticket.amount, ticket.priority, ticket.status, ticket.approver,
            ticket.fulfilment_reference, len(ticket.history))


class InMemoryStore:
    """The shared 'database': committed tickets and outbox messages."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tickets: dict[str, Ticket] = {}
        self.outbox: list[OutboxMessage] = []
        self.sent: dict[int, datetime] = {}  # message id -> when the broker confirmed it
        self.attempts: dict[int, int] = {}
        self._next_outbox_id = 1
        self.notifications: dict[str, Notification] = {}
        self.processed: set[tuple[str, str]] = set()
        self.available = True  # tests flip this to simulate an unreachable database

    def ensure_available(self) -> None:
        if not self.available:
            raise ServiceUnavailable("database", "the database is unavailable (in-memory store switched off)")


class InMemoryTicketRepository(TicketRepository):
    def __init__(self, store: InMemoryStore) -> None:
        super().__init__()
        self._store = store
        self.added: set[str] = set()
        self.loaded_versions: dict[str, int] = {}

    def _add(self, ticket: Ticket) -> None:
        self.added.add(ticket.id)

    def _get(self, ticket_id: str) -> Ticket:
        self._store.ensure_available()
        with self._store.lock:
            stored = self._store.tickets.get(ticket_id)
            if stored is None:
                raise NotFound(f"Ticket {ticket_id} was not found.")
            ticket = _clone(stored)
        self.loaded_versions[ticket.id] = ticket.version
        return ticket

    def list(self, query: TicketQuery) -> Page[Ticket]:
        self._store.ensure_available()
        with self._store.lock:
            tickets = list(self._store.tickets.values())
        text = query.text.lower() if query.text else None
        matches = [
            t for t in tickets
            if (query.status is None or t.status == query.status)
            and (query.requester is None or t.requester == query.requester)
            and (query.exclude_requester is None or t.requester != query.exclude_requester)
            and (text is None or text in t.title.lower() or text in t.description.lower())
        ]
        matches.sort(key=lambda t: (t.created_at, t.id), reverse=not query.oldest_first)
        items = [_clone(t) for t in matches[query.offset:query.offset + query.page_size]]
        return Page(items=items, total=len(matches), page=query.page, page_size=query.page_size)


class InMemoryOutbox(Outbox):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: list[DomainEvent] = []
        self.staged_sent: list[int] = []
        self.staged_failures: list[int] = []
        self.staged_purge: tuple[datetime, int] | None = None

    def add(self, event: DomainEvent) -> None:
        self.staged.append(event)

    def pending(self, limit: int = 100) -> list[OutboxMessage]:
        self._store.ensure_available()
        with self._store.lock:
            out = [m for m in self._store.outbox if m.id not in self._store.sent][:limit]
            return [OutboxMessage(**{**m.__dict__, "attempts": self._store.attempts.get(m.id, 0)}) for m in out]

    def mark_sent(self, message_ids: list[int]) -> None:
        self.staged_sent.extend(message_ids)

    def record_failure(self, message_id: int, error: str) -> None:
        self.staged_failures.append(message_id)

    def purge_sent(self, sent_before: datetime, limit: int = 1000) -> int:
        self._store.ensure_available()
        with self._store.lock:
            count = sum(1 for at in self._store.sent.values() if at < sent_before)
        self.staged_purge = (sent_before, limit)
        return min(count, limit)

    def _apply(self) -> int:
        """Write staged changes into the store (caller holds the store lock)."""
        store = self._store
        for event in self.staged:
            store.outbox.append(OutboxMessage(
                id=store._next_outbox_id, event_id=event.event_id, ticket_id=event.ticket_id,
                routing_key=event.routing_key, body=event.to_message(), created_at=datetime.now(timezone.utc)))
            store._next_outbox_id += 1
        now = datetime.now(timezone.utc)
        store.sent.update((message_id, now) for message_id in self.staged_sent)
        for message_id in self.staged_failures:
            store.attempts[message_id] = store.attempts.get(message_id, 0) + 1
        if self.staged_purge:
            before, limit = self.staged_purge
            gone = [m for m, at in sorted(store.sent.items()) if at < before][:limit]
            store.outbox = [m for m in store.outbox if m.id not in set(gone)]
            for message_id in gone:
                del store.sent[message_id]
                store.attempts.pop(message_id, None)
        written = len(self.staged)
        self.staged, self.staged_sent, self.staged_failures, self.staged_purge = [], [], [], None
        return written


class InMemoryNotificationRepository(NotificationRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: dict[str, Notification] = {}  # new or changed, by id

    def add(self, notification: Notification) -> None:
        self.staged[notification.id] = _copy_notification(notification)

    def _current(self, recipient: str) -> list[Notification]:
        with self._store.lock:
            merged = {**self._store.notifications, **self.staged}
        return [n for n in merged.values() if n.recipient == recipient]

    def list_for(self, recipient: str, *, unread_only: bool = False, page: int = 1,
                 page_size: int = 20) -> NotificationPage:
        check_page(page, page_size)
        self._store.ensure_available()
        mine = self._current(recipient)
        unread = [n for n in mine if n.read_at is None]
        listed = sorted(unread if unread_only else mine, key=lambda n: (n.created_at, n.id), reverse=True)
        start = (page - 1) * page_size
        return NotificationPage(items=[_copy_notification(n) for n in listed[start:start + page_size]],
                                total=len(listed), unread=len(unread), page=page, page_size=page_size)

    def get(self, notification_id: str, recipient: str) -> Notification:
        self._store.ensure_available()
        with self._store.lock:
            found = self.staged.get(notification_id) or self._store.notifications.get(notification_id)
        if found is None or found.recipient != recipient:
            raise NotFound(f"Notification {notification_id} was not found.")
        return _copy_notification(found)

    def mark_read(self, notification_id: str, recipient: str, at: datetime) -> Notification:
        notification = self.get(notification_id, recipient)
        notification.mark_read(at)
        self.staged[notification.id] = _copy_notification(notification)
        return notification

    def mark_all_read(self, recipient: str, at: datetime) -> int:
        self._store.ensure_available()
        unread = [n for n in self._current(recipient) if n.read_at is None]
        for n in unread:
            changed = _copy_notification(n)
            changed.mark_read(at)
            self.staged[n.id] = changed
        return len(unread)


class InMemoryProcessedEvents(ProcessedEvents):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: set[tuple[str, str]] = set()

    def contains(self, consumer: str, event_id: str) -> bool:
        self._store.ensure_available()
        with self._store.lock:
            return (consumer, event_id) in self._store.processed

    def add(self, consumer: str, event_id: str) -> None:
        self.staged.add((consumer, event_id))


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore, on_events_committed: Callable[[], None] | None = None) -> None:
        self._store = store
        self._on_events_committed = on_events_committed
        self.tickets = InMemoryTicketRepository(store)
        self.outbox = InMemoryOutbox(store)
        self.notifications = InMemoryNotificationRepository(store)
        self.processed_events = InMemoryProcessedEvents(store)
        self.committed = False

    def _commit(self) -> None:
        self._store.ensure_available()
        repo = self.tickets
        with self._store.lock:
            # Check every ticket first so a conflict writes nothing at all.
            changed = []
            for ticket in repo.seen:
                stored = self._store.tickets.get(ticket.id)
                if ticket.id in repo.added:
                    if stored is not None:
                        raise ConcurrencyConflict(f"Ticket {ticket.id} already exists.")
                    changed.append((ticket, False))
                elif stored is None or stored.version != repo.loaded_versions.get(ticket.id):
                    raise ConcurrencyConflict(
                        f"Ticket {ticket.id} was changed by someone else; reload and try again.")
                elif _state(stored) != _state(ticket):
                    changed.append((ticket, True))
            already = self.processed_events.staged & self._store.processed
            if already:
                raise ConcurrencyConflict(f"Event {sorted(already)[0][1]} was already processed.")
            for ticket, bump in changed:
                if bump:
                    ticket.version += 1
                self._store.tickets[ticket.id] = _clone(ticket)
                repo.loaded_versions[ticket.id] = ticket.version
            repo.added.clear()
            written = self.outbox._apply()
            self._store.notifications.update(self.notifications.staged)
            self._store.processed.update(self.processed_events.staged)
            self.notifications.staged.clear()
            self.processed_events.staged.clear()
        self.committed = True
        if written and self._on_events_committed:
            self._on_events_committed()

    def rollback(self) -> None:
        self.outbox.staged.clear()
        self.outbox.staged_sent.clear()
        self.outbox.staged_failures.clear()
        self.outbox.staged_purge = None
        self.notifications.staged.clear()
        self.processed_events.staged.clear()

    def check(self) -> None:
        self._store.ensure_available()
