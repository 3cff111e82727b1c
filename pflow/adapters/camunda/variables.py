"""Python values <-> Camunda 7 typed variables (``{"value": ..., "type": ...}``).

Camunda needs a type for every variable it stores; BPMN conditions such as
``${approved}`` only work when ``approved`` is a real Boolean. dicts and lists
become ``Json`` (Camunda Run and the official images ship the Spin plugin that
provides it), except lists of plain values, which become a ``java.util.ArrayList`` serialized as JSON
so that multi-instance activities can loop over them. Reading back, the REST API is asked not to deserialize values
(``deserializeValues=false``), so ``Json`` arrives as text and is parsed here.
"""

from __future__ import annotations

import base64
import enum
import json
import math
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Mapping

from pflow.domain.errors import ValidationError

# Camunda's default REST date format: yyyy-MM-dd'T'HH:mm:ss.SSSZ (e.g. 2024-01-02T03:04:05.000+0000)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
_INT32 = range(-(2**31), 2**31)


def format_date(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")
    return text


def parse_date(text: str | None) -> datetime | None:
    """A Camunda timestamp (``2026-11-28T02:35:45.338+0000``) as an aware datetime; None stays None."""
    if not text:
        return None
    try:
        return datetime.strptime(text, _DATE_FORMAT)
    except ValueError:
        return datetime.fromisoformat(text)


def to_typed(name: str, value: Any) -> dict[str, Any]:
    """One Python value as a Camunda typed value. Raises ``ValidationError`` naming the variable."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return {"value": None, "type": "Null"}
    if isinstance(value, bool):  # before int: bool is an int
        return {"value": value, "type": "Boolean"}
    if isinstance(value, int):
        return {"value": value, "type": "Integer" if value in _INT32 else "Long"}
    if isinstance(value, (float, Decimal)):
        number = float(value)
        if math.isnan(number) or math.isinf(number):
            raise ValidationError(f"variable {name!r}: {value!r} is not a finite number",
                                  details={name: ["not a finite number"]})
        return {"value": number, "type": "Double"}
    if isinstance(value, str):
        return {"value": value, "type": "String"}
    if isinstance(value, datetime):
        return {"value": format_date(value), "type": "Date"}
    if isinstance(value, date):
        return {"value": value.isoformat(), "type": "String"}
    if isinstance(value, (bytes, bytearray)):
        return {"value": base64.b64encode(bytes(value)).decode("ascii"), "type": "Bytes"}
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (str, bool, int, float)) for v in value):
        # A list of plain values is a Java list, so BPMN can loop over it (a multi-instance camunda:collection
        # must resolve to a java.util.Collection; a Json value does not).
        strings = all(isinstance(v, str) for v in value)
        return {"value": json.dumps(list(value), allow_nan=False), "type": "Object",
                "valueInfo": {"objectTypeName": "java.util.ArrayList<java.lang.String>" if strings
                              else "java.util.ArrayList", "serializationDataFormat": "application/json"}}
    if isinstance(value, (dict, list, tuple)):
        try:
            text = json.dumps(value, allow_nan=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"variable {name!r} cannot be stored as JSON: {exc}",
                                  details={name: [f"cannot be stored as JSON: {exc}"]}) from None
        return {"value": text, "type": "Json"}
    raise ValidationError(f"variable {name!r} has an unsupported type {type(value).__name__} for Camunda",
                          details={name: [f"unsupported type {type(value).__name__}"]})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_typed_map(variables: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {name: to_typed(name, value) for name, value in (variables or {}).items()}


def from_typed(typed: Mapping[str, Any]) -> Any:
    """One Camunda typed value (as the REST API returns it with deserializeValues=false) as a Python value."""
    kind = (typed.get("type") or "").lower()
    value = typed.get("value")
    if value is None:
        return None
    if kind in ("integer", "long", "short"):
        return int(value)
    if kind == "double":
        return float(value)
    if kind == "boolean":
        return bool(value)
    if kind == "date":
        return parse_date(value)
    json_object = kind == "object" and (typed.get("valueInfo") or {}).get("serializationDataFormat") == "application/json"
    if (kind == "json" or json_object) and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if kind == "bytes" and isinstance(value, str):
        try:
            return base64.b64decode(value)
        except ValueError:
            return value
    return value  # String, and the serialized form of Object/Xml values


def from_typed_map(typed: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any]:
    return {name: from_typed(value) for name, value in (typed or {}).items()}
