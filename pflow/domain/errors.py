"""Domain errors. Entrypoints map each class to one response (see the HTTP error table)."""

from __future__ import annotations


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


class DomainError(Exception):
    """Base class: something the caller asked for cannot be done, and why."""

    code = "domain_error"

    def __init__(self, message: str, details: dict | None = None, *, public_message: str | None = None,
                 key: str | None = None, params: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self._public_message = public_message
        # A stable, dotted name of what went wrong and the values to word it with, so a client can say it
        # in the reader's language (``message`` stays the English text). None: the entrypoint derives one.
        self.key = key
        self.params = dict(params or {})

    @property
    def public_message(self) -> str:
        """What an API client may read. ``message`` is for the log and the operator's terminal: it may
        name internal hosts and what to start, which a client can neither use nor should see."""
        return self._public_message or self.message


class NotFound(DomainError):
    code = "not_found"


class InvalidTransition(DomainError):
    """The ticket's status does not allow the requested action."""

    code = "invalid_transition"


class PermissionDenied(DomainError):
    code = "forbidden"


class ValidationError(DomainError):
    """Input is wrong. ``details`` maps each field name to a list of messages (``about_fields=False``:
    ``details`` holds other facts, e.g. the tasks to choose from)."""

    code = "validation_error"

    def __init__(self, message: str, details: dict | None = None, *, about_fields: bool = True, **kwargs):
        super().__init__(message, details, **kwargs)
        self.about_fields = about_fields


class ConcurrencyConflict(DomainError):
    """Someone else changed the same thing first (lost race, stale version, task already taken)."""

    code = "conflict"


class ServiceUnavailable(DomainError):
    """A dependency (database, workflow engine, broker) does not answer.

    ``dependency`` names it so the message can say what to start. ``message`` may name where it
    is and how to start it (for the log); ``public_message`` says only what is down.
    """

    code = "service_unavailable"

    def __init__(self, dependency: str, message: str | None = None, details: dict | None = None, *,
                 public_message: str | None = None, **kwargs):
        super().__init__(message or f"{dependency} is unavailable", details,
                         public_message=public_message or f"{_capitalised(dependency)} is unavailable; try again in a moment.",
                         **kwargs)
        self.dependency = dependency
        self.details.setdefault("dependency", dependency)


class EngineUnavailable(ServiceUnavailable):
    """The workflow engine does not answer; nothing was changed on our side."""

    def __init__(self, engine: str = "workflow engine", message: str | None = None, details: dict | None = None, *,
                 public_message: str | None = None, **kwargs):
        super().__init__(engine, message or f"the workflow engine ({engine}) is unavailable", details,
                         public_message=public_message
                         or f"The workflow engine ({engine}) is unavailable; try again in a moment.", **kwargs)


class EngineAccessDenied(ServiceUnavailable):
    """The workflow engine refused PFlow's credentials (HTTP 401) or a permission (403).

    A setting to fix, not an outage to wait out: it is not an ``EngineUnavailable``, so nothing retries
    the call, and it answers 503 with ``service.misconfigured``. ``message`` (log, readiness, the CLI)
    says which settings to check; ``public_message`` only that PFlow's settings need an administrator.
    """

    def __init__(self, engine: str, message: str, details: dict | None = None, **kwargs):
        super().__init__(engine, message, details,
                         public_message=f"The workflow engine ({engine}) refused PFlow's credentials; an administrator "
                                        "must fix PFlow's settings.",
                         key="service.misconfigured", params={"dependency": engine}, **kwargs)


class BpmnError(Exception):
    """Raised by an automated step's handler for a *business* error the process models (Camunda's
    ``BpmnError``): no retry, no incident; the worker reports it with its code, and an error boundary
    event catching that code takes the process on (nothing catching it ends the step's execution).
    ``variables`` are set on the process instance first. Technical failures raise anything else."""

    def __init__(self, code: str, message: str | None = None, variables: dict | None = None):
        if not isinstance(code, str) or not code.strip():
            raise ValueError("a BPMN error needs a code (the errorCode of a bpmn:error in the process)")
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.variables = dict(variables or {})
