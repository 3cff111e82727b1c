"""ISO 8601 durations (``PT48H``, ``P2D``, ``P1M``) as PFlow reads them for due times and reminders: years
and months are calendar steps, the rest fixed lengths, as Camunda counts a ``camunda:dueDate`` duration.
Standard library only, so the ticket-type catalog, the settings and the service read them alike."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def check_duration(text: object) -> str:
    """The duration as given (stripped), or ``ValueError`` saying what an ISO 8601 duration looks like."""
    value = text.strip() if isinstance(text, str) else ""
    match = _DURATION.match(value)
    if not match or value.upper() in ("P", "PT") or value.upper().endswith("T") \
            or not any(match.groups()):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. PT4H, PT48H, P2D)")
    return value


def add_duration(moment: datetime, text: str) -> datetime:
    """``moment`` + an ISO 8601 duration."""
    match = _DURATION.match(check_duration(text))
    assert match is not None
    years, months, weeks, days, hours, minutes = (int(g or 0) for g in match.groups()[:6])
    seconds = float(match.group(7) or 0)
    if years or months:
        total = moment.month - 1 + months + 12 * years
        year, month = moment.year + total // 12, total % 12 + 1
        moment = moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))
    return moment + timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)


def subtract_duration(moment: datetime, text: str) -> datetime:
    """``moment`` - an ISO 8601 duration (the instant that is ``text`` before ``moment``)."""
    return moment - (add_duration(moment, text) - moment)
