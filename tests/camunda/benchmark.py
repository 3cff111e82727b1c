"""Figures for PFlow on a real Camunda 7: pick-up latency and worker throughput. Prints, asserts nothing.

* pick-up latency: the real TicketService (in-memory ticket store) approves a ticket on Camunda;
  the real ExternalTaskWorker, idle and long-polling, starts the provisioning handler. Measured:
  approve() returned -> handler started. One ticket at a time, each after the previous completed.
* throughput: N instances wait at the provisioning task; one worker with a no-op handler drains
  them. Measured: tasks completed per second (fetch-and-lock + complete, over REST).

Runs under a process key of its own (deleted afterwards), so it never touches other work.

    .venv/bin/python -m tests.camunda.benchmark                 # 100 tickets, 200 tasks
    .venv/bin/python -m tests.camunda.benchmark --quick         # 30 tickets, 60 tasks
    PFLOW_TEST_CAMUNDA_URL=http://host:8081/engine-rest .venv/bin/python -m tests.camunda.benchmark
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid

import requests

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.adapters.memory.provisioning import SimulatedProvisioner
from pflow.adapters.memory.repository import InMemoryStore, InMemoryUnitOfWork
from pflow.domain.users import User
from pflow.entrypoints.worker import ExternalTaskWorker, WorkerSettings
from pflow.ports.workflow import PROVISIONING_TOPIC, InstanceState
from pflow.service.provisioning import ProvisioningHandler
from pflow.service.tickets import TicketService
from tests.camunda.stack import BPMN, CAMUNDA_URL

ALICE = User("alice", "Alice", frozenset({"requester"}))
BOB = User("bob", "Bob", frozenset({"manager"}))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def bench_bpmn(key: str, tmp) -> str:
    path = tmp / "ticket-process.bpmn"
    path.write_text(BPMN.read_text().replace('"ticket_approval"', f'"{key}"'))
    return str(path)


class TimedHandler:
    """The real provisioning handler, noting when each task reached it."""

    topic = PROVISIONING_TOPIC

    def __init__(self, inner: ProvisioningHandler) -> None:
        self.inner = inner
        self.started: dict[str, float] = {}
        self.arrived = threading.Condition()

    def handle(self, task):
        with self.arrived:
            self.started[task.business_key] = time.perf_counter()
            self.arrived.notify_all()
        return self.inner.handle(task)


class NoOpHandler:
    topic = PROVISIONING_TOPIC

    def __init__(self) -> None:
        self.done = 0
        self.lock = threading.Lock()

    def handle(self, task):
        with self.lock:
            self.done += 1
        return {}


def pickup(engine: CamundaWorkflowEngine, count: int, max_poll_ms: int) -> dict:
    store = InMemoryStore()
    tickets = TicketService(lambda: InMemoryUnitOfWork(store), engine)
    handler = TimedHandler(ProvisioningHandler(tickets, SimulatedProvisioner()))
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(worker_id="bench-pickup", concurrency=4,
                                                                  poll_wait_ms=30_000))
    latencies: list[float] = []
    worker.start()
    try:
        time.sleep(0.5)  # the worker is long-polling
        for i in range(count):
            ticket = tickets.create(ALICE, {"title": f"Bench {i}", "amount": "10"})
            tickets.submit(ALICE, ticket.id)
            tickets.approve(BOB, ticket.id)
            returned = time.perf_counter()
            with handler.arrived:
                if not handler.arrived.wait_for(lambda: ticket.id in handler.started, timeout=60):
                    raise SystemExit(f"ticket {ticket.id} was not picked up within 60 s")
            latencies.append((handler.started[ticket.id] - returned) * 1000)
            deadline = time.monotonic() + 30
            while engine.process_state(ticket.id).state != InstanceState.COMPLETED:
                if time.monotonic() > deadline:
                    raise SystemExit(f"ticket {ticket.id} did not complete")
                time.sleep(0.005)
            time.sleep(0.05)  # let the worker go back to its long poll
    finally:
        worker.stop(timeout=10)
    return {"n": count, "p50": statistics.median(latencies), "p90": percentile(latencies, 90),
            "p99": percentile(latencies, 99), "max": max(latencies), "mean": statistics.fmean(latencies)}


def throughput(engine: CamundaWorkflowEngine, count: int, concurrency: int) -> dict:
    keys = []
    for _ in range(count):
        key = f"bench-{uuid.uuid4()}"
        engine.start_process(key, {})
        task = engine.find_user_task(key)
        engine.complete_user_task(task.id, {"approved": True, "comment": "", "approver": "bob"})
        keys.append(key)
    handler = NoOpHandler()
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(worker_id=f"bench-drain-{concurrency}",
                                                                  concurrency=concurrency, poll_wait_ms=1_000))
    started = time.perf_counter()
    worker.start()
    try:
        while worker.processed < count:
            if time.perf_counter() - started > 300:
                raise SystemExit(f"only {worker.processed} of {count} tasks done after 300 s")
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        worker.stop(timeout=10)
    return {"n": count, "concurrency": concurrency, "seconds": elapsed, "per_second": count / elapsed}


def main() -> None:
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tickets", type=int, default=None)
    parser.add_argument("--tasks", type=int, default=None)
    parser.add_argument("--max-poll-ms", type=int, default=2_000)
    args = parser.parse_args()
    tickets = args.tickets or (30 if args.quick else 100)
    tasks = args.tasks or (60 if args.quick else 200)

    key = f"ticket_approval_bench{uuid.uuid4().hex[:8]}"
    engine = CamundaWorkflowEngine(CAMUNDA_URL, key, max_poll_ms=args.max_poll_ms)
    with tempfile.TemporaryDirectory() as tmp:
        engine.deploy(bench_bpmn(key, Path(tmp)))
    version = requests.get(f"{CAMUNDA_URL}/version", timeout=5).json()["version"]
    print(f"Camunda {version} at {CAMUNDA_URL}; max poll slice {args.max_poll_ms} ms")
    try:
        p = pickup(engine, tickets, args.max_poll_ms)
        print(f"pick-up latency, approve() returned -> handler started, {p['n']} tickets: "
              f"p50 {p['p50']:.1f} ms, p90 {p['p90']:.1f} ms, p99 {p['p99']:.1f} ms, max {p['max']:.1f} ms, "
              f"mean {p['mean']:.1f} ms")
        for concurrency in (4, 16):
            t = throughput(engine, tasks, concurrency)
            print(f"throughput, {t['n']} waiting tasks, no-op handler, one worker, concurrency {concurrency}: "
                  f"{t['per_second']:.0f} tasks/s ({t['seconds']:.2f} s)")
    finally:
        for deployment in requests.get(f"{CAMUNDA_URL}/deployment", params={"name": f"pflow-{key}"}, timeout=10).json():
            if deployment.get("name") == f"pflow-{key}":
                requests.delete(f"{CAMUNDA_URL}/deployment/{deployment['id']}", params={"cascade": "true"}, timeout=60)
        engine.close()


if __name__ == "__main__":
    main()
