"""Substitutes: someone named to act for a user while they are away.

A user names one substitute for a period (from ``starts`` until ``ends``). While it runs the
substitute sees the user's steps and may decide them; each such decision is recorded as the
substitute's, "on behalf of" the user. Separation of duties holds for both: neither may decide a
step of a ticket they requested, edited or decided an earlier step of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pflow.domain.errors import ValidationError

#: the longest period one substitution may cover
MAX_PERIOD = timedelta(days=366)


@dataclass(frozen=True)
class Substitution:
    user: str  # who is away
    substitute: str  # who acts for them
    starts: datetime
    ends: datetime
    created: datetime

    def active(self, at: datetime) -> bool:
        return self.starts <= at < self.ends

    @classmethod
    def name(cls, user: str, substitute: str, starts: datetime, ends: datetime, now: datetime) -> "Substitution":
        """A new substitution, checked: each problem is named by its field (``substitute``, ``starts``,
        ``ends``). That the substitute is a known user is the service's check (it has the directory)."""
        errors: dict[str, list[str]] = {}
        substitute = (substitute or "").strip()
        if not substitute:
            errors["substitute"] = ["This field is required."]
        elif substitute == user:
            errors["substitute"] = ["You cannot be your own substitute."]
        if starts.tzinfo is None or ends.tzinfo is None:
            errors.setdefault("starts" if starts.tzinfo is None else "ends", []).append(
                "Must include a time zone (e.g. 2026-12-24T08:00:00Z).")
        elif ends <= now:
            errors["ends"] = ["Must be in the future."]
        elif ends <= starts:
            errors["ends"] = ["Must be after the start."]
        elif ends - starts > MAX_PERIOD:
            errors["ends"] = [f"The period may be at most {MAX_PERIOD.days} days long."]
        if errors:
            first = next(iter(errors))
            raise ValidationError(f"The substitute cannot be named ({first}: {errors[first][0]})", details=errors,
                                  key="validation.invalid")
        return cls(user=user, substitute=substitute, starts=starts, ends=ends, created=now)
