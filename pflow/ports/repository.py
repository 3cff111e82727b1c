"""Ticket storage: a repository per aggregate and a unit of work around them."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Generic, Iterator, TypeVar

from pflow.domain.errors import ConcurrencyConflict, NotFound, ValidationError
from pflow.domain.events import DomainEvent
from pflow.domain.model import Ticket, TicketStatus
from pflow.domain.notifications import Notification
from pflow.domain.steps import Step
from pflow.domain.substitutes import Substitution

T = TypeVar("T")

MAX_PAGE_SIZE = 100


TICKET_SORTS = ("created", "-created", "updated", "-updated", "title", "-title")
TASK_SORTS = ("created", "-created", "due", "-due")
MAX_TEXT_QUERY = 200


@dataclass(frozen=True)
class TicketQuery:
    """Filters for listing tickets. ``text`` matches the title, the string fields and ``#id``
    (a ticket id or its first characters after ``#``), case-insensitively."""

    status: str | None = None
    statuses: tuple[str, ...] = ()  # any of these (``status`` adds one more)
    type: str | None = None
    requester: str | None = None
    text: str | None = None
    exclude_requester: str | None = None
    page: int = 1
    page_size: int = 20
    oldest_first: bool = False
    sort: str | None = None  # one of TICKET_SORTS; None: newest first (oldest with oldest_first)

    def __post_init__(self) -> None:
        errors: dict[str, list[str]] = {}
        known = {s.value for s in TicketStatus}
        for value in ((self.status,) if self.status else ()) + tuple(self.statuses):
            if value not in known:
                errors.setdefault("status", []).append("Must be one of: " + ", ".join(sorted(known)) + ".")
        if self.page < 1:
            errors["page"] = ["Must be at least 1."]
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            errors["page_size"] = [f"Must be between 1 and {MAX_PAGE_SIZE}."]
        if self.sort is not None and self.sort not in TICKET_SORTS:
            errors["sort"] = ["Must be one of: " + ", ".join(TICKET_SORTS) + "."]
        if self.text is not None and len(self.text) > MAX_TEXT_QUERY:
            errors["q"] = [f"Must be at most {MAX_TEXT_QUERY} characters."]
        if errors:
            raise ValidationError("Invalid list query.", details=errors, key="validation.invalid")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class Principal:
    """Someone whose steps a substitute sees in their inbox (the user and their groups)."""

    username: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskQuery:
    """The inbox of one user: open steps they may complete. A step matches when the user is its
    assignee, or (with no assignee) a candidate user or in a candidate group; decision steps of tickets
    the user requested or edited, and those they may not decide after deciding another step of the
    ticket (four eyes, unless the step opts out), are left out (separation of duties;
    ``separation_of_duties=False`` keeps them in). ``on_behalf_of``: people the user substitutes now; their
    steps match too, unless separation of duties refuses the step to them or to the user."""

    username: str
    groups: tuple[str, ...] = ()
    on_behalf_of: tuple[Principal, ...] = ()
    type: str | None = None
    group: str | None = None  # only steps offered to this candidate group
    step: str | None = None  # only steps of this BPMN task id
    ticket_status: str | None = None
    text: str | None = None
    ticket_id: str | None = None
    separation_of_duties: bool = True
    #: True: only steps past their due time at ``at``; False: only steps not past it (or with none)
    overdue: bool | None = None
    at: datetime | None = None  # when ``overdue`` is judged (None: now)
    page: int = 1
    page_size: int = 20
    sort: str = "created"  # one of TASK_SORTS: oldest first by default, as an inbox is worked

    def __post_init__(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.page < 1:
            errors["page"] = ["Must be at least 1."]
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            errors["page_size"] = [f"Must be between 1 and {MAX_PAGE_SIZE}."]
        if self.sort not in TASK_SORTS:
            errors["sort"] = ["Must be one of: " + ", ".join(TASK_SORTS) + "."]
        known = {s.value for s in TicketStatus}
        if self.ticket_status is not None and self.ticket_status not in known:
            errors["ticket_status"] = ["Must be one of: " + ", ".join(sorted(known)) + "."]
        if self.text is not None and len(self.text) > MAX_TEXT_QUERY:
            errors["q"] = [f"Must be at most {MAX_TEXT_QUERY} characters."]
        if errors:
            raise ValidationError("Invalid task query.", details=errors, key="validation.invalid")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def moment(self) -> datetime:
        """When ``overdue`` is judged."""
        return self.at or datetime.now(timezone.utc)


def is_overdue(step: Step, at: datetime) -> bool:
    """A step is overdue once its due time has passed (a step without one never is)."""
    return step.due is not None and step.due <= at


@dataclass(frozen=True)
class TaskItem:
    """One inbox entry: an open step and the ticket it belongs to (``on_behalf_of``: the user whose step it
    is, when the caller sees it as their substitute)."""

    ticket: Ticket
    step: Step
    on_behalf_of: str | None = None


@dataclass(frozen=True)
class AttentionItem:
    """A ticket that needs attention, with when it came to (its latest ``needs_attention`` history entry)
    and that entry's details (``error``, and the failed step's ``step``/``step_name`` when one failed)."""

    ticket: Ticket
    since: datetime | None
    details: dict[str, Any]


#: how old an open step is: (bucket, opened less than this long ago); older than the last is ``gt_7d``
AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("lt_1d", timedelta(days=1)), ("d1_3", timedelta(days=3)), ("d3_7", timedelta(days=7)))
OLDEST_BUCKET = "gt_7d"


def age_bucket(opened_at: datetime | None, now: datetime) -> str | None:
    """The bucket of a step opened at ``opened_at`` (None when that is not known)."""
    if opened_at is None:
        return None
    for bucket, younger_than in AGE_BUCKETS:
        if opened_at > now - younger_than:
            return bucket
    return OLDEST_BUCKET


@dataclass(frozen=True)
class OpenStepCount:
    """How many open steps offered to a candidate group are of one age (``bucket`` None: opened when not
    known). A step offered to several groups counts in each."""

    group: str
    bucket: str | None
    count: int


@dataclass(frozen=True)
class Duration:
    """How long one ticket took from submission to its decision (``step`` None), or one step from being
    opened to being completed (``step``: its BPMN id, ``step_name``: its name)."""

    type: str
    seconds: float
    step: str | None = None
    step_name: str | None = None
    #: for a step that had a due time: whether it was completed by then (None: it had none)
    on_time: bool | None = None


@dataclass(frozen=True)
class DayCount:
    """Tickets created, and decided (completed, rejected), on one day (UTC)."""

    day: date
    created: int = 0
    completed: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class DecisionCount:
    """Tickets of one type that ended completed or rejected."""

    type: str
    completed: int
    rejected: int


@dataclass(frozen=True)
class OverdueCount:
    """How many open steps of tickets of one type are past their due time."""

    type: str
    count: int


@dataclass(frozen=True)
class TicketFigures:
    """What the dashboard is computed from (``TicketRepository.figures``)."""

    open_steps: list[OpenStepCount]
    cycle_times: list[Duration]
    step_times: list[Duration]
    days: list[DayCount]
    decisions: list[DecisionCount]
    overdue: list[OverdueCount] = field(default_factory=list)


@dataclass(frozen=True)
class StatusCount:
    """How many tickets of one type have one status."""

    type: str
    status: str
    count: int


@dataclass(frozen=True)
class StoreGauges:
    """What the store holds now, for the operations metrics (``TicketRepository.gauges``)."""

    tickets: list[StatusCount]
    #: open steps per candidate group and age bucket (as in ``TicketFigures.open_steps``)
    open_steps: list[OpenStepCount]
    #: per candidate group, when its oldest open step was opened (steps of unknown age left out)
    oldest_open: dict[str, datetime]
    overdue: list[OverdueCount]


@dataclass(frozen=True)
class OutboxBacklog:
    """The events not yet confirmed by the broker: how many, and when the oldest was committed."""

    unsent: int
    oldest: datetime | None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class OutboxMessage:
    """A domain event waiting to be published, in commit order."""

    id: int
    event_id: str
    ticket_id: str
    routing_key: str
    body: dict[str, Any]
    created_at: datetime
    attempts: int = 0
    #: the W3C trace context of the transaction that wrote the event (None when it was not traced)
    traceparent: str | None = None


class TicketRepository(abc.ABC):
    """Stores Ticket aggregates. Remembers every ticket it handed out (``seen``)
    so the unit of work can collect their events on commit."""

    def __init__(self) -> None:
        self.seen: set[Ticket] = set()

    def add(self, ticket: Ticket) -> None:
        """Stage a new ticket; it is stored when the unit of work commits."""
        self._add(ticket)
        self.seen.add(ticket)

    def get(self, ticket_id: str) -> Ticket:
        """Return the ticket with its history. Raises ``NotFound`` when there is none.

        Changes made to the returned object are stored only on commit, and only
        if nobody committed a newer version in between (else ``ConcurrencyConflict``).
        """
        ticket = self._get(ticket_id)
        self.seen.add(ticket)
        return ticket

    def attach(self, ticket: Ticket) -> Ticket:
        """Go on in this unit of work with a ticket read in an earlier one, without reading it again: returns
        the ticket to change (the same object, or a fresh copy of it), remembered like ``get``'s. What is
        changed on it is stored on commit under the same optimistic locking, against the version it was read
        at: if someone committed the ticket since, the commit raises ``ConcurrencyConflict`` (this call may
        raise it already), and a ticket deleted since is a conflict too. The ticket must come with its
        history (``get``, ``find_by_task``), not from a page."""
        attached = self._attach(ticket)
        self.seen.add(attached)
        return attached

    def _attach(self, ticket: Ticket) -> Ticket:
        # The reference behaviour: read it again and refuse a ticket that moved on. Stores override this
        # to skip the read and leave the check to the commit.
        try:
            fresh = self._get(ticket.id)
        except NotFound:
            raise ConcurrencyConflict(f"Ticket {ticket.id} was deleted meanwhile.", key="ticket.deleted_meanwhile") from None
        if fresh.version != ticket.version:
            raise ConcurrencyConflict(f"Ticket {ticket.id} was changed by someone else; reload and try again.",
                                      key="ticket.changed_meanwhile")
        return fresh

    def delete(self, ticket: Ticket) -> None:
        """Remove a ticket (a draft) with its history and open steps when the unit of work commits; a ticket
        someone changed since it was read is not removed (``ConcurrencyConflict`` on commit)."""
        self._delete(ticket)
        self.seen.discard(ticket)

    @abc.abstractmethod
    def list(self, query: TicketQuery) -> Page[Ticket]:
        """A page of tickets matching the query, newest first unless ``oldest_first`` or ``sort``
        says otherwise; ``total`` counts every match. Ties are broken by id. The page's tickets may come
        without their history (``get`` reads one with it): nothing that shows a page needs it."""

    @abc.abstractmethod
    def find_by_task(self, task_id: str) -> Ticket:
        """The ticket one of whose open steps is this task, with its history. Raises ``NotFound`` when none is.
        Like ``get``, the ticket is remembered (``seen``): what is changed on it is stored on commit, with its
        events, under the same optimistic locking."""

    def find_by_completed_task(self, task_id: str) -> Ticket | None:
        """The ticket whose history records the completion of this task, or None (so a second completion
        can be told who was first). Stores may answer this slowly: it is only asked after a lost race."""
        return None

    @abc.abstractmethod
    def tasks(self, query: TaskQuery) -> Page[TaskItem]:
        """A page of the user's inbox (see ``TaskQuery``), one indexed query; ``total`` counts every match.
        As with ``list``, the tickets may come without their history."""

    @abc.abstractmethod
    def figures(self, since: datetime, now: datetime) -> TicketFigures:
        """The dashboard's raw figures, from what the store records:

        * ``open_steps``: the open steps per candidate group and age bucket (``age_bucket`` of the step's
          ``created_at`` at ``now``), sorted by group then bucket order; steps offered to no group are not
          counted.
        * ``cycle_times``: one per ticket whose process ended completed or rejected at or after ``since``: from
          its submission (its first ``submitted`` entry; its creation when none) to that end.
        * ``step_times``: one per step completed at or after ``since``: from its ``opened_at`` (history
          details) to its completion; for a completion recorded without ``opened_at``, from the ticket's
          history entry before it. ``on_time``: completed at or before its ``due`` (history details), None
          for a step recorded without one.
        * ``days``: per UTC day from ``since`` on that has any, tickets created and processes ended completed
          or rejected, sorted by day.
        * ``decisions``: per ticket type, the tickets whose process ended completed or rejected at or after
          ``since``, sorted by type.
        * ``overdue``: per ticket type, the open steps whose due time is at or before ``now``, sorted by type.

        Aggregated by the store (one query per figure), never by reading every ticket."""

    @abc.abstractmethod
    def gauges(self, now: datetime) -> StoreGauges:
        """Tickets per type and status, open steps per candidate group and age bucket (and each group's
        oldest), open steps past their due time at ``now`` per type: a few GROUP BY queries, cheap enough
        for every metrics scrape."""

    @abc.abstractmethod
    def needing_attention(self, limit: int = 500) -> list[AttentionItem]:
        """The tickets whose status is ``needs_attention``, the latest to need it first (ties by id), at most
        ``limit``; the tickets may come without their history. ``since`` is None (and ``details`` empty) for
        a ticket whose history records no ``needs_attention`` entry."""

    @abc.abstractmethod
    def _delete(self, ticket: Ticket) -> None: ...

    @abc.abstractmethod
    def _add(self, ticket: Ticket) -> None: ...

    @abc.abstractmethod
    def _get(self, ticket_id: str) -> Ticket: ...


class Outbox(abc.ABC):
    """Events committed with the ticket changes that produced them, waiting for the relay."""

    @abc.abstractmethod
    def add(self, event: DomainEvent) -> None:
        """Stage an event; stored atomically with the rest of the unit of work."""

    @abc.abstractmethod
    def pending(self, limit: int = 100) -> list[OutboxMessage]:
        """Unsent messages in commit order (ascending ``id``), at most ``limit``."""

    @abc.abstractmethod
    def mark_sent(self, message_ids: list[int]) -> None:
        """Record that these messages were confirmed by the broker (takes effect on commit)."""

    @abc.abstractmethod
    def record_failure(self, message_id: int, error: str) -> None:
        """Count a failed publish attempt (takes effect on commit)."""

    @abc.abstractmethod
    def purge_sent(self, sent_before: datetime, limit: int = 1000) -> int:
        """Delete at most ``limit`` messages the broker confirmed before ``sent_before``; returns how
        many (takes effect on commit). Unsent messages are never deleted, whatever their age."""

    @abc.abstractmethod
    def backlog(self) -> OutboxBacklog:
        """How many messages are unsent, and when the oldest of them was committed (one aggregate query)."""

    def try_lock_relay(self) -> bool:
        """Try to become the only relay publishing until this unit of work ends.

        Several processes may run a relay; only the one holding this lock may read
        and publish, so a ticket's events keep their order. Returns False when
        another relay holds it (then publish nothing). Stores without concurrent
        relays may always return True."""
        return True


@dataclass(frozen=True)
class NotificationPage:
    """A page of one user's notifications, newest first, with their unread count."""

    items: list[Notification]
    total: int
    unread: int
    page: int
    page_size: int


def check_page(page: int, page_size: int) -> None:
    """Raise ``ValidationError`` naming ``page``/``page_size`` when they are out of range."""
    errors: dict[str, list[str]] = {}
    if page < 1:
        errors["page"] = ["Must be at least 1."]
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        errors["page_size"] = [f"Must be between 1 and {MAX_PAGE_SIZE}."]
    if errors:
        raise ValidationError("Invalid page.", details=errors, key="validation.invalid")


class NotificationRepository(abc.ABC):
    """In-app notifications, each for one recipient (a username)."""

    @abc.abstractmethod
    def add(self, notification: Notification) -> None:
        """Stage a new notification; stored when the unit of work commits."""

    @abc.abstractmethod
    def list_for(self, recipient: str, *, unread_only: bool = False, page: int = 1,
                 page_size: int = 20) -> NotificationPage:
        """The recipient's notifications, newest first (ties broken by id, descending);
        ``total`` counts the listed kind (all or unread), ``unread`` always counts the unread ones."""

    @abc.abstractmethod
    def get(self, notification_id: str, recipient: str) -> Notification:
        """The notification. Raises ``NotFound`` when there is none *for this recipient*
        (someone else's notification is not revealed)."""

    @abc.abstractmethod
    def mark_read(self, notification_id: str, recipient: str, at: datetime) -> Notification:
        """Mark one notification read (takes effect on commit); keeps the first ``read_at``
        when it was read already. Raises ``NotFound`` like ``get``."""

    @abc.abstractmethod
    def mark_all_read(self, recipient: str, at: datetime) -> int:
        """Mark every unread notification of the recipient read (takes effect on commit);
        returns how many were unread."""


class ProcessedEvents(abc.ABC):
    """Which events a consumer has already applied, so a redelivered message changes nothing.

    Record the event in the same unit of work as its effects: either both are
    stored or neither is, which makes at-least-once delivery exactly-once in effect.
    """

    @abc.abstractmethod
    def contains(self, consumer: str, event_id: str) -> bool:
        """Whether ``consumer`` has committed the effects of ``event_id``."""

    @abc.abstractmethod
    def add(self, consumer: str, event_id: str) -> None:
        """Stage the record. If another unit of work recorded the same pair first,
        ``commit()`` raises ``ConcurrencyConflict`` and stores nothing."""


class SubstituteRepository(abc.ABC):
    """Who stands in for whom (one substitution per user at a time). Writes take effect on commit."""

    @abc.abstractmethod
    def get(self, user: str) -> Substitution | None:
        """The user's substitution (running, upcoming or over), or None."""

    @abc.abstractmethod
    def put(self, substitution: Substitution) -> None:
        """Name the user's substitute, replacing one named before."""

    @abc.abstractmethod
    def remove(self, user: str) -> bool:
        """Forget the user's substitution; returns whether there was one."""

    @abc.abstractmethod
    def standing_in_for(self, substitute: str, at: datetime) -> list[Substitution]:
        """The substitutions in which ``substitute`` acts at ``at`` (starts <= at < ends), by user."""


#: the two reminders a step with a due time gets: some time before it (``PFLOW_REMIND_BEFORE``), and at it
REMINDER = "reminder"
OVERDUE = "overdue"
REMINDER_KINDS = (REMINDER, OVERDUE)


@dataclass(frozen=True)
class DueStep:
    """An open step with a due time, as the reminder scanner finds it."""

    task_id: str
    ticket_id: str
    due: datetime


class TaskReminders(abc.ABC):
    """Which reminders were sent, so each step gets each kind once, whichever process scans."""

    @abc.abstractmethod
    def pending(self, kind: str, due_by: datetime, *, due_after: datetime | None = None,
                limit: int = 100) -> list[DueStep]:
        """Open steps due at or before ``due_by`` (and after ``due_after``, when given) that have not had a
        reminder of ``kind``, earliest due first."""

    @abc.abstractmethod
    def add(self, task_id: str, ticket_id: str, kind: str, at: datetime) -> None:
        """Record that the step had its reminder of ``kind``; stored on commit, with the outbox. A commit that
        would record one a second time (another process was first) raises ``ConcurrencyConflict``."""


class UnitOfWork(abc.ABC):
    """One business transaction. Use as a context manager; nothing is stored
    unless ``commit()`` is called, and leaving the block rolls back the rest.

    ``commit()`` stores the changed tickets and, atomically with them, the
    domain events they recorded (into the outbox). A lost optimistic-locking
    race raises ``ConcurrencyConflict``; an unreachable database raises
    ``ServiceUnavailable("database")``.
    """

    tickets: TicketRepository
    outbox: Outbox
    notifications: NotificationRepository
    processed_events: ProcessedEvents
    substitutes: SubstituteRepository
    reminders: TaskReminders

    def __enter__(self) -> "UnitOfWork":
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def commit(self) -> None:
        for event in self.collect_new_events():
            self.outbox.add(event)
        self._commit()

    def collect_new_events(self) -> Iterator[DomainEvent]:
        for ticket in self.tickets.seen:
            while ticket.events:
                yield ticket.events.pop(0)

    @abc.abstractmethod
    def _commit(self) -> None: ...

    @abc.abstractmethod
    def rollback(self) -> None:
        """Discard everything not committed. Safe to call twice."""

    @abc.abstractmethod
    def check(self) -> None:
        """Readiness probe: return if the store answers, else raise ``ServiceUnavailable``."""
