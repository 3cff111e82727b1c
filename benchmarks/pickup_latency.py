"""Pick-up latency of the embedded engine: approve returned -> provisioning handler started.

Runs the real TicketService (in-memory ticket store) and ExternalTaskWorker
threads on the embedded engine with a temporary SQLite file (or the database
given with --database-url). Tickets are approved one at a time, each after the
previous one completed, so every pick-up starts from an idle, long-polling
worker. Also measures raw engine throughput (full flows per second: start,
approve, fetch-and-lock, complete, all persisted) in one thread.

    .venv/bin/python benchmarks/pickup_latency.py            # 300 tickets
    .venv/bin/python benchmarks/pickup_latency.py --quick    # 50 tickets
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from pflow.adapters.memory.provisioning import SimulatedProvisioner  # noqa: E402
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork  # noqa: E402
from pflow.adapters.spiff import SpiffWorkflowEngine, tables  # noqa: E402
from pflow.adapters.sqlalchemy.engine import create_db_engine  # noqa: E402
from pflow.config import REPO_ROOT, normalise_database_url  # noqa: E402
from pflow.domain.model import TicketStatus  # noqa: E402
from pflow.domain.users import User  # noqa: E402
from pflow.entrypoints.worker import ExternalTaskWorker, WorkerSettings  # noqa: E402
from pflow.ports.workflow import PROVISIONING_TOPIC  # noqa: E402
from pflow.service.provisioning import ProvisioningHandler  # noqa: E402
from pflow.service.tickets import TicketService  # noqa: E402

BPMN = REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn"
ALICE = User("alice", "Alice", frozenset({"requester"}))
BOB = User("bob", "Bob", frozenset({"manager"}))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def fresh_engine(url: str):
    db = create_db_engine(url)
    tables.drop_schema(db)
    tables.create_schema(db)
    engine = SpiffWorkflowEngine(db)
    engine.deploy(BPMN)
    return db, engine


def pickup(url: str, count: int) -> dict:
    db, engine = fresh_engine(url)
    store = InMemoryStore()
    tickets = TicketService(lambda: InMemoryUnitOfWork(store), engine)
    handler = ProvisioningHandler(tickets, SimulatedProvisioner())
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(worker_id="bench", concurrency=4,
                                                                  poll_wait_ms=30_000))
    started: dict[str, float] = {}
    arrived = threading.Condition()

    def on_start(task):
        with arrived:
            started[task.business_key] = time.perf_counter()
            arrived.notify_all()

    worker.on_task_start = on_start
    worker.start()
    after_return, after_call = [], []
    try:
        time.sleep(0.2)  # the worker is long-polling
        for i in range(count):
            ticket = tickets.create(ALICE, {"title": f"Laptop {i}", "amount": "1200", "priority": "normal"})
            tickets.submit(ALICE, ticket.id)
            called = time.perf_counter()
            tickets.approve(BOB, ticket.id, "ok")
            returned = time.perf_counter()
            with arrived:
                arrived.wait_for(lambda: ticket.id in started, timeout=30)
            deadline = time.monotonic() + 30
            while tickets.get(BOB, ticket.id).status != TicketStatus.COMPLETED and time.monotonic() < deadline:
                time.sleep(0.001)
            after_return.append((started[ticket.id] - returned) * 1000)
            after_call.append((started[ticket.id] - called) * 1000)
    finally:
        worker.stop(timeout=10)
        engine.close()
        db.dispose()
    return {"after_return": after_return, "after_call": after_call, "processed": worker.processed}


def throughput(url: str, count: int) -> tuple[float, float, float]:
    db, engine = fresh_engine(url)
    try:
        began, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            key = f"flow-{i}"
            engine.start_process(key, {"requester": "alice", "title": "Laptop"})
            task = engine.find_user_task(key)
            engine.complete_user_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, "bob")
            [ext] = engine.fetch_and_lock("bench", [PROVISIONING_TOPIC], lock_duration_ms=30_000, business_key=key)
            engine.complete_external_task(ext.id, "bench", {"fulfilment_reference": f"PRV-{i}"})
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        with db.connect() as conn:
            size = conn.execute(select(func.avg(func.length(tables.instances.c.serialized)))).scalar()
        return count / elapsed, cpu / count * 1000, float(size or 0)
    finally:
        engine.close()
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 tickets and 200 flows instead of 300 and 1000")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--flows", type=int, default=None)
    parser.add_argument("--database-url", default=None,
                        help="SQLite or PostgreSQL URL (its embedded-engine tables are dropped and recreated); "
                             "default: a temporary SQLite file")
    args = parser.parse_args()
    tickets = args.tickets or (50 if args.quick else 300)
    flows = args.flows or (200 if args.quick else 1000)
    with tempfile.TemporaryDirectory(prefix="pflow-bench-") as tmp:
        url = normalise_database_url(args.database_url) if args.database_url else f"sqlite:///{Path(tmp) / 'bench.db'}"
        shown = url.split("@")[-1] if "@" in url else url
        print(f"embedded engine on {shown}")
        result = pickup(url, tickets)
        lat = result["after_return"]
        print(f"pick-up latency, approve returned -> handler started ({len(lat)} tickets, one at a time):")
        print(f"  p50 {percentile(lat, 50):7.2f} ms   p90 {percentile(lat, 90):7.2f} ms   "
              f"p99 {percentile(lat, 99):7.2f} ms   max {max(lat):7.2f} ms   mean {statistics.mean(lat):7.2f} ms")
        early = sum(1 for v in lat if v < 0)
        if early:
            print(f"  ({early} handlers started before approve() had returned: the engine commits first)")
        call = result["after_call"]
        print(f"  from the approve call: p50 {percentile(call, 50):7.2f} ms   p99 {percentile(call, 99):7.2f} ms")
        rate, cpu_ms, size = throughput(url, flows)
        print(f"raw engine throughput, one thread: {rate:7.1f} full flows/s ({flows} flows; "
              f"{cpu_ms:.1f} ms of this process's CPU per flow; state {size / 1024:.1f} KB per instance)")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"load average during the run: {load:.2f} on {os.cpu_count()} CPUs (figures above shift with it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
