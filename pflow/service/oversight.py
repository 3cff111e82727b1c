"""What admins (and group members, for the dashboard) look at across tickets: the dashboard's figures, the
tickets whose automated step failed, and who is in which group.

The figures come from what PFlow records: the inbox rows (open steps, their groups and when they opened)
and the tickets' history (submission, each completed step with when it was opened, the end of the process).
The store aggregates them; medians and 90th percentiles are taken here over the per-ticket and per-step
durations it returns, as percentiles are not written the same way in SQLite and PostgreSQL. The median is the
middle value (the mean of the two middle ones for an even count); the 90th percentile is nearest-rank: the
smallest duration that at least 90% of the durations do not exceed.
"""

from __future__ import annotations

import logging
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

from pflow.domain.errors import PermissionDenied, ServiceUnavailable, ValidationError
from pflow.domain.users import User
from pflow.ports.process import ProcessEngine
from pflow.ports.repository import AGE_BUCKETS, OLDEST_BUCKET, Duration, UnitOfWork
from pflow.ports.users import UserDirectory

log = logging.getLogger(__name__)

MAX_WEEKS = 52
BUCKETS = tuple(b for b, _ in AGE_BUCKETS) + (OLDEST_BUCKET,)


@dataclass(frozen=True)
class Incident:
    """A ticket whose automated step failed (or whose process stopped): what an admin needs to retry it."""

    ticket_id: str
    title: str
    type: str
    requester: str
    step: str  # the failed step's name (BPMN), or what is wrong when no step failed
    step_id: str | None
    error: str
    retries_left: int | None  # from the engine; None when it cannot say, or no step failed
    failed_at: datetime


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of a non-empty list (``share`` in (0, 1])."""
    ordered = sorted(values)
    return float(ordered[max(math.ceil(share * len(ordered)) - 1, 0)])


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def may_see_stats(user: User) -> bool:
    return user.is_admin or bool(user.groups)


class OversightService:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], engine: ProcessEngine, users: UserDirectory) -> None:
        self._uow = uow_factory
        self._engine = engine
        self._users = users

    # ------------------------------------------------------------- dashboard

    def stats(self, actor: User, weeks: int = 12, now: datetime | None = None) -> dict[str, Any]:
        """The dashboard (admins and members of a group): the last ``weeks`` weeks, this one included."""
        if not may_see_stats(actor):
            raise PermissionDenied("Only admins and members of a group can see the dashboard.",
                                   key="auth.stats_forbidden")
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
            raise ValidationError("Invalid dashboard query.", details={"weeks": [f"Must be between 1 and {MAX_WEEKS}."]},
                                  key="validation.invalid")
        now = now or datetime.now(timezone.utc)
        first_week = week_start(now.astimezone(timezone.utc).date()) - timedelta(weeks=weeks - 1)
        since = datetime.combine(first_week, time(), tzinfo=timezone.utc)
        with self._uow() as uow:
            figures = uow.tickets.figures(since, now)

        by_group: dict[str, dict[str | None, int]] = defaultdict(dict)
        for row in figures.open_steps:
            by_group[row.group][row.bucket] = by_group[row.group].get(row.bucket, 0) + row.count
        open_tasks = [{"group": group, "total": sum(counts.values()),
                       "by_age": [{"bucket": b, "count": counts.get(b, 0)} for b in BUCKETS]}
                      for group, counts in sorted(by_group.items())]

        weeks_out = {first_week + timedelta(weeks=i): {"created": 0, "completed": 0, "rejected": 0}
                     for i in range(weeks)}
        for day in figures.days:
            counts = weeks_out.get(week_start(day.day))
            if counts is not None:
                counts["created"] += day.created
                counts["completed"] += day.completed
                counts["rejected"] += day.rejected

        sla: dict[str, dict[str, int]] = defaultdict(lambda: {"with_due": 0, "on_time": 0, "open_overdue": 0})
        for d in figures.step_times:
            if d.on_time is not None:
                sla[d.type]["with_due"] += 1
                sla[d.type]["on_time"] += int(d.on_time)
        for o in figures.overdue:
            sla[o.type]["open_overdue"] += o.count
        with_due = sum(v["with_due"] for v in sla.values())
        on_time = sum(v["on_time"] for v in sla.values())

        decided = sum(d.completed + d.rejected for d in figures.decisions)
        rejected = sum(d.rejected for d in figures.decisions)
        return {
            "generated_at": now,
            "open_tasks": open_tasks,
            "cycle_time": {"by_type": _summaries(figures.cycle_times, lambda d: (d.type,), ("type",)),
                           "by_step": _summaries(figures.step_times, lambda d: (d.type, d.step_name or "", d.step or ""),
                                                 ("type", "step", "step_id"))},
            "throughput": [{"week_start": week.isoformat(), **counts} for week, counts in sorted(weeks_out.items())],
            "rejection_rate": {"decided": decided, "rejected": rejected, "rate": _rate(rejected, decided),
                               "by_type": [{"type": d.type, "decided": d.completed + d.rejected,
                                            "rejected": d.rejected, "rate": _rate(d.rejected, d.completed + d.rejected)}
                                           for d in figures.decisions]},
            "sla": {"with_due": with_due, "on_time": on_time, "share": _rate(on_time, with_due),
                    "open_overdue": sum(v["open_overdue"] for v in sla.values()),
                    "by_type": [{"type": k, **v, "share": _rate(v["on_time"], v["with_due"])}
                                for k, v in sorted(sla.items())]},
        }

    # ------------------------------------------------------------- incidents

    def incidents(self, actor: User) -> list[Incident]:
        """Every ticket that needs attention, the latest first, with the failed step as the engine has it now
        (its error, retries left); what the ticket recorded when the engine cannot say."""
        require_admin(actor)
        with self._uow() as uow:
            items = uow.tickets.needing_attention()
        out = []
        for item in items:
            t = item.ticket
            step_id = item.details.get("step")
            step = item.details.get("step_name") or step_id
            error = t.attention or item.details.get("error") or ""
            retries: int | None = None
            if t.attention not in (None, "process_stopped", "process_missing"):
                try:
                    failed = [s for s in self._engine.automated_steps(t.id) if s.retries == 0]
                except ServiceUnavailable as exc:
                    log.warning("incidents: the engine could not say about %s (%s)", t.id, exc.message)
                    failed = []
                if failed:
                    step_id, step = failed[0].activity_id, failed[0].activity_name or failed[0].activity_id
                    error, retries = failed[0].error_message or error, failed[0].retries
            out.append(Incident(ticket_id=t.id, title=t.title, type=t.type, requester=t.requester,
                                step=step or (t.attention if t.attention in ("process_stopped", "process_missing")
                                              else ", ".join(t.current_steps)),
                                step_id=step_id, error=error, retries_left=retries,
                                failed_at=item.since or t.updated_at))
        return out

    # ------------------------------------------------------------- the user directory

    def directory(self, actor: User) -> tuple[list[User], dict[str, list[str]]]:
        """Every user (sorted by username) and every group with its members (sorted by name), read-only."""
        require_admin(actor)
        users = self._users.list_users()
        groups: dict[str, list[str]] = defaultdict(list)
        for user in users:
            for group in sorted(user.groups):
                groups[group].append(user.username)
        return users, dict(sorted(groups.items()))


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only an admin can see this.", key="auth.admins_only")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _summaries(durations: list[Duration], key: Callable[[Duration], tuple], names: tuple[str, ...]) -> list[dict]:
    grouped: dict[tuple, list[float]] = defaultdict(list)
    for d in durations:
        grouped[key(d)].append(d.seconds)
    return [{**dict(zip(names, k)), "count": len(v), "median_s": float(statistics.median(v)),
             "p90_s": percentile(v, 0.9)}
            for k, v in sorted(grouped.items())]
