"""List-query latency at 100 000 tickets (SQLite and PostgreSQL), and relay throughput to RabbitMQ.

    .venv/bin/python benchmarks/list_latency.py            # 100 000 tickets, 200 queries per case
    .venv/bin/python benchmarks/list_latency.py --quick    # 10 000 tickets, 50 queries per case

PostgreSQL and RabbitMQ come from PFLOW_TEST_DATABASE_URL / PFLOW_TEST_RABBITMQ_URL (defaults:
the pflow_test database and guest@localhost); a service that does not answer is skipped with a note.
The PostgreSQL tables are emptied first: point it at a test database only. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from pflow.adapters.sqlalchemy import tables  # noqa: E402
from pflow.adapters.sqlalchemy.engine import create_db_engine  # noqa: E402
from pflow.adapters.sqlalchemy.migrate import upgrade  # noqa: E402
from pflow.adapters.sqlalchemy.repository import SqlAlchemyUnitOfWork  # noqa: E402
from pflow.adapters.sqlalchemy.session import build_session_factory  # noqa: E402
from pflow.config import normalise_database_url  # noqa: E402
from pflow.ports.repository import TicketQuery  # noqa: E402

STATUSES = ["draft", "pending_approval", "approved", "rejected", "completed", "provisioning_failed"]
REQUESTERS = [f"user{i:03d}" for i in range(500)]


def seed(engine, count: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    chunk = 5000
    with engine.begin() as c:
        c.execute(text("DELETE FROM ticket_history"))
        c.execute(text("DELETE FROM outbox"))
        c.execute(text("DELETE FROM tickets"))
    for offset in range(0, count, chunk):
        tickets, history = [], []
        for i in range(offset, min(count, offset + chunk)):
            tid = str(uuid.UUID(int=i + 1))
            at = start + timedelta(seconds=i * 30)
            status = STATUSES[i % len(STATUSES)]
            tickets.append(dict(id=tid, title=f"Ticket {i} {'laptop' if i % 7 == 0 else 'chair'}",
                                description="benchmark", amount=None, priority="normal",
                                requester=REQUESTERS[i % len(REQUESTERS)], approver=None, fulfilment_reference=None,
                                status=status, created_at=at, updated_at=at, version=1))
            history.append(dict(ticket_id=tid, seq=0, at=at, actor="bench", action="created", from_status=None,
                                to_status="draft", comment=None))
        with engine.begin() as c:
            c.execute(insert(tables.tickets), tickets)
            c.execute(insert(tables.ticket_history), history)
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("ANALYZE tickets"))
            c.execute(text("ANALYZE ticket_history"))
        else:
            c.execute(text("ANALYZE"))


CASES = {
    "approvals inbox (pending, oldest first, not mine), page 1": dict(status="pending_approval",
                                                                      exclude_requester="user001", oldest_first=True),
    "status filter, page 1": dict(status="approved"),
    "status filter, page 50": dict(status="approved", page=50),
    "my tickets (requester), page 1": dict(requester="user042"),
    "everything, newest first, page 1": dict(),
    "text search 'laptop', page 1": dict(text="laptop"),
}


def measure(session_factory, runs: int) -> dict[str, tuple[float, float]]:
    results = {}
    for name, args in CASES.items():
        query = TicketQuery(page_size=20, **args)
        timings = []
        for _ in range(runs):
            t0 = time.perf_counter()
            with SqlAlchemyUnitOfWork(session_factory) as uow:
                page = uow.tickets.list(query)
                assert page.items and page.total
            timings.append((time.perf_counter() - t0) * 1000)
        timings.sort()
        results[name] = (statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))])
    return results


def bench_store(label: str, url: str, count: int, runs: int) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        t0 = time.perf_counter()
        seed(engine, count)
        print(f"\n{label}: {count} tickets seeded in {time.perf_counter() - t0:.1f}s; {runs} queries per case, "
              "20 per page (p50 / p99, ms, including the total count and the history of each ticket)")
        for name, (p50, p99) in measure(build_session_factory(engine), runs).items():
            print(f"  {name:<58} {p50:7.2f} {p99:7.2f}")
    finally:
        engine.dispose()


def bench_relay(db_url: str, amqp_url: str, events: int) -> None:
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
    t0 = time.perf_counter()
    sent = relay.drain()
    elapsed = time.perf_counter() - t0
    print(f"\nrelay {engine.dialect.name} -> RabbitMQ (persistent, publisher confirms, one at a time): "
          f"{sent} events in {elapsed:.2f}s = {sent / elapsed:.0f} events/s")
    publisher.close()
    from kombu import Connection

    with Connection(amqp_url) as c:
        channel = c.channel()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
    engine.dispose()


def _reachable(check) -> str | None:
    try:
        check()
        return None
    except Exception as exc:  # the benchmark reports and skips what it cannot reach
        return f"{type(exc).__name__}: {exc}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 000 tickets, fewer runs")
    parser.add_argument("--tickets", type=int, default=None)
    args = parser.parse_args()
    count = args.tickets or (10_000 if args.quick else 100_000)
    runs = 50 if args.quick else 200
    pg = normalise_database_url(os.environ.get("PFLOW_TEST_DATABASE_URL",
                                               "postgresql://pflow:pflow@localhost:5432/pflow_test"))
    amqp = os.environ.get("PFLOW_TEST_RABBITMQ_URL", "amqp://guest:guest@localhost:5672/")
    with tempfile.TemporaryDirectory() as tmp:
        bench_store("SQLite (WAL)", f"sqlite:///{tmp}/bench.db", count, runs)
        pg_down = _reachable(lambda: create_db_engine(pg).connect().close())
        if pg_down:
            print(f"\nPostgreSQL skipped: {pg_down}")
        else:
            bench_store("PostgreSQL", pg, count, runs)
        from kombu import Connection

        amqp_down = _reachable(lambda: Connection(amqp, connect_timeout=3).ensure_connection(max_retries=1))
        events = 2000 if args.quick else 10_000
        if amqp_down:
            print(f"\nRabbitMQ skipped: {amqp_down}")
        else:
            bench_relay(f"sqlite:///{tmp}/relay.db", amqp, events)
            if not pg_down:
                bench_relay(pg, amqp, events)
                with create_db_engine(pg).begin() as c:
                    c.execute(text("DELETE FROM outbox"))


if __name__ == "__main__":
    main()
