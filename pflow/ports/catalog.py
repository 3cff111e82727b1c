"""The ticket-type catalog port: which types exist and whether a ticket's fields fit its type's form."""

from __future__ import annotations

import abc
from typing import Any

from pflow.domain.types import TicketType


class TicketTypeCatalog(abc.ABC):
    @abc.abstractmethod
    def list(self) -> list[TicketType]:
        """Every type, in the order they were declared (the default type first)."""

    @abc.abstractmethod
    def get(self, key: str) -> TicketType:
        """The type with that key. Raises ``ValidationError`` naming the ``type`` field when unknown."""

    @property
    @abc.abstractmethod
    def default(self) -> TicketType:
        """The type a ticket gets when it names none."""

    @abc.abstractmethod
    def validate_fields(self, key: str, fields: Any, *, partial: bool = False) -> dict[str, Any]:
        """Check ``fields`` against the type's form and return them normalised (strings stripped,
        defaults filled in). With ``partial`` only the fields present are checked (an edit), and an
        emptied optional field comes back as None (clear it); emptying a required one is an error.
        Raises ``ValidationError`` whose ``details`` maps each bad field to its messages, all at once."""
