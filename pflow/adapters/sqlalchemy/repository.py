"""The ticket store on SQLAlchemy 2: one session per unit of work, the same code for SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import exc as sa_exc
from sqlalchemy import String, and_, case, cast, delete, event, exists, func, insert, null, or_, select, text, update
from sqlalchemy.ext.mutable import Mutable
from sqlalchemy.orm import Session, attributes, joinedload, raiseload, sessionmaker
from sqlalchemy.orm.util import identity_key

from pflow import tracing
from pflow.adapters.sqlalchemy import tables
from pflow.adapters.database.engine import PRECEDENCE, SqliteWriterLock, sqlite_writer_lock
from pflow.adapters.database.errors import translated
from pflow.domain.errors import NotFound
from pflow.domain.events import DomainEvent
from pflow.domain.model import Ticket, TicketStatus
from pflow.domain.notifications import Notification
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

# Any fixed 64-bit number: the PostgreSQL advisory lock only one outbox relay may hold at a time.
RELAY_LOCK_KEY = 0x70666C6F775F7231  # "pflow_r1"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _like_pattern(text_: str) -> str:
    escaped = text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Guard:
    """Maps database errors raised inside ``with guard():`` to domain errors."""

    def __init__(self, session: Session) -> None:
        self._url = session.get_bind().url

    def __call__(self):
        return translated(self._url)


def search_text(ticket: Ticket) -> str:
    """What text search looks in: the title, the string fields and the text results of its automated steps (the
    fulfilment reference), lower-cased (the query is lower-cased too, so one LIKE serves SQLite and PostgreSQL
    alike)."""
    parts = [ticket.title or ""] + [v for _, v in sorted(ticket.fields.items()) if isinstance(v, str)]
    parts += [v for _, v in sorted((ticket.results or {}).items()) if isinstance(v, str)]
    return "\n".join(parts).lower()


def _text_condition(text_: str, search_column, id_column, *extra):
    """``text`` in the search column (or the extra columns), or ``#abc``: a ticket id starting with abc."""
    needle = text_.strip().lower()
    pattern = _like_pattern(needle)
    matches = [search_column.like(pattern, escape="\\")]
    matches += [func.lower(column).like(pattern, escape="\\") for column in extra]
    if needle.startswith("#") and len(needle) > 1:
        prefix = needle[1:].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        matches.append(id_column.like(prefix + "%", escape="\\"))
    return or_(*matches)


_TICKET_ORDER = {"created": "created_at", "updated": "updated_at", "title": "title"}
_TASK_ORDER = {"created": "created_at", "due": "due"}


def _step_rows(ticket: Ticket) -> tuple[list[dict], list[dict]]:
    steps, candidates = [], []
    for step in ticket.steps:
        steps.append({"task_id": step.task_id, "ticket_id": ticket.id, "definition_key": step.definition_key,
                      "name": step.name, "assignee": step.assignee, "due": step.due, "created_at": step.created_at,
                      "is_decision": step.is_decision, "four_eyes": step.four_eyes, **_ticket_copies(ticket)})
        candidates += [{"task_id": step.task_id, "kind": "group", "name": g} for g in dict.fromkeys(step.candidate_groups)]
        candidates += [{"task_id": step.task_id, "kind": "user", "name": u} for u in dict.fromkeys(step.candidate_users)]
    return steps, candidates


def _ticket_copies(ticket: Ticket) -> dict:
    """The ticket's columns copied onto its ticket_steps rows (what the inbox filters on)."""
    return {"requester": ticket.requester, "last_editor": ticket.last_editor, "ticket_type": ticket.type,
            "ticket_status": str(ticket.status)}


_COPIED = ("requester", "last_editor", "type", "status")


def _before_flush(session: Session, _context, _instances) -> None:
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Ticket) and (obj in session.new or _changed(obj, "title", "fields", "results")):
            text_ = search_text(obj)
            if getattr(obj, "_search_text", None) != text_:
                obj._search_text = text_


def _changed(obj: object, *keys: str) -> bool:
    """Whether any of these attributes will be written. An attribute set to an equal value is not (the ticket row
    is then not updated, nor version-checked, so its inbox rows must not be rewritten either: two units of work
    doing that at once would collide on the rows' keys)."""
    for key in keys:
        history = attributes.get_history(obj, key)
        if not history.has_changes():
            continue
        if history.added and history.deleted and _plain(history.added[0]) == _plain(history.deleted[0]):
            continue
        return True
    return False


def _had(obj: object, key: str) -> bool:
    """Whether the stored value of a list attribute that is being changed was non-empty (its rows exist)."""
    history = attributes.get_history(obj, key)
    return not history.deleted or bool(history.deleted[0])


def _plain(value):
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value


def _after_flush(session: Session, _context) -> None:
    """Keep the inbox rows (ticket_steps, ticket_step_candidates, ticket_deciders, ticket_editors) in line with the
    tickets just written, in the same transaction: a ticket whose steps, deciders or editors changed gets its rows
    replaced. Runs after the versioned UPDATE, so a stale ticket has already failed and writes none."""
    connection = session.connection()
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Ticket) or obj in session.deleted:
            continue
        new = obj in session.new
        if new or _changed(obj, "steps"):
            if not new and _had(obj, "steps"):
                connection.execute(delete(tables.ticket_steps).where(tables.ticket_steps.c.ticket_id == obj.id))
            steps, candidates = _step_rows(obj)
            if steps:
                connection.execute(insert(tables.ticket_steps), steps)
            if candidates:
                connection.execute(insert(tables.ticket_step_candidates), candidates)
        elif obj.steps and _changed(obj, *_COPIED):  # no steps, no rows to copy onto
            connection.execute(update(tables.ticket_steps).where(tables.ticket_steps.c.ticket_id == obj.id)
                               .values(**_ticket_copies(obj)))
        if new or _changed(obj, "deciders"):
            if not new and _had(obj, "deciders"):
                connection.execute(delete(tables.ticket_deciders).where(tables.ticket_deciders.c.ticket_id == obj.id))
            deciders = [{"ticket_id": obj.id, "username": u} for u in dict.fromkeys(obj.deciders)]
            if deciders:
                connection.execute(insert(tables.ticket_deciders), deciders)
        if new or _changed(obj, "editors"):
            if not new and _had(obj, "editors"):
                connection.execute(delete(tables.ticket_editors).where(tables.ticket_editors.c.ticket_id == obj.id))
            editors = [{"ticket_id": obj.id, "username": u} for u in dict.fromkeys(obj.editors or ())]
            if editors:
                connection.execute(insert(tables.ticket_editors), editors)


class SqlAlchemyTicketRepository(TicketRepository):
    def __init__(self, session: Session, guard: _Guard) -> None:
        super().__init__()
        self._session = session
        self._guard = guard

    def _add(self, ticket: Ticket) -> None:
        self._session.add(ticket)

    def _delete(self, ticket: Ticket) -> None:
        state = attributes.instance_state(ticket)
        if state.pending:  # added in this unit of work and never stored: forgetting it is deleting it
            self._session.expunge(ticket)
            return
        with self._guard():
            # history goes with the ORM cascade; steps, candidates and deciders with the foreign keys' ON DELETE
            self._session.delete(ticket)

    def _get(self, ticket_id: str) -> Ticket:
        with self._guard():
            # One query with the history joined in: the mapping's default (a second SELECT … IN, right for
            # list pages) made a single-ticket read about twice as slow (benchmarks/engine_flows.py).
            # The steps are a column of the ticket row, so they come with it.
            known = self._session.identity_map.get(identity_key(Ticket, ticket_id))
            # A ticket this unit of work listed came without its history: read it again, with it.
            again = known is not None and "history" not in attributes.instance_state(known).dict
            ticket = self._session.get(Ticket, ticket_id, options=[joinedload(Ticket.history)],
                                       populate_existing=again)
        if ticket is None:
            raise NotFound(f"Ticket {ticket_id} was not found.", key="ticket.not_found", params={"id": ticket_id})
        return ticket

    def _attach(self, ticket: Ticket) -> Ticket:
        state = attributes.instance_state(ticket)
        if (not state.detached or "history" not in state.dict
                or identity_key(Ticket, ticket.id) in self._session.identity_map):
            # Not a ticket read (with its history) by a unit of work that has ended, or this one read it
            # already: read it again, as the port's reference does.
            return super()._attach(ticket)
        # Back into a session as it was read: the versioned UPDATE on commit is the check (a ticket
        # written or deleted since matches no row: ConcurrencyConflict).
        self._session.add(ticket)
        return ticket

    def find_by_task(self, task_id: str) -> Ticket:
        s = tables.ticket_steps
        with self._guard():
            ticket = self._session.scalars(
                select(Ticket).join(s, s.c.ticket_id == tables.tickets.c.id).where(s.c.task_id == task_id)
                .options(joinedload(Ticket.history))).unique().first()
        if ticket is None:
            raise NotFound(f"No ticket has an open step {task_id}.", key="task.not_found", params={"id": task_id})
        self.seen.add(ticket)  # the caller completes the step and commits what it recorded
        return ticket

    def find_by_completed_task(self, task_id: str) -> Ticket | None:
        # A scan of the history's JSON, asked only after a lost race: the task id is a UUID, so a text match
        # on it is exact enough, and the action narrows it to step completions.
        h = tables.ticket_history
        with self._guard():
            ticket_id = self._session.execute(
                select(h.c.ticket_id).where(h.c.action == "step_completed",
                                            cast(h.c.details, String).contains(f'"{task_id}"', autoescape=True))
                .limit(1)).scalar()
        return self.get(ticket_id) if ticket_id else None

    def list(self, query: TicketQuery) -> Page[Ticket]:
        t = tables.tickets
        conditions = []
        statuses = tuple(dict.fromkeys(((query.status,) if query.status else ()) + tuple(query.statuses)))
        if len(statuses) == 1:
            conditions.append(t.c.status == statuses[0])
        elif statuses:
            conditions.append(t.c.status.in_(statuses))
        if query.type is not None:
            conditions.append(t.c.type == query.type)
        if query.requester is not None:
            conditions.append(t.c.requester == query.requester)
        if query.exclude_requester is not None:
            conditions.append(t.c.requester != query.exclude_requester)
        if query.text and query.text.strip():
            conditions.append(_text_condition(query.text, t.c.search_text, t.c.id))
        if query.sort is not None:
            column = t.c[_TICKET_ORDER[query.sort.lstrip("-")]]
            descending = query.sort.startswith("-")
        else:
            column, descending = t.c.created_at, not query.oldest_first
        order = (column.desc(), t.c.id.desc()) if descending else (column.asc(), t.c.id.asc())
        with self._guard():
            total = self._session.execute(select(func.count()).select_from(t).where(*conditions)).scalar_one()
            # Without the histories: a page never shows them, and loading them took a fifth of a list request.
            items = list(self._session.scalars(
                select(Ticket).where(*conditions).order_by(*order).offset(query.offset).limit(query.page_size)
                .options(raiseload(Ticket.history))))
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    def gauges(self, now: datetime) -> StoreGauges:
        t, st, c = tables.tickets, tables.ticket_steps, tables.ticket_step_candidates
        with self._guard():
            ticket_rows = self._session.execute(
                select(t.c.type, t.c.status, func.count()).group_by(t.c.type, t.c.status)).all()
            whens = [(st.c.created_at > now - younger, bucket) for bucket, younger in AGE_BUCKETS]
            bucket = case((st.c.created_at.is_(None), null()), *whens, else_=OLDEST_BUCKET)
            offered = st.join(c, and_(c.c.task_id == st.c.task_id, c.c.kind == "group"))
            aged = select(c.c.name.label("name"), bucket.label("bucket")).select_from(offered).subquery()
            open_rows = self._session.execute(
                select(aged.c.name, aged.c.bucket, func.count()).group_by(aged.c.name, aged.c.bucket)).all()
            oldest_rows = self._session.execute(
                select(c.c.name, func.min(st.c.created_at)).select_from(offered).group_by(c.c.name)).all()
            overdue_rows = self._session.execute(
                select(st.c.ticket_type, func.count()).where(st.c.due.is_not(None), st.c.due <= now)
                .group_by(st.c.ticket_type).order_by(st.c.ticket_type)).all()
        return StoreGauges(
            tickets=[StatusCount(type=ty, status=getattr(status, "value", status), count=n)
                     for ty, status, n in ticket_rows],
            open_steps=[OpenStepCount(group=g, bucket=b, count=n) for g, b, n in open_rows],
            oldest_open={g: at for g, at in oldest_rows if at is not None},
            overdue=[OverdueCount(type=ty, count=n) for ty, n in overdue_rows])

    def figures(self, since: datetime, now: datetime) -> TicketFigures:
        t, h, st, c = tables.tickets, tables.ticket_history, tables.ticket_steps, tables.ticket_step_candidates
        ended = h.c.action.in_(DECIDED_ACTIONS)
        with self._guard():
            # open steps per group and age: one GROUP BY over the inbox rows
            whens = [(st.c.created_at > now - younger, bucket) for bucket, younger in AGE_BUCKETS]
            bucket = case((st.c.created_at.is_(None), null()), *whens, else_=OLDEST_BUCKET)
            # grouped outside: PostgreSQL does not take an expression with bound values in GROUP BY as the
            # same expression in the select list
            aged = (select(c.c.name.label("name"), bucket.label("bucket"))
                    .select_from(st.join(c, and_(c.c.task_id == st.c.task_id, c.c.kind == "group"))).subquery())
            open_rows = self._session.execute(
                select(aged.c.name, aged.c.bucket, func.count()).group_by(aged.c.name, aged.c.bucket)).all()
            # per ticket decided since: submitted -> end (durations are taken in Python: portable)
            start = func.coalesce(func.min(case((h.c.action == "submitted", h.c.at))), t.c.created_at)
            end = func.max(case((ended, h.c.at)))
            cycle_rows = self._session.execute(
                select(t.c.type, start.label("start"), end.label("end"))
                .select_from(t.join(h, h.c.ticket_id == t.c.id))
                .where(t.c.id.in_(select(h.c.ticket_id).where(ended, h.c.at >= since)))
                .group_by(t.c.id, t.c.type, t.c.created_at)).all()
            # per step completed since, with the entry before it (for completions recorded without opened_at)
            done_since = select(h.c.ticket_id).where(h.c.action == "step_completed", h.c.at >= since)
            ordered = (select(h.c.ticket_id, h.c.action, h.c.at, h.c.details,
                              func.lag(h.c.at, type_=h.c.at.type).over(partition_by=h.c.ticket_id,
                                                                       order_by=h.c.seq).label("before"))
                       .where(h.c.ticket_id.in_(done_since)).subquery())
            step_rows = self._session.execute(
                select(t.c.type, ordered.c.at, ordered.c.before, ordered.c.details)
                .select_from(ordered.join(t, t.c.id == ordered.c.ticket_id))
                .where(ordered.c.action == "step_completed", ordered.c.at >= since)).all()
            created = select(self._day(t.c.created_at).label("day")).where(t.c.created_at >= since).subquery()
            created_rows = self._session.execute(
                select(created.c.day, func.count()).group_by(created.c.day)).all()
            ends = (select(self._day(h.c.at).label("day"), h.c.action.label("action"), h.c.ticket_id.label("id"))
                    .where(ended, h.c.at >= since).subquery())
            ended_rows = self._session.execute(
                select(ends.c.day, ends.c.action, func.count(func.distinct(ends.c.id)))
                .group_by(ends.c.day, ends.c.action)).all()
            overdue_rows = self._session.execute(
                select(st.c.ticket_type, func.count()).where(st.c.due.is_not(None), st.c.due <= now)
                .group_by(st.c.ticket_type).order_by(st.c.ticket_type)).all()
            decision_rows = self._session.execute(
                select(t.c.type, h.c.action, func.count(func.distinct(t.c.id)))
                .select_from(h.join(t, t.c.id == h.c.ticket_id))
                .where(ended, h.c.at >= since).group_by(t.c.type, h.c.action)).all()
        order = {b: i for i, b in enumerate([b for b, _ in AGE_BUCKETS] + [OLDEST_BUCKET])}
        open_steps = sorted((OpenStepCount(group=g, bucket=b, count=n) for g, b, n in open_rows),
                            key=lambda o: (o.group, order.get(o.bucket, len(order))))
        cycle_times = [Duration(type=type_, seconds=_seconds(end_ - start_))
                       for type_, start_, end_ in cycle_rows if start_ is not None and end_ is not None]
        step_times = []
        for type_, at, before, details in step_rows:
            details = details or {}
            opened = _parse_time(details.get("opened_at")) or before
            if opened is not None:
                due = _parse_time(details.get("due"))
                step_times.append(Duration(type=type_, seconds=_seconds(at - opened), step=details.get("step"),
                                           step_name=details.get("step_name") or details.get("step"),
                                           on_time=None if due is None else _aware(at) <= due))
        days: dict[date, dict[str, int]] = {}
        for d, n in created_rows:
            days.setdefault(_as_date(d), {})["created"] = n
        for d, action, n in ended_rows:
            counts = days.setdefault(_as_date(d), {})
            counts[action] = counts.get(action, 0) + n
        decided: dict[str, dict[str, int]] = {}
        for type_, action, n in decision_rows:
            decided.setdefault(type_, {})[action] = n
        return TicketFigures(
            open_steps=open_steps, cycle_times=cycle_times, step_times=step_times,
            days=[DayCount(day=d, created=v.get("created", 0), completed=v.get("completed", 0),
                           rejected=v.get("rejected", 0)) for d, v in sorted(days.items())],
            decisions=[DecisionCount(type=k, completed=v.get("completed", 0), rejected=v.get("rejected", 0))
                       for k, v in sorted(decided.items())],
            overdue=[OverdueCount(type=k, count=n) for k, n in overdue_rows])

    def _day(self, column):
        """The UTC day of a time column, as 'YYYY-MM-DD' text, on either database."""
        if self._session.get_bind().dialect.name == "postgresql":
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
        return func.strftime("%Y-%m-%d", column)  # SQLite keeps naive UTC text

    def needing_attention(self, limit: int = 500) -> list[AttentionItem]:
        t, h = tables.tickets, tables.ticket_history
        attention = t.c.status == TicketStatus.NEEDS_ATTENTION.value
        latest = (select(h.c.ticket_id, func.max(h.c.seq).label("seq"))
                  .where(h.c.action == "needs_attention", h.c.ticket_id.in_(select(t.c.id).where(attention)))
                  .group_by(h.c.ticket_id).subquery())
        joined = (t.outerjoin(latest, latest.c.ticket_id == t.c.id)
                  .outerjoin(h, and_(h.c.ticket_id == latest.c.ticket_id, h.c.seq == latest.c.seq)))
        with self._guard():
            rows = self._session.execute(
                select(Ticket, h.c.at, h.c.details).select_from(joined).where(attention)
                .order_by(h.c.at.desc().nulls_last(), t.c.id.asc()).limit(limit)
                .options(raiseload(Ticket.history))).all()
        return [AttentionItem(ticket=ticket, since=at, details=dict(details or {})) for ticket, at, details in rows]

    def tasks(self, query: TaskQuery) -> Page[TaskItem]:
        t, s, c, d = tables.tickets, tables.ticket_steps, tables.ticket_step_candidates, tables.ticket_deciders
        user = query.username

        def offered_to(name: str, groups: tuple[str, ...]):
            offered = [and_(c.c.kind == "user", c.c.name == name)]
            if groups:
                offered.append(and_(c.c.kind == "group", c.c.name.in_(groups)))
            # An uncorrelated IN: the candidates' (kind, name) index yields the user's task ids, which then are
            # looked up by key (a correlated EXISTS made SQLite walk every open step; see benchmarks/inbox_latency.py).
            candidate = s.c.task_id.in_(select(c.c.task_id).where(or_(*offered)))
            return or_(s.c.assignee == name, and_(s.c.assignee.is_(None), candidate))

        def may_decide(name: str):
            # Separation of duties guards decisions: a step that decides nothing may be the requester's own.
            decided = exists().where(d.c.ticket_id == s.c.ticket_id, d.c.username == name)
            e = tables.ticket_editors
            edited = exists().where(e.c.ticket_id == s.c.ticket_id, e.c.username == name)
            return or_(s.c.is_decision.is_(False), and_(
                s.c.requester != name, or_(s.c.last_editor.is_(None), s.c.last_editor != name), ~edited,
                or_(s.c.four_eyes.is_(False), ~decided)))

        sod = query.separation_of_duties
        reach = [offered_to(user, query.groups)]
        for principal in query.on_behalf_of:  # a substitute: the rules hold for the absent user and for them
            theirs = offered_to(principal.username, principal.groups)
            reach.append(and_(theirs, may_decide(principal.username)) if sod else theirs)
        conditions = [or_(*reach) if len(reach) > 1 else reach[0]]
        if sod:
            conditions.append(may_decide(user))
        if query.type is not None:
            conditions.append(s.c.ticket_type == query.type)
        if query.group is not None:
            conditions.append(exists().where(c.c.task_id == s.c.task_id, c.c.kind == "group", c.c.name == query.group))
        if query.step is not None:
            conditions.append(s.c.definition_key == query.step)
        if query.ticket_status is not None:
            conditions.append(s.c.ticket_status == query.ticket_status)
        if query.ticket_id is not None:
            conditions.append(s.c.ticket_id == query.ticket_id)
        if query.overdue is True:
            conditions.append(and_(s.c.due.is_not(None), s.c.due <= query.moment))
        elif query.overdue is False:
            conditions.append(or_(s.c.due.is_(None), s.c.due > query.moment))
        searching = bool(query.text and query.text.strip())
        if searching:
            conditions.append(_text_condition(query.text, t.c.search_text, t.c.id, s.c.name))
        column = s.c[_TASK_ORDER[query.sort.lstrip("-")]]
        if query.sort.startswith("-"):
            order = (column.desc().nulls_last(), s.c.task_id.desc())
        else:
            order = (column.asc().nulls_last(), s.c.task_id.asc())
        joined = s.join(t, t.c.id == s.c.ticket_id)
        with self._guard():
            # only a text search needs the tickets to count: everything else is on the step rows
            counted = joined if searching else s
            total = self._session.execute(select(func.count()).select_from(counted).where(*conditions)).scalar_one()
            # A page carries its tickets without their histories (see TicketRepository.list).
            rows = self._session.execute(
                select(Ticket, s.c.task_id).select_from(joined).where(*conditions).order_by(*order)
                .offset(query.offset).limit(query.page_size).options(raiseload(Ticket.history))).all()
        items = []
        for ticket, task_id in rows:
            step = ticket.step(task_id)
            if step is not None:  # always, while the rows are written with the ticket
                items.append(TaskItem(ticket=ticket, step=step))
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)


#: the history actions that end a process with a decision
DECIDED_ACTIONS = ("completed", "rejected")


def _seconds(delta: timedelta) -> float:
    return max(delta.total_seconds(), 0.0)


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class SqlAlchemyOutbox(Outbox):
    def __init__(self, session: Session, guard: _Guard) -> None:
        self._session = session
        self._guard = guard
        self.staged: list[DomainEvent] = []

    def add(self, event: DomainEvent) -> None:
        self.staged.append(event)

    def pending(self, limit: int = 100) -> list[OutboxMessage]:
        o = tables.outbox
        with self._guard():
            rows = self._session.execute(
                select(o.c.id, o.c.event_id, o.c.ticket_id, o.c.routing_key, o.c.body, o.c.created_at, o.c.attempts,
                       o.c.traceparent)
                .where(o.c.sent_at.is_(None)).order_by(o.c.id).limit(limit)).all()
        return [OutboxMessage(id=r.id, event_id=r.event_id, ticket_id=r.ticket_id, routing_key=r.routing_key,
                              body=r.body, created_at=r.created_at, attempts=r.attempts, traceparent=r.traceparent)
                for r in rows]

    def backlog(self) -> OutboxBacklog:
        o = tables.outbox
        with self._guard():
            unsent, oldest = self._session.execute(
                select(func.count(), func.min(o.c.created_at)).where(o.c.sent_at.is_(None))).one()
        return OutboxBacklog(unsent=unsent, oldest=oldest)

    def mark_sent(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        o = tables.outbox
        with self._guard():
            self._session.execute(update(o).where(o.c.id.in_(message_ids)).values(sent_at=_now(), last_error=None))

    def record_failure(self, message_id: int, error: str) -> None:
        o = tables.outbox
        with self._guard():
            self._session.execute(update(o).where(o.c.id == message_id)
                                  .values(attempts=o.c.attempts + 1, last_error=error[:2000]))

    def purge_sent(self, sent_before: datetime, limit: int = 1000) -> int:
        o = tables.outbox
        oldest = select(o.c.id).where(o.c.sent_at.is_not(None), o.c.sent_at < sent_before).order_by(o.c.id).limit(limit)
        with self._guard():
            return self._session.execute(delete(o).where(o.c.id.in_(oldest.scalar_subquery()))).rowcount

    def try_lock_relay(self) -> bool:
        if self._session.get_bind().dialect.name != "postgresql":
            return True  # SQLite: the embedded default runs one relay, in `pflow serve`
        with self._guard():
            return bool(self._session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                              {"key": RELAY_LOCK_KEY}).scalar_one())

    def rows(self) -> list[dict]:
        traceparent = tracing.current_traceparent()  # the request (or task) whose transaction commits them
        return [{"event_id": e.event_id, "ticket_id": e.ticket_id, "routing_key": e.routing_key,
                 "body": e.to_message(), "created_at": _now(), "attempts": 0, "traceparent": traceparent}
                for e in self.staged]


class SqlAlchemyNotificationRepository(NotificationRepository):
    def __init__(self, session: Session, guard: _Guard) -> None:
        self._session = session
        self._guard = guard

    def add(self, notification: Notification) -> None:
        self._session.add(notification)

    def list_for(self, recipient: str, *, unread_only: bool = False, page: int = 1,
                 page_size: int = 20) -> NotificationPage:
        check_page(page, page_size)
        n = tables.notifications
        mine = [n.c.recipient == recipient]
        listed = mine + ([n.c.read_at.is_(None)] if unread_only else [])
        with self._guard():
            self._session.flush()
            total, unread = self._session.execute(
                select(func.count(), func.coalesce(func.sum(case((n.c.read_at.is_(None), 1), else_=0)), 0))
                .where(*mine)).one()
            items = list(self._session.scalars(
                select(Notification).where(*listed).order_by(n.c.created_at.desc(), n.c.id.desc())
                .offset((page - 1) * page_size).limit(page_size)))
        return NotificationPage(items=items, total=unread if unread_only else total, unread=unread, page=page,
                                page_size=page_size)

    def get(self, notification_id: str, recipient: str) -> Notification:
        with self._guard():
            found = self._session.get(Notification, notification_id)
        if found is None or found.recipient != recipient:
            raise NotFound(f"Notification {notification_id} was not found.", key="notification.not_found",
                           params={"id": notification_id})
        return found

    def mark_read(self, notification_id: str, recipient: str, at: datetime) -> Notification:
        notification = self.get(notification_id, recipient)
        notification.mark_read(at)
        return notification

    def mark_all_read(self, recipient: str, at: datetime) -> int:
        n = tables.notifications
        with self._guard():
            self._session.flush()
            result = self._session.execute(
                update(n).where(n.c.recipient == recipient, n.c.read_at.is_(None)).values(read_at=at),
                execution_options={"synchronize_session": False})
            for obj in self._session.identity_map.values():  # keep loaded objects in line with the rows
                if isinstance(obj, Notification) and obj.recipient == recipient and obj.read_at is None:
                    attributes.set_committed_value(obj, "read_at", at)
        return result.rowcount


class SqlAlchemyProcessedEvents(ProcessedEvents):
    def __init__(self, session: Session, guard: _Guard) -> None:
        self._session = session
        self._guard = guard
        self.staged: list[tuple[str, str]] = []

    def contains(self, consumer: str, event_id: str) -> bool:
        p = tables.processed_events
        with self._guard():
            return self._session.execute(
                select(p.c.event_id).where(p.c.consumer == consumer, p.c.event_id == event_id)).first() is not None

    def add(self, consumer: str, event_id: str) -> None:
        self.staged.append((consumer, event_id))


class SqlAlchemyTaskReminders(TaskReminders):
    def __init__(self, session: Session, guard: _Guard) -> None:
        self._session = session
        self._guard = guard
        self.staged: list[dict] = []

    def pending(self, kind: str, due_by: datetime, *, due_after: datetime | None = None,
                limit: int = 100) -> list[DueStep]:
        st, r = tables.ticket_steps, tables.task_reminders
        sent = exists().where(r.c.task_id == st.c.task_id, r.c.kind == kind)
        conditions = [st.c.due.is_not(None), st.c.due <= due_by, ~sent]
        if due_after is not None:
            conditions.append(st.c.due > due_after)
        with self._guard():
            rows = self._session.execute(select(st.c.task_id, st.c.ticket_id, st.c.due).where(*conditions)
                                         .order_by(st.c.due, st.c.task_id).limit(limit)).all()
        return [DueStep(task_id=a, ticket_id=b, due=c) for a, b, c in rows]

    def add(self, task_id: str, ticket_id: str, kind: str, at: datetime) -> None:
        self.staged.append({"task_id": task_id, "ticket_id": ticket_id, "kind": kind, "sent_at": at})


def _snapshot(session: Session) -> list[tuple[object, dict]]:
    """The loaded state of every object in the session, to put back if the commit fails
    (SQLAlchemy expires everything on rollback; callers may still read what they changed)."""
    saved = []
    for obj in list(session.identity_map.values()) + list(session.new):
        state = attributes.instance_state(obj)
        keys = [k for k in state.mapper.attrs.keys() if k in state.dict]
        values = {}
        for k in keys:
            v = state.dict[k]
            # A mutable JSON value (fields, steps, deciders) is kept as it is: it remembers its owner, so changes
            # made in place after a failed commit are still seen. Collections of related rows are copied.
            values[k] = v if isinstance(v, Mutable) else list(v) if isinstance(v, list) else v
        saved.append((obj, values))
    return saved


def _restore(saved: list[tuple[object, dict]]) -> None:
    # Tickets last: setting a ticket's history reorders its entries (ordering_list), which reads their seq; an
    # entry not restored yet would load it, and fail when the ticket's rows are gone (deleted meanwhile).
    for obj, values in sorted(saved, key=lambda item: isinstance(item[0], Ticket)):
        for key, value in values.items():
            attributes.set_committed_value(obj, key, value)


def _sqlite_writer_lock(session: Session) -> SqliteWriterLock | None:
    """The per-file writer lock (see ``sqlite_writer_lock``) of the session's SQLite database."""
    return sqlite_writer_lock(session.get_bind())


_UOW = "pflow.unit_of_work"


class UnitOfWorkSession(Session):
    """The session class units of work run on (``build_session_factory`` makes them). Its flush and execute
    hooks are registered once, on the class: registered on each session they cost about 0.15 ms per unit
    of work (cProfile of benchmarks/engine_flows.py), about half a ticket read."""


@event.listens_for(UnitOfWorkSession, "before_flush")
def _on_before_flush(session: Session, context, instances) -> None:
    uow = session.info.get(_UOW)
    if uow is not None:
        uow._begin_writing()
    _before_flush(session, context, instances)


event.listen(UnitOfWorkSession, "after_flush", _after_flush)


@event.listens_for(UnitOfWorkSession, "do_orm_execute")
def _on_orm_execute(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        uow = state.session.info.get(_UOW)
        if uow is not None:
            uow._begin_writing()


class SqlAlchemySubstituteRepository(SubstituteRepository):
    def __init__(self, session: Session, guard: _Guard) -> None:
        self._session = session
        self._guard = guard

    @staticmethod
    def _of(row) -> Substitution:
        return Substitution(user=row.username, substitute=row.substitute, starts=row.starts, ends=row.ends,
                            created=row.created)

    def get(self, user: str) -> Substitution | None:
        s = tables.substitutes
        with self._guard():
            row = self._session.execute(select(s).where(s.c.username == user)).first()
        return self._of(row) if row is not None else None

    def put(self, substitution: Substitution) -> None:
        s = tables.substitutes
        with self._guard():
            self._session.execute(delete(s).where(s.c.username == substitution.user))
            self._session.execute(insert(s).values(
                username=substitution.user, substitute=substitution.substitute, starts=substitution.starts,
                ends=substitution.ends, created=substitution.created))

    def remove(self, user: str) -> bool:
        s = tables.substitutes
        with self._guard():
            return self._session.execute(delete(s).where(s.c.username == user)).rowcount > 0

    def standing_in_for(self, substitute: str, at: datetime) -> list[Substitution]:
        s = tables.substitutes
        with self._guard():
            rows = self._session.execute(select(s).where(s.c.substitute == substitute, s.c.starts <= at,
                                                         s.c.ends > at).order_by(s.c.username)).all()
        return [self._of(r) for r in rows]


class SqlAlchemyUnitOfWork(UnitOfWork):
    """One session per business transaction; leaving the block without ``commit()`` discards everything."""

    def __init__(self, session_factory: sessionmaker, on_events_committed: Callable[[], None] | None = None) -> None:
        self.session: Session = session_factory()
        if not isinstance(self.session, UnitOfWorkSession):
            raise TypeError("a unit of work needs the sessions of build_session_factory (UnitOfWorkSession)")
        self._writer_lock = _sqlite_writer_lock(self.session)
        self._writing = False
        self._entered = False
        self._engine_steps = self._writer_lock.engine_steps() if self._writer_lock is not None else 0
        # The session's hooks (UnitOfWorkSession) keep the inbox rows and the search text in line with the
        # tickets written, and on SQLite take the file's writer lock at the first write (a flush, autoflushes
        # included, or an INSERT/UPDATE/DELETE statement: where SQLite starts the write transaction), held
        # until commit or rollback ends it.
        self.session.info[_UOW] = self
        self._guard = _Guard(self.session)
        self._on_events_committed = on_events_committed
        self.tickets = SqlAlchemyTicketRepository(self.session, self._guard)
        self.outbox = SqlAlchemyOutbox(self.session, self._guard)
        self.notifications = SqlAlchemyNotificationRepository(self.session, self._guard)
        self.processed_events = SqlAlchemyProcessedEvents(self.session, self._guard)
        self.substitutes = SqlAlchemySubstituteRepository(self.session, self._guard)
        self.reminders = SqlAlchemyTaskReminders(self.session, self._guard)

    def __enter__(self) -> "SqlAlchemyUnitOfWork":
        super().__enter__()
        if self._writer_lock is not None and not self._entered:
            # What the embedded engine does in this thread while the block is open (a task it created) is
            # announced to other threads once the block ends, after the ticket's own commit.
            self._writer_lock.unit_entered()
            self._entered = True
        return self

    def _begin_writing(self) -> None:
        if not self._writing and self._writer_lock is not None:
            # The connection first, then the lock: the same order as the embedded engine's transactions, so
            # no thread ever holds the file's lock while it waits for a connection.
            self.session.connection()
            # A unit of work that records a step the embedded engine already took in this thread (the approval
            # a manager just made) goes ahead of ordinary writers, as the worker's steps do: the task that step
            # created waits for this commit (the engine holds it until the block ends), so queued behind new
            # requests it would hold up the automated part of the flow as well.
            stepped = self._writer_lock.engine_steps() != self._engine_steps
            self._writer_lock.take(PRECEDENCE if stepped else None)
            self._writing = True

    def _end_writing(self) -> None:
        if self._writing and self._writer_lock is not None:
            self._writing = False
            self._writer_lock.release()

    def _commit(self) -> None:
        saved = _snapshot(self.session)
        written = len(self.outbox.staged)
        try:
            with self._guard():
                try:
                    # Ticket changes first: a lost optimistic-locking race stops here, before any event is written.
                    self.session.flush()
                    if self.reminders.staged:  # before the events: a reminder sent already stops here
                        self.session.execute(insert(tables.task_reminders), self.reminders.staged)
                    if self.outbox.staged:
                        self.session.execute(insert(tables.outbox), self.outbox.rows())
                    if self.processed_events.staged:
                        now = _now()
                        self.session.execute(insert(tables.processed_events), [
                            {"consumer": c, "event_id": e, "processed_at": now}
                            for c, e in self.processed_events.staged])
                    self.session.commit()
                except Exception:
                    self.session.rollback()
                    _restore(saved)
                    raise
        finally:
            self.outbox.staged.clear()
            self.processed_events.staged.clear()
            self.reminders.staged.clear()
            self._end_writing()
        if written and self._on_events_committed:
            self._on_events_committed()

    def rollback(self) -> None:
        # close() rolls the transaction back without expiring loaded objects, so a ticket
        # returned from inside the block stays readable after it.
        self.outbox.staged.clear()
        self.processed_events.staged.clear()
        self.reminders.staged.clear()
        try:
            try:
                self.session.close()
            except sa_exc.DBAPIError as exc:
                if not exc.connection_invalidated:
                    with self._guard():
                        raise
                # The connection was lost (the database restarted): the server ended the transaction with it,
                # so there is nothing left to roll back, and what was read in the block stands. The session lets
                # the dead connection go; the pool opens a new one for the next unit of work.
                self.session.invalidate()
        finally:
            self.session.info.pop(_UOW, None)
            self._end_writing()
            if self._entered:
                self._entered = False
                self._writer_lock.unit_left()

    def check(self) -> None:
        with self._guard():
            self.session.execute(text("SELECT 1"))
