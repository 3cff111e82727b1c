"""The "ledger" the worker-process tests share: a SQLite file that stands in for the ticket
store and the provisioning backend, so a test can count what really happened across worker
processes (embedded engine or Camunda):

* ``effects``: one row per ticket actually provisioned (the backend's side effect, idempotent by id);
* ``calls``: one row per provisioner call (redeliveries included), with the worker that made it;
* ``tickets``: status and fulfilment reference (the ticket store);
* ``pauses``: where a worker stopped on purpose (``pause_at``).

The fault suite (tests/faults) uses the same tables from real ``pflow`` processes: ``record_call``
when the provisioning backend is entered, ``record_effect`` when it has done its work, and
``in_flight()`` for the calls that started and have not finished (a worker mid-task).

``pause_at`` stops the handler for good at ``provisioning`` (inside the backend call, before its
effect), ``provisioned`` (effect done, ticket not committed) or ``committed`` (ticket committed,
task not completed), for the test to SIGKILL it there; ``slow`` pauses a second and goes on, to
show a graceful stop.
"""

from __future__ import annotations

import hashlib
import sqlite3
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

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def create(self) -> None:
        conn = self.connect()
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

    def record_call(self, ticket_id: str) -> None:
        self.execute("INSERT INTO calls VALUES (?, ?)", ticket_id, self.worker_id)

    def record_effect(self, ticket_id: str, reference: str) -> None:
        self.execute("INSERT OR IGNORE INTO effects VALUES (?, ?, ?)", ticket_id, reference, self.worker_id)

    def in_flight(self, worker_id: str | None = None) -> list[str]:
        """Tickets whose provisioning call started (by ``worker_id``, or anyone) and has no effect yet."""
        sql = "SELECT DISTINCT c.ticket_id FROM calls c LEFT JOIN effects e USING (ticket_id) WHERE e.ticket_id IS NULL"
        if worker_id is None:
            return [t for (t,) in self.query(sql)]
        return [t for (t,) in self.query(sql + " AND c.worker = ?", worker_id)]

    def calls_per_ticket(self) -> dict[str, int]:
        return dict(self.query("SELECT ticket_id, COUNT(*) FROM calls GROUP BY ticket_id"))

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
