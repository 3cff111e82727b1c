"""Reconciliation runs by itself: bounded periodic passes wherever a worker runs, and `pflow reconcile`
on demand (what each pass heals is in test_ticket_service.py)."""

from __future__ import annotations

import threading
import time

import pytest

from pflow.domain.errors import ConcurrencyConflict, ServiceUnavailable
from pflow.domain.model import TicketStatus
from pflow.service.reconciler import Reconciler
from tests.support import TEST_USERS, build_stack

alice, bob, dave, carol = (TEST_USERS.get(n) for n in ("alice", "bob", "dave", "carol"))


@pytest.fixture(params=["memory", "sqlite", "embedded"])
def stack(request, tmp_path):
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


def submitted(svc, requester=alice, title="Laptop"):
    return svc.submit(requester, svc.create(requester, {"title": title}).id)


def test_a_ticket_that_agrees_with_its_instance_is_left_alone(stack):
    t = submitted(stack.tickets)
    assert stack.tickets.sync(t.id).version == t.version


def test_a_periodic_pass_heals_stale_tickets_and_leaves_fresh_ones_to_their_command(stack, monkeypatch):
    svc = stack.tickets
    stale = submitted(svc, title="stale")
    time.sleep(0.06)
    fresh = submitted(svc, title="fresh")
    for t in (stale, fresh):
        stack.engine.cancel(t.id, "lost")
    # From the reconciler's clock the fresh one changed just now (inside the grace), the stale one before.
    reconciler = Reconciler(svc, grace_s=0.03, batch=1, now=lambda: svc.get(carol, fresh.id).updated_at)
    changed = sum(reconciler.run_pass() for _ in range(4))  # batch 1: the pages rotate through both
    assert changed == 1
    assert svc.get(carol, stale.id).status == TicketStatus.NEEDS_ATTENTION
    assert svc.get(carol, fresh.id).status == TicketStatus.IN_PROGRESS


def test_pflow_reconcile_without_ids_heals_every_in_flight_ticket(tmp_path):
    """On demand, as an operator runs it: `pflow reconcile` against the embedded default's database."""
    from click.testing import CliRunner

    from pflow.entrypoints.cli import main

    s = build_stack("embedded", tmp_path)
    try:
        stuck = submitted(s.tickets)
        s.engine.cancel(stuck.id, "lost")
        fine = submitted(s.tickets, title="fine")
    finally:
        s.close()
    env = {"WORKFLOW_ENGINE": "embedded", "DATABASE_URL": s.settings.database_url, "RABBITMQ_URL": "memory://",
           "PFLOW_DATA_DIR": str(tmp_path), "PFLOW_SECRET_KEY": "test-secret-of-32-bytes-or-more-for-tests-only"}
    result = CliRunner().invoke(main, ["reconcile"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 in-flight tickets checked, 1 brought in line" in result.output
    s = build_stack("embedded", tmp_path)
    try:
        assert s.tickets.get(carol, stuck.id).status == TicketStatus.NEEDS_ATTENTION
        assert s.tickets.get(carol, fine.id).status == TicketStatus.IN_PROGRESS
    finally:
        s.close()


def test_wherever_a_worker_runs_reconciliation_runs_beside_it(tmp_path):
    from pflow.entrypoints.runtime import running
    from tests.support import settings_for

    settings = settings_for("embedded", tmp_path, reconcile_interval_s=1)
    with running(settings, worker=True, relay=False) as (container, services):
        assert services.reconciler is not None and services.reconciler.interval_s == 1
        assert "pflow-reconciler" in [t.name for t in threading.enumerate()]
    with running(settings, worker=False, relay=False) as (container, services):
        assert services.reconciler is None


def test_the_periodic_loop_runs_passes_until_stopped_and_survives_an_outage(stack):
    calls = []

    class Flaky(Reconciler):
        def run_pass(self):
            calls.append(1)
            if len(calls) == 1:
                raise ServiceUnavailable("database", "down for a moment")
            if len(calls) == 3:
                stop.set()
            return 0

    stop = threading.Event()
    loop = threading.Thread(target=Flaky(stack.tickets, interval_s=0.01).run, args=(stop,))
    loop.start()
    loop.join(5)
    assert not loop.is_alive() and len(calls) == 3


def test_asking_again_for_ones_own_lost_decision_says_it_stands(stack, monkeypatch):
    """The engine took bob's approval but its commit failed (503); bob approves again: told it is his."""
    t = submitted(stack.tickets)
    uow_class = type(stack.container.uow())
    original = uow_class._commit
    left = {"n": 1}

    def failing(self):
        if left["n"]:
            left["n"] -= 1
            raise ServiceUnavailable("database", "the database went away")
        return original(self)

    monkeypatch.setattr(uow_class, "_commit", failing)
    monkeypatch.setattr(stack.tickets, "heal_after_s", 0)  # no command of bob's is still on its way
    with pytest.raises(ServiceUnavailable):
        stack.tickets.approve(bob, t.id, "ok")
    with pytest.raises(ConcurrencyConflict, match="already completed by bob"):
        stack.tickets.approve(bob, t.id, "ok")
    healed = stack.tickets.get(carol, t.id)
    assert healed.status == TicketStatus.IN_PROGRESS and healed.deciders == ["bob"]
    assert not any(s.is_decision for s in healed.steps)

