"""The workflow engine port: where the approval process lives.

Implemented by an in-memory fake, the embedded SpiffWorkflow engine and
Camunda 7 over REST. The contract suite (tests/contract/test_workflow_engine.py)
runs on each of them; a difference between engines that a test would hide is
a bug in an adapter.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from pflow.domain.errors import ConcurrencyConflict, NotFound, ValidationError

# Names from the BPMN (deploy/workflows/ticket-process.bpmn) the service relies on.
PROCESS_KEY = "ticket_approval"
APPROVAL_TASK = "ManagerApproval"
PROVISIONING_TOPIC = "ticket-processing"


class TaskNotFound(NotFound):
    """No such task, or it is already completed."""


class TaskLockedByOtherWorker(ConcurrencyConflict):
    """The external task is locked by another worker (or the caller's lock has expired)."""


class DeploymentRejected(ValidationError):
    """The engine refused the BPMN; the message names the file, element and reason."""


class InstanceState:
    ACTIVE = "active"
    COMPLETED = "completed"
    TERMINATED = "terminated"
    INCIDENT = "incident"  # active, but stuck on a failed external task


@dataclass(frozen=True)
class Deployment:
    deployment_id: str
    process_key: str
    definition_id: str
    version: int


@dataclass(frozen=True)
class ProcessInstance:
    id: str
    business_key: str
    process_key: str
    created: bool  # False when start_process found an instance that was already running


@dataclass(frozen=True)
class UserTask:
    id: str
    task_definition_key: str
    name: str
    business_key: str
    process_instance_id: str
    candidate_groups: tuple[str, ...] = ()
    assignee: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class ExternalTask:
    id: str
    topic: str
    business_key: str
    process_instance_id: str
    activity_id: str
    worker_id: str | None
    lock_expires_at: datetime | None
    retries: int | None  # None until the first failure is reported (Camunda's convention)
    error_message: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessState:
    """Where the instance for a business key is, for the UI timeline and diagram."""

    instance_id: str
    business_key: str
    process_key: str
    definition_id: str
    state: str  # one of InstanceState
    active_activity_ids: tuple[str, ...]
    completed_activity_ids: tuple[str, ...]
    variables: dict[str, Any] = field(default_factory=dict)
    incidents: tuple[str, ...] = ()


class WorkflowEngine(abc.ABC):
    """A BPMN engine with user tasks and Camunda-style external tasks.

    Every method raises ``EngineUnavailable`` (naming the engine) when the
    engine cannot be reached; in that case nothing has changed in it that the
    caller has to undo, unless the method says otherwise.
    """

    #: a human name used in messages ("Camunda", "embedded engine")
    name: str = "workflow engine"

    @abc.abstractmethod
    def deploy(self, bpmn_path: Path | str) -> Deployment:
        """Deploy a BPMN file. Deploying an unchanged file again must not create a
        new version. Raises ``DeploymentRejected`` with the engine's reason when the
        file cannot be parsed or uses something the engine cannot run."""

    @abc.abstractmethod
    def start_process(self, business_key: str, variables: dict[str, Any] | None = None) -> ProcessInstance:
        """Start the process for a business key. Idempotent: when an instance for
        the key is still running it is returned (``created=False``) and no second
        instance starts."""

    @abc.abstractmethod
    def cancel_process(self, business_key: str, reason: str) -> bool:
        """Stop the running instance for the key, if any (compensation). Returns
        whether one was stopped."""

    @abc.abstractmethod
    def find_user_task(self, business_key: str, task_definition_key: str = APPROVAL_TASK) -> UserTask | None:
        """The open user task of that definition for the key, or None."""

    @abc.abstractmethod
    def complete_user_task(self, task_id: str, variables: dict[str, Any], assignee: str | None = None) -> None:
        """Complete an open user task with variables, recording ``assignee`` as the
        one who completed it. Exactly one of two concurrent completions succeeds;
        the other raises ``TaskNotFound`` (task gone) or ``ConcurrencyConflict``
        (the engine detected the race). Completing an unknown or finished task
        raises ``TaskNotFound``."""

    @abc.abstractmethod
    def fetch_and_lock(
        self,
        worker_id: str,
        topics: Sequence[str],
        *,
        max_tasks: int = 1,
        lock_duration_ms: int = 30_000,
        wait_ms: int = 0,
        business_key: str | None = None,
    ) -> list[ExternalTask]:
        """Lock up to ``max_tasks`` available external tasks of the topics for the
        worker (only the key's tasks when ``business_key`` is given). A task is available when it is not locked (or its lock expired), has
        retries left (None or > 0) and its retry timeout has passed. With
        ``wait_ms`` > 0 the call waits up to that long for a task to appear and
        returns as soon as one does (long polling). A task is never locked by two
        workers at once."""

    @abc.abstractmethod
    def complete_external_task(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        """Complete a task locked by this worker; the process moves on. Raises
        ``TaskLockedByOtherWorker`` when another worker holds the lock, and
        ``TaskNotFound`` when the task does not exist or is already completed."""

    @abc.abstractmethod
    def handle_external_task_failure(
        self,
        task_id: str,
        worker_id: str,
        error_message: str,
        *,
        retries: int,
        retry_timeout_ms: int,
        error_details: str | None = None,
    ) -> None:
        """Report a failed attempt. The task's retries become ``retries``; it is
        unlocked and fetchable again after ``retry_timeout_ms``. With retries == 0
        an incident is raised and the task is not fetched again until retries are
        set back (``set_external_task_retries``). Same errors as completion."""

    @abc.abstractmethod
    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        """Extend the worker's lock to now + ``new_duration_ms``. Same errors as completion."""

    @abc.abstractmethod
    def find_external_tasks(self, business_key: str) -> list[ExternalTask]:
        """Open external tasks of the key's running instance (locked or not, incidents included)."""

    @abc.abstractmethod
    def set_external_task_retries(self, task_id: str, retries: int) -> None:
        """Set a task's retries (resolving its incident when > 0); the task becomes
        fetchable at once. Raises ``TaskNotFound``."""

    @abc.abstractmethod
    def process_state(self, business_key: str) -> ProcessState | None:
        """The latest instance for the key (running or ended), or None if none was
        started. ``variables`` holds the process variables (decision, comment, approver)."""

    @abc.abstractmethod
    def process_definition_xml(self, definition_id: str | None = None) -> str:
        """The BPMN XML of a deployed definition (the latest of the process key when
        None). Raises ``NotFound`` if nothing is deployed."""

    @abc.abstractmethod
    def check(self) -> None:
        """Readiness probe: return if the engine answers, else raise ``EngineUnavailable``."""

    def interrupt_waits(self) -> None:
        """Make ``fetch_and_lock`` calls waiting in this process return now (with no
        tasks), so a stopping worker does not sit out a long poll. Engines that cannot
        do this let the wait run out."""

    def close(self) -> None:
        """Release connections and threads. Idempotent."""
