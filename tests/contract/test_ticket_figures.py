"""The dashboard's figures and the tickets needing attention, the same from every store (memory, SQLite,
PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from pflow.domain.model import HistoryEntry, Ticket, TicketStatus
from pflow.domain.steps import Step
from pflow.ports.repository import DayCount, DecisionCount, OpenStepCount, age_bucket
from tests.support import STORES, make_store

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=timezone.utc)  # a Wednesday
SINCE = datetime(2026, 3, 2, tzinfo=timezone.utc)  # the Monday of the week before
H = timedelta(hours=1)


@pytest.fixture(params=STORES)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


def stored(store, ticket_id, type_key, status, created, entries=(), steps=()):
    history = [HistoryEntry(at=at, actor=actor, action=action, from_status=None, to_status=status.value,
                            details=dict(details)) for action, at, actor, details in entries]
    ticket = Ticket(id=ticket_id, type=type_key, title=ticket_id, fields={}, requester="alice", status=status,
                    steps=list(steps), created_at=created, updated_at=created, history=history)
    with store.uow() as uow:
        uow.tickets.add(ticket)
        uow.commit()


def open_step(task_id, hours_ago, groups):
    return Step(task_id=task_id, definition_key="Review", name="Review", candidate_groups=tuple(groups),
                created_at=NOW - hours_ago * H)


def seed(store):
    t1 = NOW - 40 * H  # 2026-03-09 20:00
    stored(store, "done", "purchase", TicketStatus.COMPLETED, t1 - 2 * H, [
        ("created", t1 - 2 * H, "alice", {}),
        ("submitted", t1, "alice", {}),
        ("step_completed", t1 + 3 * H, "bob", {"step": "Manager", "step_name": "Manager approval",
                                               "opened_at": (t1 + H).isoformat()}),
        ("step_completed", t1 + 7 * H, "fay", {"step": "Finance", "step_name": "Finance check"}),
        ("completed", t1 + 10 * H, "system", {}),
    ])
    stored(store, "refused", "purchase", TicketStatus.REJECTED, t1, [
        ("created", t1, "alice", {}),
        ("submitted", t1 + H, "alice", {}),
        ("step_completed", t1 + 2 * H, "bob", {"step": "Manager", "step_name": "Manager approval",
                                               "opened_at": (t1 + H).isoformat()}),
        ("rejected", t1 + 2 * H, "system", {}),
    ])
    old = SINCE - 48 * H  # created and decided before the window: counts nowhere
    stored(store, "old", "access", TicketStatus.COMPLETED, old - 5 * H, [
        ("created", old - 5 * H, "alice", {}), ("submitted", old - 4 * H, "alice", {}),
        ("completed", old, "system", {})])
    stored(store, "open", "access", TicketStatus.IN_PROGRESS, NOW - 200 * H, [
        ("created", NOW - 200 * H, "alice", {}), ("submitted", NOW - 199 * H, "alice", {})],
        steps=[open_step("s1", 2, ["managers"]), open_step("s2", 30, ["managers", "security"]),
               open_step("s3", 100, ["security"]), open_step("s4", 190, ["managers"]),
               Step(task_id="s5", definition_key="Mine", name="Mine", assignee="bob", created_at=NOW)])


def test_age_buckets():
    assert [age_bucket(NOW - h * H, NOW) for h in (1, 25, 73, 169)] == ["lt_1d", "d1_3", "d3_7", "gt_7d"]
    assert age_bucket(None, NOW) is None


def test_the_figures_are_the_same_from_every_store(store):
    seed(store)
    with store.uow() as uow:
        f = uow.tickets.figures(SINCE, NOW)
    assert f.open_steps == [OpenStepCount("managers", "lt_1d", 1), OpenStepCount("managers", "d1_3", 1),
                            OpenStepCount("managers", "gt_7d", 1), OpenStepCount("security", "d1_3", 1),
                            OpenStepCount("security", "d3_7", 1)]
    assert sorted((d.type, d.seconds) for d in f.cycle_times) == [("purchase", 3600.0), ("purchase", 36000.0)]
    assert sorted((d.type, d.step, d.step_name, d.seconds) for d in f.step_times) == [
        ("purchase", "Finance", "Finance check", 4 * 3600.0),  # no opened_at: since the entry before
        ("purchase", "Manager", "Manager approval", 3600.0),
        ("purchase", "Manager", "Manager approval", 2 * 3600.0)]
    assert f.days == [DayCount(date(2026, 3, 3), created=1), DayCount(date(2026, 3, 9), created=2, rejected=1),
                      DayCount(date(2026, 3, 10), completed=1)]
    assert f.decisions == [DecisionCount("purchase", completed=1, rejected=1)]


def test_an_empty_store_has_no_figures(store):
    with store.uow() as uow:
        f = uow.tickets.figures(SINCE, NOW)
    assert (f.open_steps, f.cycle_times, f.step_times, f.days, f.decisions) == ([], [], [], [], [])


def test_tickets_needing_attention_come_latest_first_with_their_failure(store):
    for i, hours in enumerate((5, 1, 3)):
        at = NOW - hours * H
        stored(store, f"t{i}", "access", TicketStatus.NEEDS_ATTENTION, NOW - 10 * H, [
            ("created", NOW - 10 * H, "alice", {}),
            ("needs_attention", at - H, "system", {"error": "older"}),
            ("resumed", at - H / 2, "carol", {}),
            ("needs_attention", at, "system", {"error": f"boom {i}", "step": "Provision", "step_name": "Provision"})])
    stored(store, "fine", "access", TicketStatus.IN_PROGRESS, NOW, [
        ("needs_attention", NOW, "system", {"error": "was"}), ("resumed", NOW, "carol", {})])
    stored(store, "bare", "access", TicketStatus.NEEDS_ATTENTION, NOW, [])
    with store.uow() as uow:
        items = uow.tickets.needing_attention()
        assert [i.ticket.id for i in uow.tickets.needing_attention(limit=2)] == ["t1", "t2"]
    assert [(i.ticket.id, i.since, i.details.get("error")) for i in items] == [
        ("t1", NOW - H, "boom 1"), ("t2", NOW - 3 * H, "boom 2"), ("t0", NOW - 5 * H, "boom 0"), ("bare", None, None)]
    assert items[0].details["step"] == "Provision"
