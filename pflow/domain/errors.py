"""Domain errors. Entrypoints map each class to one response (see the HTTP error table)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: something the caller asked for cannot be done, and why."""

    code = "domain_error"

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    code = "not_found"


class InvalidTransition(DomainError):
    """The ticket's status does not allow the requested action."""

    code = "invalid_transition"


class PermissionDenied(DomainError):
    code = "forbidden"


class ValidationError(DomainError):
    """Input is wrong. ``details`` maps each field name to a list of messages."""

    code = "validation_error"


class ConcurrencyConflict(DomainError):
    """Someone else changed the same thing first (lost race, stale version, task already taken)."""

    code = "conflict"


class ServiceUnavailable(DomainError):
    """A dependency (database, workflow engine, broker) does not answer.

    ``dependency`` names it so the message can say what to start.
    """

    code = "service_unavailable"

    def __init__(self, dependency: str, message: str | None = None, details: dict | None = None):
        super().__init__(message or f"{dependency} is unavailable", details)
        self.dependency = dependency
        self.details.setdefault("dependency", dependency)


class EngineUnavailable(ServiceUnavailable):
    """The workflow engine does not answer; nothing was changed on our side."""

    def __init__(self, engine: str = "workflow engine", message: str | None = None, details: dict | None = None):
        super().__init__(engine, message or f"the workflow engine ({engine}) is unavailable", details)
