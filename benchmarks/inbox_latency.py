"""The inbox query (TicketRepository.tasks through a unit of work, as the API runs it: the page, its total and
each ticket's history) at 10 000 tickets in progress, on SQLite and optionally PostgreSQL. Prints p50/p99.

    .venv/bin/python benchmarks/inbox_latency.py [--tickets 10000] [--runs 200] [--postgres URL]

The PostgreSQL database given is wiped (its schema is rebuilt). Tickets are seeded in bulk: each has one or two
open steps offered to one of several groups, some to a named user or an assignee, a third already decided by
someone; the measured user is in two of the groups, so they are a candidate for a large share of the steps.
Not a timed test: it prints figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
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
from pflow.adapters.sqlalchemy.orm import start_mappers  # noqa: E402
from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork, search_text  # noqa: E402
from pflow.adapters.sqlalchemy.session import build_session_factory  # noqa: E402
from pflow.domain.model import Ticket  # noqa: E402
from pflow.domain.steps import FormField, Step  # noqa: E402
from pflow.ports.repository import TaskQuery  # noqa: E402

GROUPS = ["managers", "finance", "security", "hr", "facilities", "legal"]
USER, USER_GROUPS = "bench-manager", ("finance", "managers")
REQUESTERS = [f"user{i:03d}" for i in range(500)]
TYPES = ["it_request", "purchase_request", "access_request"]
DECISION = (FormField("approved", "Approve?", "boolean", required=True), FormField("note", "Note", "string"))


def _steps(i: int, at: datetime) -> list[Step]:
    first = Step(task_id=f"task-{i}-a", definition_key="Review", name="Review", candidate_groups=(GROUPS[i % 6],),
                 candidate_users=(USER,) if i % 50 == 0 else (), assignee=USER if i % 97 == 0 else None,
                 due=at + timedelta(days=i % 9) if i % 3 else None, created_at=at, form=DECISION)
    if i % 4:
        return [first]
    second = Step(task_id=f"task-{i}-b", definition_key="Security", name="Security review",
                  candidate_groups=("security", GROUPS[(i + 1) % 6]), created_at=at + timedelta(seconds=1),
                  form=DECISION)
    return [first, second]


def seed(engine, count: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    chunk = 2000
    for offset in range(0, count, chunk):
        rows, history, steps, candidates, deciders = [], [], [], [], []
        for i in range(offset, min(count, offset + chunk)):
            tid = str(uuid.UUID(int=i + 1))
            at = start + timedelta(seconds=i * 30)
            requester = USER if i % 40 == 0 else REQUESTERS[i % len(REQUESTERS)]
            decided = [USER] if i % 3 == 0 else []
            open_steps = _steps(i, at)
            ticket = Ticket(id=tid, type=TYPES[i % 3], title=f"Ticket {i} {'laptop' if i % 7 == 0 else 'chair'}",
                            fields={"description": "benchmark", "amount": i % 3000}, requester=requester)
            rows.append(dict(id=tid, type=ticket.type, title=ticket.title, fields=ticket.fields, requester=requester,
                             status="in_progress", steps=open_steps,
                             current_steps=[s.name for s in open_steps], last_editor=requester, deciders=decided,
                             attention=None, definition_id=None, search_text=search_text(ticket), created_at=at,
                             updated_at=at, version=2))
            history.append(dict(ticket_id=tid, seq=0, at=at, actor=requester, action="created", from_status=None,
                                to_status="draft", comment=None, details={}))
            for s in open_steps:
                steps.append(dict(task_id=s.task_id, ticket_id=tid, definition_key=s.definition_key, name=s.name,
                                  assignee=s.assignee, due=s.due, created_at=s.created_at, is_decision=s.is_decision,
                                  requester=requester, last_editor=requester, ticket_type=ticket.type,
                                  ticket_status="in_progress"))
                candidates += [dict(task_id=s.task_id, kind="group", name=g) for g in s.candidate_groups]
                candidates += [dict(task_id=s.task_id, kind="user", name=u) for u in s.candidate_users]
            deciders += [dict(ticket_id=tid, username=u) for u in decided]
        with engine.begin() as c:
            c.execute(insert(tables.tickets), rows)
            c.execute(insert(tables.ticket_history), history)
            c.execute(insert(tables.ticket_steps), steps)
            c.execute(insert(tables.ticket_step_candidates), candidates)
            if deciders:
                c.execute(insert(tables.ticket_deciders), deciders)
    with engine.begin() as c:
        c.execute(text("ANALYZE"))


CASES = {
    "inbox, oldest first, page 1": dict(),
    "inbox, by due date, page 1": dict(sort="due"),
    "inbox, page 20": dict(page=20),
    "inbox, group finance": dict(group="finance"),
    "inbox, type purchase_request": dict(type="purchase_request"),
    "inbox, text 'laptop'": dict(text="laptop"),
}


def measure(session_factory, runs: int) -> dict[str, tuple[float, float, int]]:
    """name -> (p50 ms, p99 ms, total) over ``runs`` queries per case."""
    results = {}
    for name, args in CASES.items():
        query = TaskQuery(username=USER, groups=USER_GROUPS, page_size=20, **args)
        timings, total = [], 0
        for _ in range(runs):
            t0 = time.perf_counter()
            with SqlAlchemyUnitOfWork(session_factory) as uow:
                page = uow.tickets.tasks(query)
                for item in page.items:
                    item.ticket.history  # noqa: B018 - what the API serialises
            timings.append((time.perf_counter() - t0) * 1000)
            total = page.total
            if not page.items:
                raise RuntimeError(f"the case {name!r} found nothing: the seed does not match the cases")
        timings.sort()
        results[name] = (statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))], total)
    return results


def bench(url: str, tickets: int, runs: int) -> dict[str, tuple[float, float, int]]:
    if url.startswith("postgresql"):
        from benchmarks.engine_flows import reset_database

        reset_database(url)
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        t0 = time.perf_counter()
        seed(engine, tickets)
        print(f"  seeded {tickets} tickets in {time.perf_counter() - t0:.1f} s")
        factory = build_session_factory(engine)
        measure(factory, max(3, runs // 10))  # warm the caches and the pool
        return measure(factory, runs)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", help="also on this PostgreSQL database (wiped)")
    args = parser.parse_args(argv)
    start_mappers()
    with tempfile.TemporaryDirectory(prefix="pflow-bench-inbox-") as tmp:
        stores = [("SQLite (WAL)", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        if args.postgres:
            from pflow.config import normalise_database_url

            stores.append(("PostgreSQL", normalise_database_url(args.postgres)))
        for label, url in stores:
            print(f"{label}: inbox of {USER} (groups {', '.join(USER_GROUPS)}) at {args.tickets} tickets, "
                  f"{args.runs} runs per case")
            for name, (p50, p99, total) in bench(url, args.tickets, args.runs).items():
                print(f"  {name:<32} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({total} matching steps)")


if __name__ == "__main__":
    main()
