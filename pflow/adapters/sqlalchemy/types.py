"""Column types that give the domain back exactly what it stored, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.types import TypeDecorator

from pflow.domain.steps import FormField, Step


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes. PostgreSQL keeps them as ``timestamptz``; SQLite has no
    time zones, so they are stored as naive UTC and made aware again on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store a naive datetime {value!r}: domain times are UTC-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text (e.g. from a Core query without type info)
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class StrEnumType(TypeDecorator):
    """A ``StrEnum`` stored as its value in a VARCHAR (no database enum type to migrate)."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 32):
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value, dialect):
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum_cls(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat()


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(timezone.utc)


def step_to_json(step: Step) -> dict[str, Any]:
    return {
        "task_id": step.task_id, "definition_key": step.definition_key, "name": step.name,
        "candidate_groups": list(step.candidate_groups), "candidate_users": list(step.candidate_users),
        "assignee": step.assignee, "due": _time(step.due), "created_at": _time(step.created_at),
        "four_eyes": step.four_eyes,
        "form": [{"id": f.id, "label": f.label, "type": f.type, "required": f.required, "default": f.default,
                  "values": [list(v) for v in f.values]} for f in step.form],
    }


def step_from_json(data: dict[str, Any]) -> Step:
    return Step(
        task_id=data["task_id"], definition_key=data["definition_key"], name=data["name"],
        candidate_groups=tuple(data.get("candidate_groups") or ()),
        candidate_users=tuple(data.get("candidate_users") or ()),
        assignee=data.get("assignee"), due=_parse_time(data.get("due")),
        created_at=_parse_time(data.get("created_at")), four_eyes=bool(data.get("four_eyes", True)),
        form=tuple(FormField(id=f["id"], label=f["label"], type=f["type"], required=bool(f.get("required")),
                             default=f.get("default"), values=tuple((str(v), str(n)) for v, n in f.get("values") or ()))
                   for f in data.get("form") or ()),
    )


class StepsJson(TypeDecorator):
    """A ticket's open steps (frozen ``Step``/``FormField`` dataclasses) as a JSON list, times as ISO text in UTC.
    The domain gets equal dataclasses back, so an unchanged list of steps writes nothing."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else [step_to_json(s) for s in value]

    def process_result_value(self, value, dialect):
        return [] if value is None else [step_from_json(d) for d in value]

    def coerce_compared_value(self, op, value):
        return self.impl_instance
