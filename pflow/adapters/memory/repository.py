"""Tickets and outbox in a dict, with the same transaction and locking rules as the database."""

from __future__ import annotations

import copy
import threading
from datetime import datetime, timezone
from typing import Callable

from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable
from pflow.domain.events import DomainEvent
from pflow.domain.model import Ticket
from pflow.ports.repository import Outbox, OutboxMessage, Page, TicketQuery, TicketRepository, UnitOfWork


def _state(ticket: Ticket) -> tuple:
    return (ticket.title, ticket.description, ticket.amount, ticket.priority, ticket.status, ticket.approver,
            ticket.fulfilment_reference, len(ticket.history))


class InMemoryStore:
    """The shared 'database': committed tickets and outbox messages."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tickets: dict[str, Ticket] = {}
        self.outbox: list[OutboxMessage] = []
        self.sent: set[int] = set()
        self.attempts: dict[int, int] = {}
        self._next_outbox_id = 1
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
            ticket = copy.deepcopy(stored)
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
        items = [copy.deepcopy(t) for t in matches[query.offset:query.offset + query.page_size]]
        return Page(items=items, total=len(matches), page=query.page, page_size=query.page_size)


class InMemoryOutbox(Outbox):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: list[DomainEvent] = []
        self.staged_sent: list[int] = []
        self.staged_failures: list[int] = []

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

    def _apply(self) -> int:
        """Write staged changes into the store (caller holds the store lock)."""
        store = self._store
        for event in self.staged:
            store.outbox.append(OutboxMessage(
                id=store._next_outbox_id, event_id=event.event_id, ticket_id=event.ticket_id,
                routing_key=event.routing_key, body=event.to_message(), created_at=datetime.now(timezone.utc)))
            store._next_outbox_id += 1
        store.sent.update(self.staged_sent)
        for message_id in self.staged_failures:
            store.attempts[message_id] = store.attempts.get(message_id, 0) + 1
        written = len(self.staged)
        self.staged, self.staged_sent, self.staged_failures = [], [], []
        return written


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore, on_events_committed: Callable[[], None] | None = None) -> None:
        self._store = store
        self._on_events_committed = on_events_committed
        self.tickets = InMemoryTicketRepository(store)
        self.outbox = InMemoryOutbox(store)
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
            for ticket, bump in changed:
                if bump:
                    ticket.version += 1
                self._store.tickets[ticket.id] = copy.deepcopy(ticket)
                repo.loaded_versions[ticket.id] = ticket.version
            repo.added.clear()
            written = self.outbox._apply()
        self.committed = True
        if written and self._on_events_committed:
            self._on_events_committed()

    def rollback(self) -> None:
        self.outbox.staged.clear()
        self.outbox.staged_sent.clear()
        self.outbox.staged_failures.clear()

    def check(self) -> None:
        self._store.ensure_available()
