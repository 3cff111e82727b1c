"""A worker process for the crash tests: the real runtime and provisioning handler on the embedded engine.

The ticket store and the provisioning backend are stood in for by a SQLite
"ledger" file that every worker process shares, so the test can count what
really happened across processes:

* ``effects``: one row per ticket actually provisioned (the backend's side effect);
* ``calls``: one row per call of the provisioner (redeliveries included);
* ``tickets``: the ticket's status and fulfilment reference (the ticket store).

``--pause-at`` makes this worker stop forever at one point of the handler
(it is then SIGKILLed by the test): ``provisioning`` (inside the backend call,
before its effect), ``provisioned`` (effect done, ticket not yet committed),
``committed`` (ticket committed, task not yet completed), or ``slow`` (pause a
second, then go on, to show a graceful stop).

Run as ``python -m tests.integration.crash_worker --db URL --ledger PATH --worker-id W``.
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
        self.path = path
        self.worker_id = worker_id
        self.pause_at = pause_at

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def create(self) -> None:
        with self.connect() as conn:
            conn.executescript("""
                CREATE TABLE IF NOT EXISTS tickets (id TEXT PRIMARY KEY, status TEXT NOT NULL, reference TEXT);
                CREATE TABLE IF NOT EXISTS effects (ticket_id TEXT PRIMARY KEY, reference TEXT NOT NULL,
                                                    worker TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS calls (ticket_id TEXT NOT NULL, worker TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS pauses (worker TEXT NOT NULL, stage TEXT NOT NULL);
            """)

    def query(self, sql: str, *args):
        conn = self.connect()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def execute(self, sql: str, *args) -> int:
        conn = self.connect()
        try:
            return conn.execute(sql, args).rowcount
        finally:
            conn.close()

    def pause(self, stage: str) -> None:
        if self.pause_at != stage:
            return
        self.execute("INSERT INTO pauses VALUES (?, ?)", self.worker_id, stage)
        if stage == "slow":
            time.sleep(1.0)
            return
        while True:  # until SIGKILL
            time.sleep(3600)


class LedgerProvisioner(Provisioner):
    """Idempotent by ticket id, like the real backend must be: a second call provisions nothing new."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def provision(self, ticket: Ticket) -> str:
        self.ledger.execute("INSERT INTO calls VALUES (?, ?)", ticket.id, self.ledger.worker_id)
        self.ledger.pause("provisioning")
        reference = "PRV-" + hashlib.sha256(ticket.id.encode()).hexdigest()[:10].upper()
        self.ledger.execute("INSERT OR IGNORE INTO effects VALUES (?, ?, ?)", ticket.id, reference,
                            self.ledger.worker_id)
        self.ledger.pause("provisioned")
        self.ledger.pause("slow")
        return reference


class LedgerTickets:
    """The slice of TicketService the provisioning handler uses, on the ledger's ticket table."""

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
        self.ledger.execute("UPDATE tickets SET status = 'completed', reference = ? WHERE id = ? AND status = "
                            "'approved'", reference, ticket_id)
        self.ledger.pause("committed")

    def report_provisioning_failure(self, ticket_id: str, error: str) -> None:
        self.ledger.execute("UPDATE tickets SET status = 'provisioning_failed' WHERE id = ?", ticket_id)


def main(argv: list[str] | None = None) -> int:
    from pflow.adapters.spiff import SpiffWorkflowEngine
    from pflow.adapters.sqlalchemy.engine import create_db_engine
    from pflow.entrypoints.worker import ExternalTaskWorker, WorkerSettings
    from pflow.service.provisioning import ProvisioningHandler

    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--ledger", required=True, type=Path)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--lock-ms", type=int, default=1500)
    parser.add_argument("--pause-at", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {args.worker_id} %(levelname)s %(name)s: %(message)s")

    ledger = Ledger(args.ledger, args.worker_id, args.pause_at)
    db = create_db_engine(args.db)
    engine = SpiffWorkflowEngine(db)
    handler = ProvisioningHandler(LedgerTickets(ledger), LedgerProvisioner(ledger))  # type: ignore[arg-type]
    worker = ExternalTaskWorker(engine, [handler], WorkerSettings(
        worker_id=args.worker_id, concurrency=2, lock_duration_ms=args.lock_ms, poll_wait_ms=10_000))
    signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())
    print(f"worker {args.worker_id} ready", flush=True)
    worker.run()
    print(f"worker {args.worker_id} stopped: {worker.processed} done, {worker.released} released", flush=True)
    engine.close()
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
