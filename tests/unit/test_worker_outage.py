"""An outage of PFlow's own ticket store never costs the provisioning step a retry: the worker gives
the task back with its retries unchanged and the ticket completes once the store is back.

(tests/camunda/test_worker_outage_on_camunda.py does the same against a real Camunda.)"""

from __future__ import annotations

import logging
import threading

import pytest

from pflow.domain.model import TicketStatus
from tests.support import TEST_USERS, build_stack, wait_until

alice, bob = TEST_USERS.get("alice"), TEST_USERS.get("bob")
OUTAGE_S = 1.0


def approved_ticket(stack, title="Laptop"):
    ticket = stack.tickets.create(alice, {"title": title})
    stack.tickets.submit(alice, ticket.id)
    stack.tickets.approve(bob, ticket.id, "ok")
    return ticket.id


class StoreSwitch:
    """Takes the ticket store down and brings it back, whatever the stack keeps tickets in."""

    def __init__(self, stack):
        self.stack = stack

    def down(self):
        self.stack.make_database_unreachable()

    def up(self):
        if self.stack.kind == "memory":
            self.stack.container.memory_store().available = True
        else:
            self.stack.container.sql_sessions().configure(bind=self.stack.container.db_engine())


def record_failure_reports(monkeypatch, engine):
    reports: list[dict] = []
    original = engine.fail

    def recording(task_id, worker_id, error_message, *, retries, retry_timeout_ms, error_details=None):
        reports.append(dict(task_id=task_id, message=error_message, retries=retries, timeout=retry_timeout_ms))
        return original(task_id, worker_id, error_message, retries=retries, retry_timeout_ms=retry_timeout_ms,
                        error_details=error_details)

    monkeypatch.setattr(engine, "fail", recording)
    return reports


@pytest.mark.parametrize("kind", ["memory", "sqlite", "embedded"])
def test_a_ticket_store_outage_costs_no_retry_and_the_ticket_completes_after_it(kind, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="pflow.runtime.worker")
    stack = build_stack(kind, tmp_path, worker_retry_backoff_ms=20, provisioning_retries=3)
    try:
        ticket_id = approved_ticket(stack)
        reports = record_failure_reports(monkeypatch, stack.engine)
        store = StoreSwitch(stack)
        worker = stack.worker()
        store.down()
        worker.start()
        try:
            wait_until(lambda: len(reports) >= 2, timeout=10, message="the worker never tried during the outage")
            threading.Event().wait(OUTAGE_S)  # the outage lasts a while: several attempts fall into it
            store.up()
            done = wait_until(lambda: (t := stack.tickets.get(alice, ticket_id)).status == TicketStatus.COMPLETED and t,
                              timeout=15, message="the ticket did not complete after the store came back")
        finally:
            worker.stop(timeout=5)
        assert done.history[-1].action == "completed"
        assert worker.failed == 0 and worker.processed == 1
        # Every attempt in the outage was given back with its retries untouched.
        assert reports and all(r["retries"] == 3 for r in reports), reports
        assert all(r["message"].startswith("postponed, not a failed attempt: ") and "atabase is unavailable" in r["message"]
                   for r in reports), reports
        assert [h.action for h in done.history].count("provisioning_failed") == 0
        assert "not counted as a failed attempt" in caplog.text and "-1 ms" not in caplog.text
    finally:
        stack.close()
