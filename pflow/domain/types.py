"""Ticket types: what a team can ask for, and which process decides it.

A type names its process by key and describes the ticket's own fields as a JSON Schema (the form).
The schema is data here: validating against it is the catalog's job (``pflow.ports.catalog``), so
the domain stays free of any schema library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "zh-CN")


@dataclass(frozen=True)
class TicketType:
    key: str
    names: dict[str, str]  # language -> name ("en" always present)
    process_key: str
    form: dict[str, Any]  # a JSON Schema of type "object" for the ticket's fields
    descriptions: dict[str, str] = field(default_factory=dict)
    #: the fields the list and the inbox show next to the title, in order
    summary_fields: tuple[str, ...] = ()
    #: where the type was declared, for messages
    source: str = ""
    #: how long a step may stay open (ISO 8601 duration, e.g. ``PT48H``) when its BPMN gives no
    #: ``camunda:dueDate``; ``step_due`` sets it per step (BPMN task id -> duration)
    due: str | None = None
    step_due: dict[str, str] = field(default_factory=dict)

    def name(self, language: str = DEFAULT_LANGUAGE) -> str:
        return self.names.get(language) or self.names[DEFAULT_LANGUAGE]

    def description(self, language: str = DEFAULT_LANGUAGE) -> str:
        return self.descriptions.get(language) or self.descriptions.get(DEFAULT_LANGUAGE, "")

    def default_due(self, step: str) -> str | None:
        """The duration a step of this type is due after when its process gives it no due date."""
        return self.step_due.get(step, self.due)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(self.form.get("properties", {}))
