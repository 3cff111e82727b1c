"""The "ledger" the worker-process tests share: a SQLite file that stands in for the ticket
store and the provisioning backend, so a test can count what really happened across worker
processes (embedded engine or Camunda):

* ``effects``: one row per ticket actually provisioned (the backend's side effect, idempotent by id);
* ``calls``: one row per provisioner call (redeliveries included), with the worker that made it;
* ``tickets``: status and fulfilment reference (the ticket store's projection of the process);
* ``pauses``: where a worker stopped on purpose (``pause_at``).

The fault suite (tests/faults) uses the same tables from real ``pflow`` processes: ``record_call``
when the provisioning backend is entered, ``record_effect`` when it has done its work, and
``in_flight()`` for the calls that started and have not finished (a worker mid-task).

``pause_at`` stops the worker for good at ``provisioning`` (inside the backend call, before its
effect), ``provisioned`` (effect done, the task not yet completed in the engine) or ``completed``
(the task completed in the engine, the ticket not yet following it), for the test to SIGKILL it
there; ``slow`` pauses a second and goes on, to show a graceful stop.

The ticket follows its process after the engine has moved (``TicketService.after_automated_step``),
never before, so a crash between the two leaves the ticket behind the engine (reconciliation brings
it in line), never ahead of it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

from pflow.domain.model import Ticket, TicketStatus
from pflow.domain.users import User
from pflow.ports.process import InstanceState, ProcessEngine
from pflow.ports.provisioning import Provisioner

REQUESTER = User("alice", roles=frozenset({"requester"}))
DEFAULT_TYPE = "it_request"


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
    """The slice of TicketService the worker uses (the provisioning handler reads the ticket; the worker
    reports each step's outcome), on the ledger's ticket table, following the engine as the service does."""

    def __init__(self, ledger: Ledger, engine: ProcessEngine) -> None:
        self.ledger = ledger
        self.engine = engine

    def automated_step_ticket(self, business_key: str) -> Ticket:
        [(status,)] = self.ledger.query("SELECT status FROM tickets WHERE id = ?", business_key)
        ticket = Ticket.create(REQUESTER, DEFAULT_TYPE, "Laptop", {"amount": 1200, "priority": "normal"},
                               ticket_id=business_key)
        ticket.submit(REQUESTER)
        ticket.status = TicketStatus(status)
        return ticket

    def after_automated_step(self, business_key: str, task: object = None, results: object = None) -> None:
        """The ticket follows its process: completed with the engine's reference once the engine says so."""
        self.ledger.pause("completed")
        view = self.engine.instance(business_key)
        if view is not None and view.state == InstanceState.COMPLETED:
            self.ledger.execute("UPDATE tickets SET status = 'completed', reference = ? WHERE id = ? AND status = "
                                "'in_progress'", view.variables.get("fulfilment_reference"), business_key)
        elif view is not None and view.incidents:
            self.ledger.execute("UPDATE tickets SET status = 'needs_attention' WHERE id = ?", business_key)

    sync = after_automated_step  # what a reconciliation pass does for one ticket
