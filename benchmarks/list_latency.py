"""Item 5: list latency at 100 000 tickets on SQLite and PostgreSQL, and the relay's throughput to RabbitMQ.

The ticket store's own list query (TicketRepository.list through a unit of work, as the API runs it:
the page, its total count, and each ticket's history) for the filtered, paginated pages the UI asks for.
Tickets are seeded in bulk (statuses, requesters and titles spread evenly).

    .venv/bin/python benchmarks/list_latency.py [--quick|--full]

PostgreSQL is the benchmark database (PFLOW_BENCH_DATABASE_URL, default pflow_bench, created if
missing; its schema is rebuilt), RabbitMQ PFLOW_BENCH_RABBITMQ_URL.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from pflow.adapters.sqlalchemy import tables  # noqa: E402
from pflow.adapters.database.engine import create_db_engine  # noqa: E402
from pflow.adapters.database.migrate import upgrade  # noqa: E402
from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork  # noqa: E402
from pflow.adapters.sqlalchemy.session import build_session_factory  # noqa: E402
from pflow.domain.model import TicketStatus  # noqa: E402
from pflow.domain.steps import FormField, Step  # noqa: E402
from pflow.ports.repository import TaskQuery, TicketQuery  # noqa: E402

from benchmarks.common import (  # noqa: E402
    Context,
    Section,
    Skipped,
    SummaryRow,
    Table,
    log,
    need_postgres,
    need_rabbitmq,
)

KEY = "list"
TITLE = "5. List latency at 100 000 tickets"
GOAL_P99_MS = 30.0

STATUSES = ["draft", "in_progress", "needs_attention", "completed", "rejected", "withdrawn"]
REQUESTERS = [f"user{i:03d}" for i in range(500)]
#: the manager whose inbox is measured (as TicketService.tasks asks the store for it: their groups, four eyes)
MANAGER, MANAGER_GROUPS = "bob", ("managers",)

_DECISION = (FormField("approved", "Approve?", "boolean", required=True),)
# The open steps of a ticket in progress, by the shipped processes: (type, fields, [(BPMN task id, name, groups)],
# who decided an earlier step). In turn: an IT request and a purchase request at their manager's step, a purchase
# request above the threshold at finance (its manager decided), an access request at its two parallel reviews.
_IN_PROGRESS = [
    ("it_request", {"description": "benchmark", "priority": "normal"},
     [("ManagerApproval", "Manager Approval", ("managers",))], []),
    ("purchase_request", {"amount": 500, "supplier": "ACME", "cost_centre": "CC-10"},
     [("ManagerApproval", "Manager approval", ("managers",))], []),
    ("purchase_request", {"amount": 5000, "supplier": "ACME", "cost_centre": "CC-10"},
     [("FinanceApproval", "Finance approval", ("finance",))], ["dave"]),
    ("access_request", {"system": "CRM", "access_level": "read", "temporary": False},
     [("ManagerReview", "Manager review", ("managers",)), ("SecurityReview", "Security review", ("security",))], []),
]
_OTHER_TYPES = [("it_request", {"description": "benchmark", "priority": "normal"}),
                ("purchase_request", {"amount": 200, "supplier": "ACME"}),
                ("access_request", {"system": "CRM", "access_level": "read", "temporary": False})]


def _store_rows(**ticket) -> tuple[str, list[dict], list[dict]]:
    """What the ticket store writes for a ticket besides its row (its search text, its open steps and their
    candidates as inbox rows), made by the store's own functions so the seed stays what the store writes."""
    from types import SimpleNamespace

    from pflow.adapters.sqlalchemy.repository import _step_rows, search_text

    view = SimpleNamespace(**ticket)
    steps, candidates = _step_rows(view)
    return search_text(view), steps, candidates


def seed(engine, count: int) -> None:
    """``count`` tickets, statuses in turn; those in progress with their open steps as rows for the inbox."""
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    chunk = 5000
    with engine.begin() as c:
        for table in ("ticket_step_candidates", "ticket_steps", "ticket_deciders", "ticket_history", "outbox",
                      "tickets"):
            c.execute(text(f"DELETE FROM {table}"))
    running = 0
    for offset in range(0, count, chunk):
        tickets, history, steps, candidates, deciders = [], [], [], [], []
        for i in range(offset, min(count, offset + chunk)):
            tid = str(uuid.UUID(int=i + 1))
            at = start + timedelta(seconds=i * 30)
            status = STATUSES[i % len(STATUSES)]
            requester = REQUESTERS[i % len(REQUESTERS)]
            title = f"Ticket {i} {'laptop' if i % 7 == 0 else 'chair'}"
            open_steps: list[Step] = []
            decided: list[str] = []
            if status == "in_progress":
                type_, fields, shape, decided = _IN_PROGRESS[running % len(_IN_PROGRESS)]
                running += 1
                open_steps = [Step(task_id=str(uuid.uuid4()), definition_key=key, name=name, candidate_groups=groups,
                                   created_at=at + timedelta(seconds=1), form=_DECISION)
                              for key, name, groups in shape]
                deciders += [dict(ticket_id=tid, username=u) for u in decided]
            else:
                type_, fields = _OTHER_TYPES[i % len(_OTHER_TYPES)]
            search, step_rows, candidate_rows = _store_rows(
                id=tid, type=type_, title=title, fields=fields, requester=requester, last_editor=requester,
                status=TicketStatus(status), steps=open_steps, deciders=list(decided), results={})
            steps += step_rows
            candidates += candidate_rows
            tickets.append(dict(
                id=tid, type=type_, title=title, fields=dict(fields), requester=requester, status=status,
                steps=open_steps, current_steps=[s.name for s in open_steps] or
                (["Provision Service"] if status == "needs_attention" else []),
                last_editor=requester, deciders=list(decided),
                attention="the provisioning system is down" if status == "needs_attention" else None,
                definition_id=None if status == "draft" else f"{type_}:1", search_text=search,
                results={}, created_at=at, updated_at=at, version=1))
            history.append(dict(ticket_id=tid, seq=0, at=at, actor="bench", action="created", from_status=None,
                                to_status="draft", comment=None, details={}))
        with engine.begin() as c:
            c.execute(insert(tables.tickets), tickets)
            c.execute(insert(tables.ticket_history), history)
            if steps:
                c.execute(insert(tables.ticket_steps), steps)
                c.execute(insert(tables.ticket_step_candidates), candidates)
            if deciders:
                c.execute(insert(tables.ticket_deciders), deciders)
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            for table in ("tickets", "ticket_history", "ticket_steps", "ticket_step_candidates", "ticket_deciders"):
                c.execute(text(f"ANALYZE {table}"))
        else:
            c.execute(text("ANALYZE"))


def cases(count: int) -> dict[str, dict]:
    """The ticket pages the UI asks for; the deep page is page 50 at 100 000 tickets (fewer seeded: still deep)."""
    deep = max(2, min(50, count // len(STATUSES) // 20 // 2))
    return {
        # The approvals inbox as it was measured before the task inbox existed: tickets waiting in their process.
        "approvals inbox (in progress, oldest first, not mine), page 1": dict(status="in_progress",
                                                                              exclude_requester="user001",
                                                                              oldest_first=True),
        "status filter, page 1": dict(status="completed"),
        f"status filter, page {deep}": dict(status="completed", page=deep),
        "my tickets (requester), page 1": dict(requester="user042"),
        "everything, newest first, page 1": dict(),
        "text search 'laptop', page 1": dict(text="laptop"),
    }


#: The task inbox (GET /api/tasks) of a manager, as TicketService.tasks asks the store for it.
TASK_CASES = {
    "task inbox of a manager (GET /api/tasks), page 1": dict(),
    "task inbox of a manager, purchase requests only, page 1": dict(type="purchase_request"),
}


def measure(session_factory, runs: int, count: int) -> dict[str, tuple[float, float]]:
    """name -> (p50, p99) in ms over ``runs`` queries per case."""
    queries = [(name, TicketQuery(page_size=20, **args)) for name, args in cases(count).items()]
    queries += [(name, TaskQuery(username=MANAGER, groups=MANAGER_GROUPS, page_size=20, **args))
                for name, args in TASK_CASES.items()]
    results = {}
    for name, query in queries:
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            with SqlAlchemyUnitOfWork(session_factory) as uow:
                page = uow.tickets.tasks(query) if isinstance(query, TaskQuery) else uow.tickets.list(query)
                if not (page.items and page.total):
                    raise RuntimeError(f"the query {name!r} found nothing: the seed does not match the cases")
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        results[name] = (statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))])
    return results


def bench_store(url: str, count: int, runs: int) -> tuple[dict[str, tuple[float, float]], float]:
    from benchmarks.engine_flows import reset_database

    reset_database(url)
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        t0 = time.perf_counter()
        seed(engine, count)
        seeded = time.perf_counter() - t0
        measure(build_session_factory(engine), max(3, runs // 10), count)  # warm the caches and the pool
        return measure(build_session_factory(engine), runs, count), seeded
    finally:
        engine.dispose()


def bench_relay(db_url: str, amqp_url: str, events: int) -> float:
    """Events per second the outbox relay publishes to RabbitMQ (persistent, publisher confirms)."""
    from kombu import Connection

    from pflow.adapters.kombu.bus import KombuEventPublisher
    from pflow.service.relay import OutboxRelay

    engine = create_db_engine(db_url)
    upgrade(engine)
    with engine.begin() as c:
        c.execute(text("DELETE FROM outbox"))
        now = datetime.now(timezone.utc)
        rows = [dict(event_id=str(uuid.uuid4()), ticket_id=str(uuid.UUID(int=i % 1000 + 1)),
                     routing_key="ticket.created", body={"event_id": "x", "type": "ticket.created", "version": 1,
                                                         "occurred_at": now.isoformat(), "ticket_id": "t",
                                                         "actor": "bench", "data": {"title": "bench"}},
                     created_at=now, attempts=0) for i in range(events)]
        c.execute(insert(tables.outbox), rows)
    suffix = uuid.uuid4().hex[:8]
    exchange, queue = f"bench.ticket.events.{suffix}", f"bench.ticket.events.queue.{suffix}"
    publisher = KombuEventPublisher(amqp_url, exchange, queue)
    factory = build_session_factory(engine)
    relay = OutboxRelay(lambda: SqlAlchemyUnitOfWork(factory), publisher, batch_size=100)
    try:
        t0 = time.perf_counter()
        sent = relay.drain()
        rate = sent / (time.perf_counter() - t0)
    finally:
        publisher.close()
        with Connection(amqp_url) as conn:
            channel = conn.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(exchange)
        with engine.begin() as c:
            c.execute(text("DELETE FROM outbox"))
        engine.dispose()
    return rate


def run(ctx: Context) -> Section:
    section = Section(KEY, TITLE)
    count = ctx.size(2_000, 10_000, 100_000)
    runs = ctx.size(20, 50, 200)
    stores: list[tuple[str, str]] = []
    relay_rows = []
    with tempfile.TemporaryDirectory(prefix="pflow-bench-list-") as tmp:
        stores.append(("SQLite (WAL)", f"sqlite:///{Path(tmp) / 'bench.db'}"))
        try:
            stores.append(("PostgreSQL", need_postgres(ctx)))
        except Skipped as exc:
            section.skipped.append(str(exc))
        results = {}
        for label, url in stores:
            results[label], seeded = bench_store(url, count, runs)
            log(f"  {label}: {count} tickets seeded in {seeded:.1f} s; worst p99 "
                f"{max(p99 for _, p99 in results[label].values()):.1f} ms")
        try:
            amqp = need_rabbitmq(ctx)
            events = ctx.size(300, 2_000, 10_000)
            for label, url in stores:
                relay_rows.append([label, str(events), f"{bench_relay(url, amqp, events):.0f}"])
        except Skipped as exc:
            section.skipped.append(f"relay to RabbitMQ: {exc}")
    pages = list(cases(count))
    for label, _ in stores:
        listed = {name: results[label][name] for name in pages}
        worst_name, (worst_p50, worst_p99) = max(listed.items(), key=lambda kv: kv[1][1])
        inbox = results[label][pages[0]]
        tasks = results[label][next(iter(TASK_CASES))]
        section.summary.append(SummaryRow(
            f"{label}: approvals inbox page, p99 ms (p50 {inbox[0]:.1f})", f"{inbox[1]:.1f}", "goal",
            f"{GOAL_P99_MS:.0f}", f"{inbox[1] / GOAL_P99_MS:.2f}×", f"p99 < {GOAL_P99_MS:.0f} ms",
            inbox[1] < GOAL_P99_MS))
        section.summary.append(SummaryRow(
            f"{label}: task inbox of a manager (GET /api/tasks), p99 ms (p50 {tasks[0]:.1f})", f"{tasks[1]:.1f}",
            "goal", f"{GOAL_P99_MS:.0f}", f"{tasks[1] / GOAL_P99_MS:.2f}×", f"p99 < {GOAL_P99_MS:.0f} ms",
            tasks[1] < GOAL_P99_MS))
        section.summary.append(SummaryRow(
            f"{label}: slowest of the {len(listed)} pages ({worst_name}), p99 ms", f"{worst_p99:.1f}", "goal",
            f"{GOAL_P99_MS:.0f}", f"{worst_p99 / GOAL_P99_MS:.2f}×", f"p99 < {GOAL_P99_MS:.0f} ms",
            worst_p99 < GOAL_P99_MS))
    columns = ["page (20 tickets, with total and histories; task inbox: 20 steps with their tickets and total)"]
    for label, _ in stores:
        columns += [f"{label} p50", f"{label} p99"]
    rows = []
    for name in pages + list(TASK_CASES):
        row = [name]
        for label, _ in stores:
            p50, p99 = results[label][name]
            row += [f"{p50:.1f}", f"{p99:.1f}"]
        rows.append(row)
    section.tables.append(Table(f"{count:_} tickets, {runs} queries per page, ms".replace("_", " "), columns, rows))
    if relay_rows:
        section.tables.append(Table("For reference: the outbox relay publishing to RabbitMQ (persistent messages, "
                                    "publisher confirms, one at a time), events per second",
                                    ["outbox in", "events", "events/s"], relay_rows))
    section.setup = ("Each query opens a unit of work and runs TicketRepository.list as the API does: the page "
                     "(20 tickets), the total count, and the tickets' histories. The task inbox runs "
                     "TicketRepository.tasks as GET /api/tasks does for a manager (user bob, group managers; "
                     "steps assigned to them or offered to them or their groups, not on tickets they requested "
                     "or last edited, no second decision on one ticket): the page of 20 open steps with their "
                     "tickets, and the total. Seeded: statuses in turn over three ticket types; every ticket in "
                     "progress has its open steps as the shipped processes make them (a manager's step, a "
                     "finance step after a manager's decision, or a manager's and security's review in "
                     "parallel), so about three quarters of them wait for a manager. SQLite: a file in WAL mode "
                     "as `pflow serve` creates it; PostgreSQL: the benchmark database, migrated by Alembic, "
                     "ANALYZEd after seeding. The ratio is the figure ÷ the goal's limit.")
    section.limits = (
        "The free-text search: `q=` matches a substring of the title or the ticket's string fields "
        "(`LIKE '%laptop%'` on a lower-cased search column the store keeps). On PostgreSQL a trigram GIN "
        "index (pg_trgm, migration 0014) serves it; the page of a common term reads the creation-order "
        "index and stops after 20, and what is left is the total: every match counted (one ticket in seven "
        "here, about 14 300 at 100 000 tickets). On SQLite no index serves a substring, so the total scans "
        "the table (it grows with the table); an FTS5 trigram table halves that count (about 11 ms against "
        "21 ms at 100 000 tickets, measured on its own) but makes the page of a common term slower than the "
        "index it replaces, so SQLite keeps the scan. A total capped at a few hundred (\"500+\") would bound "
        "both. "
        "The task inbox: its page reads the open steps in order of creation through an index and takes a few "
        "milliseconds; its total counts every step the manager may take (about 12 500 at 100 000 tickets) on "
        "the step and candidate rows (the store keeps each ticket's requester, last editor, type and status on "
        "its step rows, so the count joins no ticket), and that count is most of the figure; it grows with "
        "the open steps of the manager's groups, not with the tickets. A total capped at a few hundred "
        "(\"500+\") would bound it. The filtered ticket pages "
        "the UI lists by (status, requester, the approvals inbox, deep pages) read an index."
    )
    return section


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    from benchmarks.common import env_context
    from benchmarks.report import print_section

    print_section(run(env_context("full" if args.full else "quick")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
