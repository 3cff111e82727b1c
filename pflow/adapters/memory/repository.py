"""Tickets and outbox in a dict, with the same transaction and locking rules as the database."""

from __future__ import annotations

import copy
import dataclasses
import threading
from datetime import datetime, timezone
from typing import Callable

from pflow import tracing
from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable
from pflow.domain.events import DomainEvent
from pflow.domain.model import HistoryEntry, Ticket, TicketStatus
from pflow.domain.notifications import Notification
from pflow.domain.steps import Step
from pflow.domain.substitutes import Substitution
from pflow.ports.repository import (
    AGE_BUCKETS,
    OLDEST_BUCKET,
    AttentionItem,
    DayCount,
    DecisionCount,
    DueStep,
    Duration,
    OpenStepCount,
    OverdueCount,
    OutboxBacklog,
    StatusCount,
    StoreGauges,
    TicketFigures,
    age_bucket,
    is_overdue,
    NotificationPage,
    NotificationRepository,
    Outbox,
    OutboxMessage,
    Page,
    ProcessedEvents,
    SubstituteRepository,
    TaskItem,
    TaskQuery,
    TaskReminders,
    TicketQuery,
    TicketRepository,
    UnitOfWork,
    check_page,
)


def _clone(ticket: Ticket) -> Ticket:
    """A detached copy through the constructor (not deepcopy: once the SQL mappers have started in
    this process the class is instrumented, and copying SQLAlchemy's bookkeeping breaks). Steps are
    frozen dataclasses and shared as they are."""
    return Ticket(
        id=ticket.id, type=ticket.type, title=ticket.title, fields=copy.deepcopy(dict(ticket.fields)),
        requester=ticket.requester, status=ticket.status, steps=list(ticket.steps),
        current_steps=list(ticket.current_steps), last_editor=ticket.last_editor, deciders=list(ticket.deciders),
        editors=list(ticket.editors),
        attention=ticket.attention, definition_id=ticket.definition_id, created_at=ticket.created_at,
        updated_at=ticket.updated_at, version=ticket.version, results=dict(ticket.results or {}),
        history=[HistoryEntry(at=h.at, actor=h.actor, action=h.action, from_status=h.from_status,
                              to_status=h.to_status, comment=h.comment, details=copy.deepcopy(h.details))
                 for h in ticket.history],
    )


def _copy_notification(n: Notification) -> Notification:
    return dataclasses.replace(n, params=dict(n.params))


def _state(ticket: Ticket) -> tuple:
    """What a write compares: the version goes up only when one of these changed (as the SQL store's mapper does)."""
    return (ticket.type, ticket.title, ticket.fields, ticket.requester, ticket.status, list(ticket.steps),
            list(ticket.current_steps), ticket.last_editor, list(ticket.deciders), list(ticket.editors),
            ticket.attention, ticket.definition_id, ticket.created_at, ticket.updated_at, len(ticket.history),
            dict(ticket.results))


def _search_text(ticket: Ticket) -> str:
    """The SQL store's ``search_text``: title, string fields, text results (the fulfilment reference)."""
    parts = [ticket.title or ""] + [v for _, v in sorted(ticket.fields.items()) if isinstance(v, str)]
    parts += [v for _, v in sorted((ticket.results or {}).items()) if isinstance(v, str)]
    return "\n".join(parts).lower()


def _text_matches(text: str, ticket: Ticket, *extra: str) -> bool:
    """The SQL store's rule: in the title, a string field, a text result (or an extra text), or ``#abc`` as an id prefix."""
    needle = text.strip().lower()
    if needle in _search_text(ticket) or any(needle in e.lower() for e in extra):
        return True
    return needle.startswith("#") and len(needle) > 1 and ticket.id.lower().startswith(needle[1:])


_TICKET_KEYS = {"created": lambda t: t.created_at, "updated": lambda t: t.updated_at, "title": lambda t: t.title}


def _page(matches: list, query) -> list:
    return matches[query.offset:query.offset + query.page_size]


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
        self.substitutes: dict[str, Substitution] = {}  # by the user who is away
        self.reminders: dict[tuple[str, str], datetime] = {}  # (task id, kind) -> when sent
        self.available = True  # tests flip this to simulate an unreachable database

    def ensure_available(self) -> None:
        if not self.available:
            raise ServiceUnavailable("database", "the database is unavailable (in-memory store switched off)")


class InMemoryTicketRepository(TicketRepository):
    def __init__(self, store: InMemoryStore) -> None:
        super().__init__()
        self._store = store
        self.added: set[str] = set()
        self.deleted: dict[str, Ticket] = {}
        self.loaded_versions: dict[str, int] = {}

    def _add(self, ticket: Ticket) -> None:
        self.added.add(ticket.id)
        self.deleted.pop(ticket.id, None)

    def _delete(self, ticket: Ticket) -> None:
        if ticket.id in self.added:  # never stored: forgetting it is deleting it
            self.added.discard(ticket.id)
            return
        self.deleted[ticket.id] = ticket

    def _get(self, ticket_id: str) -> Ticket:
        self._store.ensure_available()
        with self._store.lock:
            stored = self._store.tickets.get(ticket_id)
            if stored is None:
                raise NotFound(f"Ticket {ticket_id} was not found.", key="ticket.not_found", params={"id": ticket_id})
            ticket = _clone(stored)
        self.loaded_versions[ticket.id] = ticket.version
        return ticket

    def _attach(self, ticket: Ticket) -> Ticket:
        # Not read again: the commit compares the stored version with the one this ticket was read at.
        self._store.ensure_available()
        self.loaded_versions[ticket.id] = ticket.version
        return ticket

    def find_by_task(self, task_id: str) -> Ticket:
        self._store.ensure_available()
        with self._store.lock:
            found = next((t for t in self._store.tickets.values() if t.step(task_id) is not None), None)
        if found is None:
            raise NotFound(f"No ticket has an open step {task_id}.", key="task.not_found", params={"id": task_id})
        return self.get(found.id)

    def find_by_completed_task(self, task_id: str) -> Ticket | None:
        self._store.ensure_available()
        with self._store.lock:
            found = next((t for t in self._store.tickets.values() if any(
                h.action == "step_completed" and h.details.get("task_id") == task_id for h in t.history)), None)
        return self.get(found.id) if found else None

    def _committed(self) -> list[Ticket]:
        self._store.ensure_available()
        with self._store.lock:
            return list(self._store.tickets.values())

    def list(self, query: TicketQuery) -> Page[Ticket]:
        tickets = self._committed()
        statuses = set(query.statuses) | ({query.status} if query.status else set())
        text = query.text if query.text and query.text.strip() else None
        matches = [
            t for t in tickets
            if (not statuses or t.status in statuses)
            and (query.type is None or t.type == query.type)
            and (query.requester is None or t.requester == query.requester)
            and (query.exclude_requester is None or t.requester != query.exclude_requester)
            and (text is None or _text_matches(text, t))
        ]
        if query.sort is not None:
            key, descending = _TICKET_KEYS[query.sort.lstrip("-")], query.sort.startswith("-")
        else:
            key, descending = _TICKET_KEYS["created"], not query.oldest_first
        matches.sort(key=lambda t: (key(t), t.id), reverse=descending)
        items = [_clone(t) for t in _page(matches, query)]
        return Page(items=items, total=len(matches), page=query.page, page_size=query.page_size)

    def gauges(self, now: datetime) -> StoreGauges:
        tickets: dict[tuple[str, str], int] = {}
        open_counts: dict[tuple[str, str | None], int] = {}
        oldest: dict[str, datetime] = {}
        overdue: dict[str, int] = {}
        for t in self._committed():
            key = (t.type, getattr(t.status, "value", t.status))
            tickets[key] = tickets.get(key, 0) + 1
            for step in t.steps:
                if is_overdue(step, now):
                    overdue[t.type] = overdue.get(t.type, 0) + 1
                for group in set(step.candidate_groups):
                    bucket = (group, age_bucket(step.created_at, now))
                    open_counts[bucket] = open_counts.get(bucket, 0) + 1
                    if step.created_at is not None and (group not in oldest or step.created_at < oldest[group]):
                        oldest[group] = step.created_at
        return StoreGauges(
            tickets=[StatusCount(type=ty, status=st, count=n) for (ty, st), n in sorted(tickets.items())],
            open_steps=[OpenStepCount(group=g, bucket=b, count=n) for (g, b), n in open_counts.items()],
            oldest_open=oldest, overdue=[OverdueCount(type=ty, count=n) for ty, n in sorted(overdue.items())])

    def figures(self, since: datetime, now: datetime) -> TicketFigures:
        open_counts: dict[tuple[str, str | None], int] = {}
        cycle_times: list[Duration] = []
        step_times: list[Duration] = []
        days: dict = {}
        decided: dict[str, dict[str, int]] = {}
        overdue: dict[str, int] = {}
        for t in self._committed():
            for step in t.steps:
                if is_overdue(step, now):
                    overdue[t.type] = overdue.get(t.type, 0) + 1
                for group in set(step.candidate_groups):
                    key = (group, age_bucket(step.created_at, now))
                    open_counts[key] = open_counts.get(key, 0) + 1
            if t.created_at >= since:
                days.setdefault(t.created_at.astimezone(timezone.utc).date(), {}).setdefault("created", 0)
                days[t.created_at.astimezone(timezone.utc).date()]["created"] += 1
            submitted = next((h.at for h in t.history if h.action == "submitted"), None) or t.created_at
            ended = [h for h in t.history if h.action in _DECIDED]
            if ended and max(h.at for h in ended) >= since:
                end = max(ended, key=lambda h: h.at)
                cycle_times.append(Duration(type=t.type, seconds=max((end.at - submitted).total_seconds(), 0.0)))
            seen_actions: set[str] = set()
            for h in ended:
                if h.at >= since and h.action not in seen_actions:
                    seen_actions.add(h.action)
                    counts = days.setdefault(h.at.astimezone(timezone.utc).date(), {})
                    counts[h.action] = counts.get(h.action, 0) + 1
                    decided.setdefault(t.type, {}).setdefault(h.action, 0)
                    decided[t.type][h.action] += 1
            for before, h in zip([None] + t.history[:-1], t.history):
                if h.action != "step_completed" or h.at < since:
                    continue
                opened = _parse_time(h.details.get("opened_at")) or (before.at if before else None)
                if opened is not None:
                    due = _parse_time(h.details.get("due"))
                    step_times.append(Duration(type=t.type, seconds=max((h.at - opened).total_seconds(), 0.0),
                                               step=h.details.get("step"),
                                               step_name=h.details.get("step_name") or h.details.get("step"),
                                               on_time=None if due is None else h.at <= due))
        order = {b: i for i, b in enumerate([b for b, _ in AGE_BUCKETS] + [OLDEST_BUCKET])}
        open_steps = sorted((OpenStepCount(group=g, bucket=b, count=n) for (g, b), n in open_counts.items()),
                            key=lambda o: (o.group, order.get(o.bucket, len(order))))
        return TicketFigures(
            open_steps=open_steps, cycle_times=cycle_times, step_times=step_times,
            days=[DayCount(day=d, created=v.get("created", 0), completed=v.get("completed", 0),
                           rejected=v.get("rejected", 0)) for d, v in sorted(days.items())],
            decisions=[DecisionCount(type=k, completed=v.get("completed", 0), rejected=v.get("rejected", 0))
                       for k, v in sorted(decided.items())],
            overdue=[OverdueCount(type=k, count=n) for k, n in sorted(overdue.items())])

    def needing_attention(self, limit: int = 500) -> list[AttentionItem]:
        found = []
        for t in self._committed():
            if t.status != TicketStatus.NEEDS_ATTENTION:
                continue
            entry = next((h for h in reversed(t.history) if h.action == "needs_attention"), None)
            found.append(AttentionItem(ticket=_clone(t), since=entry.at if entry else None,
                                       details=dict(entry.details) if entry else {}))
        found.sort(key=lambda i: i.ticket.id)
        dated = [i for i in found if i.since is not None]
        dated.sort(key=lambda i: i.since, reverse=True)  # stable: ties stay by id
        return (dated + [i for i in found if i.since is None])[:limit]

    def tasks(self, query: TaskQuery) -> Page[TaskItem]:
        user, groups = query.username, set(query.groups)
        text = query.text if query.text and query.text.strip() else None
        found: list[tuple[Ticket, Step]] = []
        for t in self._committed():
            if query.type is not None and t.type != query.type:
                continue
            if query.ticket_status is not None and t.status != query.ticket_status:
                continue
            if query.ticket_id is not None and t.id != query.ticket_id:
                continue

            def offered(name: str, their_groups: set[str], step: Step) -> bool:
                if step.assignee:
                    return step.assignee == name
                return name in step.candidate_users or bool(their_groups & set(step.candidate_groups))

            def refused(name: str, step: Step) -> bool:
                # Separation of duties guards decisions: a step that decides nothing may be the requester's own.
                own = t.requester == name or t.last_editor == name or name in t.editors
                return query.separation_of_duties and step.is_decision and (
                    own or (step.four_eyes and name in t.deciders))

            for step in t.steps:
                reach = offered(user, groups, step) or any(
                    offered(p.username, set(p.groups), step) and not refused(p.username, step)
                    for p in query.on_behalf_of)
                if not reach or refused(user, step):
                    continue
                if query.group is not None and query.group not in step.candidate_groups:
                    continue
                if query.step is not None and step.definition_key != query.step:
                    continue
                if query.overdue is not None and is_overdue(step, query.moment) != query.overdue:
                    continue
                if text is not None and not _text_matches(text, t, step.name):
                    continue
                found.append((t, step))
        field_name = {"created": "created_at", "due": "due"}[query.sort.lstrip("-")]
        descending = query.sort.startswith("-")
        with_value = [f for f in found if getattr(f[1], field_name) is not None]
        without = [f for f in found if getattr(f[1], field_name) is None]  # last either way, as the SQL store
        with_value.sort(key=lambda f: (getattr(f[1], field_name), f[1].task_id), reverse=descending)
        without.sort(key=lambda f: f[1].task_id, reverse=descending)
        matches = with_value + without
        items = [TaskItem(ticket=_clone(t), step=step) for t, step in _page(matches, query)]
        return Page(items=items, total=len(matches), page=query.page, page_size=query.page_size)


_DECIDED = ("completed", "rejected")


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


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

    def backlog(self) -> OutboxBacklog:
        self._store.ensure_available()
        with self._store.lock:
            unsent = [m for m in self._store.outbox if m.id not in self._store.sent]
        return OutboxBacklog(unsent=len(unsent), oldest=min((m.created_at for m in unsent), default=None))

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
        traceparent = tracing.current_traceparent()
        for event in self.staged:
            store.outbox.append(OutboxMessage(
                id=store._next_outbox_id, event_id=event.event_id, ticket_id=event.ticket_id,
                routing_key=event.routing_key, body=event.to_message(), created_at=datetime.now(timezone.utc),
                traceparent=traceparent))
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
            raise NotFound(f"Notification {notification_id} was not found.", key="notification.not_found",
                           params={"id": notification_id})
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


class InMemorySubstituteRepository(SubstituteRepository):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: dict[str, Substitution | None] = {}  # user -> new substitution, None: removed

    def _current(self) -> dict[str, Substitution]:
        self._store.ensure_available()
        with self._store.lock:
            merged = {**self._store.substitutes, **self.staged}
        return {user: sub for user, sub in merged.items() if sub is not None}

    def get(self, user: str) -> Substitution | None:
        return self._current().get(user)

    def put(self, substitution: Substitution) -> None:
        self.staged[substitution.user] = substitution

    def remove(self, user: str) -> bool:
        had = user in self._current()
        self.staged[user] = None
        return had

    def standing_in_for(self, substitute: str, at: datetime) -> list[Substitution]:
        return sorted((s for s in self._current().values() if s.substitute == substitute and s.active(at)),
                      key=lambda s: s.user)

    def apply(self) -> None:
        for user, sub in self.staged.items():
            if sub is None:
                self._store.substitutes.pop(user, None)
            else:
                self._store.substitutes[user] = sub
        self.staged.clear()


class InMemoryTaskReminders(TaskReminders):
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.staged: dict[tuple[str, str], datetime] = {}

    def pending(self, kind: str, due_by: datetime, *, due_after: datetime | None = None,
                limit: int = 100) -> list[DueStep]:
        self._store.ensure_available()
        found = []
        with self._store.lock:
            for t in self._store.tickets.values():
                for step in t.steps:
                    if step.due is None or step.due > due_by or (due_after is not None and step.due <= due_after):
                        continue
                    if (step.task_id, kind) not in self._store.reminders:
                        found.append(DueStep(task_id=step.task_id, ticket_id=t.id, due=step.due))
        found.sort(key=lambda d: (d.due, d.task_id))
        return found[:limit]

    def add(self, task_id: str, ticket_id: str, kind: str, at: datetime) -> None:
        self.staged[(task_id, kind)] = at


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, store: InMemoryStore, on_events_committed: Callable[[], None] | None = None) -> None:
        self._store = store
        self._on_events_committed = on_events_committed
        self.tickets = InMemoryTicketRepository(store)
        self.outbox = InMemoryOutbox(store)
        self.notifications = InMemoryNotificationRepository(store)
        self.processed_events = InMemoryProcessedEvents(store)
        self.substitutes = InMemorySubstituteRepository(store)
        self.reminders = InMemoryTaskReminders(store)
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
                        f"Ticket {ticket.id} was changed by someone else; reload and try again.",
                        key="ticket.changed_meanwhile")
                elif _state(stored) != _state(ticket):
                    changed.append((ticket, True))
            for ticket_id, ticket in repo.deleted.items():
                stored = self._store.tickets.get(ticket_id)
                if stored is None or stored.version != repo.loaded_versions.get(ticket_id, ticket.version):
                    raise ConcurrencyConflict(
                        f"Ticket {ticket_id} was changed by someone else; reload and try again.",
                        key="ticket.changed_meanwhile")
            already = self.processed_events.staged & self._store.processed
            if already:
                raise ConcurrencyConflict(f"Event {sorted(already)[0][1]} was already processed.")
            sent = set(self.reminders.staged) & set(self._store.reminders)
            if sent:
                raise ConcurrencyConflict(f"The {sorted(sent)[0][1]} of step {sorted(sent)[0][0]} was sent already.")
            for ticket_id in repo.deleted:
                del self._store.tickets[ticket_id]
            repo.deleted.clear()
            for ticket, bump in changed:
                if bump:
                    ticket.version += 1
                self._store.tickets[ticket.id] = _clone(ticket)
                repo.loaded_versions[ticket.id] = ticket.version
            repo.added.clear()
            written = self.outbox._apply()
            self._store.notifications.update(self.notifications.staged)
            self._store.processed.update(self.processed_events.staged)
            self.substitutes.apply()
            self._store.reminders.update(self.reminders.staged)
            self.notifications.staged.clear()
            self.processed_events.staged.clear()
            self.reminders.staged.clear()
        self.committed = True
        if written and self._on_events_committed:
            self._on_events_committed()

    def rollback(self) -> None:
        self.tickets.deleted.clear()
        self.outbox.staged.clear()
        self.outbox.staged_sent.clear()
        self.outbox.staged_failures.clear()
        self.outbox.staged_purge = None
        self.notifications.staged.clear()
        self.processed_events.staged.clear()
        self.substitutes.staged.clear()
        self.reminders.staged.clear()

    def check(self) -> None:
        self._store.ensure_available()
