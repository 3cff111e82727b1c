"""The dashboard's arithmetic (weeks, medians, percentiles, rates) and who may see what."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pflow.adapters.users import ConfiguredUserDirectory
from pflow.domain.errors import PermissionDenied, ValidationError
from pflow.domain.model import HistoryEntry, Ticket, TicketStatus
from pflow.domain.users import User
from pflow.service.oversight import OversightService, percentile, week_start
from tests.support import MemoryStoreHarness

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=timezone.utc)  # a Wednesday
H = timedelta(hours=1)
admin = User("carol", "Carol", frozenset({"admin"}))
member = User("fay", "Fay", groups=frozenset({"finance"}))
nobody = User("alice", "Alice", frozenset({"requester"}))


@pytest.fixture
def store():
    return MemoryStoreHarness()


@pytest.fixture
def service(store):
    return OversightService(store.uow, engine=None, users=ConfiguredUserDirectory.demo())


def decided(store, ticket_id, outcome, submitted, hours):
    status = TicketStatus.COMPLETED if outcome == "completed" else TicketStatus.REJECTED
    history = [HistoryEntry(submitted, "alice", "submitted", "draft", "in_progress"),
               HistoryEntry(submitted + hours * H, "system", outcome, "in_progress", status.value)]
    with store.uow() as uow:
        uow.tickets.add(Ticket(id=ticket_id, type="purchase", title=ticket_id, fields={}, requester="alice",
                               status=status, created_at=submitted, history=history))
        uow.commit()


def test_percentiles_are_nearest_rank():
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 0.9) == 9.0
    assert percentile([float(i) for i in range(1, 12)], 0.9) == 10.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_weeks_start_on_monday():
    assert week_start(NOW.date()).isoformat() == "2026-03-09"
    assert week_start(week_start(NOW.date())) == week_start(NOW.date())


def test_the_figures_fall_in_their_weeks_with_medians_and_rates(service, store):
    decided(store, "a", "completed", NOW - 30 * H, 1)   # this week (Mon 9th)
    decided(store, "b", "completed", NOW - 8 * 24 * H, 3)  # last week
    decided(store, "c", "rejected", NOW - 9 * 24 * H, 10)  # last week
    decided(store, "d", "completed", NOW - 30 * 24 * H, 2)  # before the 2 weeks asked for
    s = service.stats(admin, weeks=2, now=NOW)
    assert s["throughput"] == [
        {"week_start": "2026-03-02", "created": 2, "completed": 1, "rejected": 1},
        {"week_start": "2026-03-09", "created": 1, "completed": 1, "rejected": 0}]
    assert s["cycle_time"]["by_type"] == [{"type": "purchase", "count": 3, "median_s": 3 * 3600.0,
                                           "p90_s": 10 * 3600.0}]
    assert s["rejection_rate"] == {"decided": 3, "rejected": 1, "rate": pytest.approx(1 / 3), "by_type": [
        {"type": "purchase", "decided": 3, "rejected": 1, "rate": pytest.approx(1 / 3)}]}
    assert s["generated_at"] == NOW


def test_an_even_count_has_the_mean_of_the_middle_two_as_median(service, store):
    decided(store, "a", "completed", NOW - 5 * H, 1)
    decided(store, "b", "completed", NOW - 5 * H, 4)
    (row,) = service.stats(admin, now=NOW)["cycle_time"]["by_type"]
    assert (row["median_s"], row["p90_s"]) == (2.5 * 3600.0, 4 * 3600.0)


def test_who_may_see_what(service):
    assert service.stats(member, now=NOW)["open_tasks"] == []
    with pytest.raises(PermissionDenied) as refused:
        service.stats(nobody, now=NOW)
    assert refused.value.key == "auth.stats_forbidden"
    for call in (service.incidents, service.directory):
        with pytest.raises(PermissionDenied) as refused:
            call(member)
        assert refused.value.key == "auth.admins_only"


@pytest.mark.parametrize("weeks", [0, 53, True, "3"])
def test_weeks_out_of_range_are_refused_naming_the_field(service, weeks):
    with pytest.raises(ValidationError) as refused:
        service.stats(admin, weeks=weeks, now=NOW)
    assert list(refused.value.details) == ["weeks"]


def test_the_directory_lists_every_user_and_the_members_of_each_group(service):
    users, groups = service.directory(admin)
    assert [u.username for u in users] == sorted(u.username for u in users)
    assert groups["managers"] == ["bob", "dave"] and groups["finance"] == ["fiona"]
    assert list(groups) == sorted(groups)
