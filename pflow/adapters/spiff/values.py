"""Values as the embedded engine stores them: milliseconds since the epoch, typed process variables
(JSON), ISO-8601 durations and ``camunda:dueDate`` read the way Camunda reads them."""

from __future__ import annotations

import calendar
import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pflow.domain.errors import ValidationError


def ms_of(seconds: float) -> int:
    return int(seconds * 1000)


def datetime_of(ms: int | None):
    return None if ms is None else datetime.fromtimestamp(ms / 1000, timezone.utc)


def typed(value: Any) -> Any:
    """A variable as the instance stores it: JSON values as they are, ``Decimal`` as a float (Camunda's
    Double), dates and date-times as ISO-8601 text; tuples and sets as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [typed(v) for v in value]
    if isinstance(value, dict):
        return {str(k): typed(v) for k, v in value.items()}
    raise TypeError(type(value).__name__)


def check_json(variables: dict[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not name:
            raise ValidationError("process variable names must be non-empty strings", {"variables": [repr(name)]})
        try:
            checked[name] = typed(value)
            json.dumps(checked[name])
        except (TypeError, ValueError):
            raise ValidationError(f"process variable {name!r} is not JSON ({type(value).__name__})",
                                  {name: ["must be text, a number, a boolean, a date, null, a list or an object"]}
                                  ) from None
    return checked


DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def add_duration(start_ms: int, text: str) -> int:
    """``start_ms`` + an ISO-8601 duration; years and months are calendar steps, as in Camunda."""
    match = DURATION.match(text)
    if not match or text.upper() in ("P", "PT") or text.upper().endswith("T"):
        raise ValueError(text)
    years, months, weeks, days, hours, minutes = (int(g or 0) for g in match.groups()[:6])
    seconds = float(match.group(7) or 0)
    moment = datetime.fromtimestamp(start_ms / 1000, timezone.utc)
    if years or months:
        total = moment.month - 1 + months + 12 * years
        year, month = moment.year + total // 12, total % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moment = moment.replace(year=year, month=month, day=day)
    moment += timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return int(moment.timestamp() * 1000)


def due_ms(value: Any, created_ms: int, where: str) -> int | None:
    """``camunda:dueDate`` as Camunda reads it: an ISO-8601 date-time (or date), or an ISO-8601 duration
    such as ``P3D`` / ``PT4H`` counted from the task's creation."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if text.upper().startswith("P"):
        try:
            return add_duration(created_ms, text)
        except ValueError:
            raise ValidationError(f"{where}: camunda:dueDate {text!r} is not an ISO-8601 duration",
                                  {"dueDate": [f"{text!r} is not an ISO-8601 date-time or duration"]}) from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{where}: camunda:dueDate {text!r} is not an ISO-8601 date-time",
                              {"dueDate": [f"{text!r} is not an ISO-8601 date-time or duration"]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)
