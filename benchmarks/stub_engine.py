"""A stand-in for the process engine that answers the seed process's two steps from a dict.

Only for measuring PFlow's ticket share of a flow (benchmarks/engine_flows.py): the use cases and
the worker run as `pflow serve` runs them, but every process-port call costs next to nothing, so
what is left is the ticket store, the service and the worker. The product's in-memory engine
cannot serve here any more: it is the embedded engine's own SpiffWorkflow logic on an in-memory
database (one interpreter for every engine), so it costs about what the embedded engine costs.

It knows one shape, that of deploy/workflows/ticket-process.bpmn: a decision step ``approved``
offered to ``managers``, then, when approved, one automated step on the provisioning topic; the
end events ``Completed`` and ``Rejected`` (outcome ``rejected``). It runs no BPMN and is not a fake
for tests: nothing but the benchmarks uses it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

from pflow.domain.steps import FormField
from pflow.ports.process import (
    CompletedTask,
    Deployment,
    ExternalTask,
    ExternalTasks,
    InstanceState,
    InstanceView,
    ProcessEngine,
    ProcessInstance,
    ProcessModel,
    TaskLockedByOtherWorker,
    TaskNotFound,
    UserTask,
)

DECISION = (FormField("approved", "Approve?", "boolean", required=True),)
NAMES = {"TicketSubmitted": "Ticket submitted", "ManagerApproval": "Manager Approval",
         "ProvisionService": "Provision Service", "Completed": "Completed", "Rejected": "Rejected"}


class _Instance:
    def __init__(self, key: str, process_key: str, variables: dict[str, Any]) -> None:
        self.id = str(uuid.uuid4())
        self.key = key
        self.process_key = process_key
        self.variables = dict(variables)
        self.state = InstanceState.ACTIVE
        self.task: UserTask | None = None
        self.external: ExternalTask | None = None
        self.done: list[str] = ["TicketSubmitted"]
        self.completed: list[CompletedTask] = []
        self.end: str | None = None


class StubProcessEngine(ProcessEngine, ExternalTasks):
    name = "stub engine (benchmarks only)"

    def __init__(self, process_key: str, topic: str, bpmn: Path) -> None:
        self.process_key = process_key
        self.topic = topic
        self.definition_id = f"{process_key}:1:stub"
        self._bpmn = bpmn
        self._instances: dict[str, _Instance] = {}
        self._by_task: dict[str, _Instance] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ service side

    def deploy(self, bpmn_path: Path | str) -> list[Deployment]:
        return [Deployment("stub", self.process_key, self.definition_id, 1, created=False)]

    def start(self, process_key: str, business_key: str, variables: dict[str, Any]) -> ProcessInstance:
        with self._lock:
            running = self._instances.get(business_key)
            if running is not None and running.state == InstanceState.ACTIVE:
                return ProcessInstance(running.id, business_key, process_key, self.definition_id, created=False)
            instance = _Instance(business_key, process_key, variables)
            instance.task = UserTask(id=str(uuid.uuid4()), definition_key="ManagerApproval",
                                     name=NAMES["ManagerApproval"], business_key=business_key,
                                     process_instance_id=instance.id,
                                     process_key=process_key, candidate_groups=("managers",),
                                     created_at=datetime.now(timezone.utc), form=DECISION)
            self._instances[business_key] = instance
            self._by_task[instance.task.id] = instance
            return ProcessInstance(instance.id, business_key, process_key, self.definition_id, created=True)

    def cancel(self, business_key: str, reason: str) -> bool:
        with self._lock:
            instance = self._instances.get(business_key)
            if instance is None or instance.state != InstanceState.ACTIVE:
                return False
            instance.state, instance.task, instance.external = InstanceState.TERMINATED, None, None
            return True

    def open_tasks(self, business_key: str) -> list[UserTask]:
        with self._lock:
            instance = self._instances.get(business_key)
            return [instance.task] if instance is not None and instance.task is not None else []

    def task(self, task_id: str) -> UserTask:
        with self._lock:
            instance = self._by_task.get(task_id)
            if instance is None or instance.task is None or instance.task.id != task_id:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            return instance.task

    def complete_task(self, task_id: str, variables: dict[str, Any], *, completed_by: str) -> None:
        with self._lock:
            instance = self._by_task.get(task_id)
            if instance is None or instance.task is None or instance.task.id != task_id:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            task, instance.task = instance.task, None
            instance.variables.update(variables)
            instance.done.append(task.definition_key)
            instance.completed.append(CompletedTask(task.id, task.definition_key, task.name, completed_by,
                                                    datetime.now(timezone.utc)))
            if variables.get("approved"):
                instance.external = ExternalTask(id=str(uuid.uuid4()), topic=self.topic, business_key=instance.key,
                                                 process_instance_id=instance.id, activity_id="ProvisionService",
                                                 worker_id=None, lock_expires_at=None, retries=None,
                                                 activity_name=NAMES["ProvisionService"])
                self._by_task[instance.external.id] = instance
            else:
                self._end(instance, "Rejected")

    def instance(self, business_key: str) -> InstanceView | None:
        with self._lock:
            instance = self._instances.get(business_key)
            if instance is None:
                return None
            active = (("ManagerApproval",) if instance.task else ()) + (
                ("ProvisionService",) if instance.external else ())
            failed = instance.external is not None and instance.external.retries == 0
            return InstanceView(instance_id=instance.id, business_key=business_key, process_key=instance.process_key,
                                definition_id=self.definition_id,
                                state=InstanceState.INCIDENT if failed else instance.state,
                                active_activity_ids=active, completed_activity_ids=tuple(instance.done),
                                variables=dict(instance.variables),
                                incidents=("ProvisionService",) if failed else (), end_activity_id=instance.end,
                                activity_names=dict(NAMES))

    def automated_steps(self, business_key: str) -> list[ExternalTask]:
        with self._lock:
            instance = self._instances.get(business_key)
            return [instance.external] if instance is not None and instance.external is not None else []

    def completed_tasks(self, business_key: str) -> list[CompletedTask]:
        with self._lock:
            instance = self._instances.get(business_key)
            return list(instance.completed) if instance is not None else []

    def retry_step(self, task_id: str, retries: int) -> None:
        with self._lock:
            external = self._external(task_id)
            self._set(external, replace(external, retries=retries, error_message=None))

    def model(self, definition_id: str) -> ProcessModel:
        return ProcessModel(process_key=self.process_key, properties={}, outcomes={"Rejected": "rejected"},
                            topics=(self.topic,), candidate_groups=("managers",))

    def definition_xml(self, definition_id: str) -> str:
        return self._bpmn.read_text(encoding="utf-8")

    def latest_definition_id(self, process_key: str) -> str:
        return self.definition_id

    def check(self) -> None:
        return None

    # ------------------------------------------------------------ worker side

    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        now = datetime.now(timezone.utc)
        locked: list[ExternalTask] = []
        with self._lock:
            for instance in self._instances.values():
                external = instance.external
                if len(locked) >= max_tasks:
                    break
                if external is None or external.topic not in topics or external.retries == 0:
                    continue
                if business_key is not None and instance.key != business_key:
                    continue
                if external.lock_expires_at is not None and external.lock_expires_at > now:
                    continue
                held = replace(external, worker_id=worker_id,
                               lock_expires_at=now + timedelta(milliseconds=lock_duration_ms),
                               variables=dict(instance.variables))
                instance.external = held
                locked.append(held)
        return locked

    def external_task(self, task_id: str) -> ExternalTask:
        with self._lock:
            external = self._external(task_id)
            if external.lock_expires_at is not None and external.lock_expires_at <= datetime.now(timezone.utc):
                external = replace(external, worker_id=None, lock_expires_at=None)
            return replace(external, variables=dict(self._by_task[task_id].variables))

    def complete(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        with self._lock:
            external = self._held(task_id, worker_id)
            instance = self._by_task.pop(external.id)
            instance.variables.update(variables or {})
            instance.external = None
            instance.done.append("ProvisionService")
            self._end(instance, "Completed")

    def fail(self, task_id: str, worker_id: str, error_message: str, *, retries: int, retry_timeout_ms: int,
             error_details: str | None = None) -> None:
        with self._lock:
            external = self._held(task_id, worker_id)
            self._set(external, replace(external, worker_id=None, lock_expires_at=None, retries=retries,
                                        error_message=error_message))

    def claim(self, task_id: str, user: str) -> None:
        raise NotImplementedError("the benchmark's flows claim no steps")

    def unclaim(self, task_id: str) -> None:
        raise NotImplementedError("the benchmark's flows claim no steps")

    def set_assignee(self, task_id: str, user: str | None) -> None:
        raise NotImplementedError("the benchmark's flows reassign no steps")

    def set_due(self, task_id: str, due: datetime) -> None:
        raise NotImplementedError("the benchmark's process gives its steps no due time")

    def bpmn_error(self, task_id: str, worker_id: str, error_code: str, *, error_message: str | None = None,
                   variables: dict[str, Any] | None = None) -> None:
        raise NotImplementedError("the benchmark's stub engine runs no error boundary events")

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        with self._lock:
            external = self._held(task_id, worker_id)
            self._set(external, replace(external, lock_expires_at=datetime.now(timezone.utc)
                                        + timedelta(milliseconds=new_duration_ms)))

    def unlock(self, task_id: str, worker_id: str) -> None:
        with self._lock:
            external = self._held(task_id, worker_id)
            self._set(external, replace(external, worker_id=None, lock_expires_at=None))

    # ------------------------------------------------------------ internals (under the lock)

    def _external(self, task_id: str) -> ExternalTask:
        instance = self._by_task.get(task_id)
        if instance is None or instance.external is None or instance.external.id != task_id:
            raise TaskNotFound(f"external task {task_id} does not exist or is completed")
        return instance.external

    def _held(self, task_id: str, worker_id: str) -> ExternalTask:
        external = self._external(task_id)
        if external.worker_id != worker_id:
            raise TaskLockedByOtherWorker(f"external task {task_id} is not locked by {worker_id}")
        return external

    def _set(self, old: ExternalTask, new: ExternalTask) -> None:
        self._by_task[old.id].external = new

    @staticmethod
    def _end(instance: _Instance, end: str) -> None:
        instance.state, instance.end = InstanceState.COMPLETED, end
        instance.done.append(end)
