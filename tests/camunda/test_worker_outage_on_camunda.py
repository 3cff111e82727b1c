"""The worker's own database goes away for a few seconds while it provisions on Camunda: the
provisioning task keeps its retries, Camunda raises no incident, and the ticket completes after."""

from __future__ import annotations

import pytest

from pflow.adapters.camunda import CamundaWorkflowEngine
from pflow.domain.model import TicketStatus
from pflow.ports.process import InstanceState
from tests.camunda import stack as camunda
from tests.support import TEST_USERS, build_stack, wait_until

pytestmark = pytest.mark.camunda

alice, bob = TEST_USERS.get("alice"), TEST_USERS.get("bob")


@pytest.fixture
def direct():
    engine = CamundaWorkflowEngine(camunda.CAMUNDA_URL, camunda.SESSION_KEY, auth=camunda.AUTH, flavour=camunda.FLAVOUR)
    yield engine
    engine.close()


def test_a_database_outage_costs_the_provisioning_task_no_retry_on_camunda(tmp_path, direct):
    stack = build_stack("camunda", tmp_path, worker_retry_backoff_ms=100, provisioning_retries=3)
    try:
        ticket = stack.tickets.create(alice, {"title": "Laptop"})
        stack.tickets.submit(alice, ticket.id)
        stack.tickets.approve(bob, ticket.id, "ok")
        worker = stack.worker()
        stack.make_database_unreachable()
        worker.start()
        try:
            # Two attempts inside the outage; each would have used a retry before.
            wait_until(lambda: getattr(worker, "postponed", 0) + worker.failed >= 2, timeout=20,
                       message="the worker did not try during the outage")
            tasks = direct.automated_steps(ticket.id)
            assert len(tasks) == 1 and tasks[0].retries in (None, 3), tasks
            assert "postponed, not a failed attempt" in (tasks[0].error_message or "")
            assert direct.instance(ticket.id).state == InstanceState.ACTIVE  # no incident
            stack.container.sql_sessions().configure(bind=stack.container.db_engine())
            done = wait_until(lambda: (t := stack.tickets.get(alice, ticket.id)).status == TicketStatus.COMPLETED
                              and t, timeout=30, message="the ticket did not complete after the database came back")
        finally:
            worker.stop(timeout=5)
        assert worker.failed == 0 and done.current_steps == []
        ended = wait_until(lambda: (v := direct.instance(ticket.id)).state == InstanceState.COMPLETED and v,
                           timeout=10)
        assert ended.variables["fulfilment_reference"].startswith("PRV-")
    finally:
        stack.close()
