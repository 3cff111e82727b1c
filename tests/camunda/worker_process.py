"""A worker process on Camunda for the reliability tests: the real worker runtime, provisioning
handler and Camunda adapter; only the ticket store and the provisioning backend are stood in for
by a SQLite "ledger" that every worker process shares, so a test can count across processes:

* ``effects``: one row per ticket actually provisioned (the backend's side effect, idempotent by id);
* ``calls``: one row per provisioner call (redeliveries included), with the worker that made it;
* ``tickets``: status and fulfilment reference (the ticket store);
* ``pauses``: where a worker stopped on purpose (``--pause-at``).

``--pause-at`` stops the handler for good at ``provisioning`` (inside the backend call, before
its effect), ``provisioned`` (effect done, ticket not committed) or ``committed`` (ticket committed,
task not completed), for the test to SIGKILL it there.

    python -m tests.camunda.worker_process --url URL --process-key KEY --ledger PATH --worker-id W
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import signal
import sqlite3
import sys
import time
from pathlib import Path

from pflow.domain.model import Ticket, TicketStatus
from pflow.domain.users import SYSTEM, User
from pflow.ports.provisioning import Provisioner

REQUESTER = User("alice", roles=frozenset({"requester"}))
MANAGER = User("bob", roles=frozenset({"manager"}))


class Ledger:
    def __init__(self, path: Path, worker_id: str = "test", pause_at: str | None = None) -> None:
        self.path = Path(path)
        self.worker_id = worker_id
        self.pause_at = pause_at

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def create(self) -> None:
        conn = self._connect()
        try:
            conn.executescript("""
                CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, status TEXT NOT NULL, reference TEXT);
                CREATE TABLE IF NOT EXISTS effects (ticket_id TEXT PRIMARY KEY, reference TEXT NOT NULL,
                                                    worker TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS calls (ticket_id TEXT NOT NULL, worker TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS pauses (worker TEXT NOT NULL, stage TEXT NOT NULL);
            """)
        finally:
            conn.close()

    def query(self, sql: str, *args) -> list[tuple]:
        conn = self._connect()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def execute(self, sql: str, *args) -> int:
        conn = self._connect()
        try:
            return conn.execute(sql, args).rowcount
        finally:
            conn.close()

    def pause(self, stage: str) -> None:
        if self.pause_at == stage:
            self.execute("INSERT INTO pauses VALUES (?, ?)", self.worker_id, stage)
            while True:  # until SIGKILL
                time.sleep(3600)


class LedgerProvisioner(Provisioner):
    """Idempotent by ticket id, as the real backend must be."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def provision(self, ticket: Ticket) -> str:
        self.ledger.execute("INSERT INTO calls VALUES (?, ?)", ticket.id, self.ledger.worker_id)
        self.ledger.pause("provisioning")
        reference = "PRV-" + hashlib.sha256(ticket.id.encode()).hexdigest()[:10].upper()
        self.ledger.execute("INSERT OR IGNORE INTO effects VALUES (?, ?, ?)", ticket.id, reference,
                            self.ledger.worker_id)
        self.ledger.pause("provisioned")
        return reference


class LedgerTickets:
    """The part of TicketService the provisioning handler uses, on the ledger's ticket table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def prepare_provisioning(self, ticket_id: str) -> Ticket:
        [(status, reference)] = self.ledger.query("SELECT status, reference FROM tickets WHERE id = ?", ticket_id)
        ticket = Ticket.create(REQUESTER, {"title": "Laptop", "amount": "1200", "priority": "normal"},
                               ticket_id=ticket_id)
        ticket.submit(REQUESTER)
        ticket.approve(MANAGER)
        if status == TicketStatus.COMPLETED.value:
            ticket.complete_provisioning(SYSTEM, reference)
        return ticket

    def complete_provisioning(self, ticket_id: str, reference: str) -> None:
        self.ledger.execute("UPDATE tickets SET status = 'completed', reference = ? WHERE id = ? "
                            "AND status = 'approved'", reference, ticket_id)
        self.ledger.pause("committed")

    def report_provisioning_failure(self, ticket_id: str, error: str) -> None:
        self.ledger.execute("UPDATE tickets SET status = 'provisioning_failed' WHERE id = ?", ticket_id)


def main(argv: list[str] | None = None) -> int:
    from pflow.adapters.camunda import CamundaWorkflowEngine
    from pflow.entrypoints.worker import ExternalTaskWorker, WorkerSettings
    from pflow.service.provisioning import ProvisioningHandler

    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--process-key", required=True)
    parser.add_argument("--ledger", required=True, type=Path)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lock-ms", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pause-at", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {args.worker_id} %(levelname)s %(name)s: %(message)s")

    ledger = Ledger(args.ledger, args.worker_id, args.pause_at)
    engine = CamundaWorkflowEngine(args.url, args.process_key)
    handler = ProvisioningHandler(LedgerTickets(ledger), LedgerProvisioner(ledger))  # type: ignore[arg-type]
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(
        worker_id=args.worker_id, concurrency=args.concurrency, lock_duration_ms=args.lock_ms,
        poll_wait_ms=10_000, retry_backoff_ms=200, engine_backoff_max_s=2.0))

    def _stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    worker.start()
    print(f"worker {args.worker_id} ready", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop(timeout=20)
        engine.close()
    print(f"worker {args.worker_id} stopped: {worker.processed} done, {worker.failed} failed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
