"""A small in-process BPMN interpreter for the approval flow's elements.

It runs the deployed BPMN graph with start events, user tasks, external
service tasks (``camunda:type="external"``), exclusive gateways whose
conditions are ``${var}`` or ``${!var}``, and end events — enough for
``ticket_approval`` and its tests, with Camunda's external-task semantics
(locks, lock expiry, retries, retry timeout, incidents). Anything else is
refused at deploy time. State lives in this object only.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from pflow.domain.errors import EngineUnavailable, NotFound
from pflow.ports.workflow import (
    PROCESS_KEY,
    Deployment,
    DeploymentRejected,
    ExternalTask,
    InstanceState,
    ProcessInstance,
    ProcessState,
    TaskLockedByOtherWorker,
    TaskNotFound,
    UserTask,
    WorkflowEngine,
)

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
_CONDITION = re.compile(r"^\$\{\s*(!?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")
_SUPPORTED = {"startEvent", "userTask", "serviceTask", "exclusiveGateway", "endEvent", "sequenceFlow"}


@dataclass
class _Node:
    id: str
    kind: str
    name: str
    outgoing: list[tuple[str, str | None]] = field(default_factory=list)  # (target, condition)
    topic: str | None = None
    candidate_groups: tuple[str, ...] = ()


@dataclass
class _Definition:
    id: str
    key: str
    version: int
    xml: str
    digest: str
    nodes: dict[str, _Node]
    start: str


@dataclass
class _Instance:
    id: str
    business_key: str
    definition: _Definition
    variables: dict[str, Any]
    state: str = InstanceState.ACTIVE
    active: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    seq: int = 0


@dataclass
class _UserTask:
    id: str
    instance: _Instance
    node: _Node
    created_at: datetime
    assignee: str | None = None


@dataclass
class _ExternalTask:
    id: str
    instance: _Instance
    node: _Node
    worker_id: str | None = None
    lock_expires: float = 0.0
    retries: int | None = None
    available_at: float = 0.0
    error_message: str | None = None


def parse_definition(xml: str, source: str, process_key: str) -> tuple[dict[str, _Node], str]:
    """Read the process graph; refuse what this interpreter cannot run, naming file, element and reason."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise DeploymentRejected(f"{source}: not a valid BPMN XML file ({exc})") from None
    process = next((p for p in root.iter(BPMN + "process") if p.get("id") == process_key), None)
    if process is None:
        raise DeploymentRejected(f"{source}: no process with id {process_key!r}")
    nodes: dict[str, _Node] = {}
    flows = []
    for el in process:
        kind = el.tag.replace(BPMN, "")
        if not el.tag.startswith(BPMN) or kind in {"documentation", "extensionElements", "laneSet"}:
            continue
        el_id = el.get("id", "?")
        if kind not in _SUPPORTED:
            raise DeploymentRejected(f"{source}: element {el_id!r} is a {kind}, which this engine cannot run")
        if kind == "sequenceFlow":
            cond_el = el.find(BPMN + "conditionExpression")
            flows.append((el.get("sourceRef"), el.get("targetRef"),
                          cond_el.text.strip() if cond_el is not None and cond_el.text else None, el_id))
            continue
        node = _Node(el_id, kind, el.get("name", el_id))
        if kind == "serviceTask":
            if el.get(CAMUNDA + "type") != "external" or not el.get(CAMUNDA + "topic"):
                raise DeploymentRejected(f"{source}: service task {el_id!r} must be camunda:type=\"external\" "
                                         "with a camunda:topic")
            node.topic = el.get(CAMUNDA + "topic")
        if kind == "userTask":
            groups = el.get(CAMUNDA + "candidateGroups") or ""
            node.candidate_groups = tuple(g.strip() for g in groups.split(",") if g.strip())
        nodes[el_id] = node
    for source_ref, target_ref, condition, flow_id in flows:
        if condition is not None and not _CONDITION.match(condition):
            raise DeploymentRejected(f"{source}: sequence flow {flow_id!r} has the condition {condition!r}; "
                                     "this engine supports only ${var} and ${!var}")
        if source_ref not in nodes or target_ref not in nodes:
            raise DeploymentRejected(f"{source}: sequence flow {flow_id!r} connects unknown elements")
        nodes[source_ref].outgoing.append((target_ref, condition))
    starts = [n.id for n in nodes.values() if n.kind == "startEvent"]
    if len(starts) != 1:
        raise DeploymentRejected(f"{source}: process {process_key!r} needs exactly one start event")
    return nodes, starts[0]


def _now_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class InMemoryWorkflowEngine(WorkflowEngine):
    name = "in-memory engine"

    def __init__(self, process_key: str = PROCESS_KEY, clock: Callable[[], float] = time.time) -> None:
        self.process_key = process_key
        self._clock = clock
        self._cv = threading.Condition()
        self._definitions: list[_Definition] = []
        self._instances: dict[str, _Instance] = {}
        self._by_key: dict[str, list[_Instance]] = {}
        self._user_tasks: dict[str, _UserTask] = {}
        self._external_tasks: dict[str, _ExternalTask] = {}
        self._seq = itertools.count(1)
        self._interrupts = 0
        self.available = True  # tests flip this to simulate an outage

    # ---------------------------------------------------------------- helpers

    def _ensure(self) -> None:
        if not self.available:
            raise EngineUnavailable(self.name, "the in-memory engine is switched off")

    def _latest(self) -> _Definition:
        if not self._definitions:
            raise NotFound(f"no process {self.process_key!r} is deployed")
        return self._definitions[-1]

    def _running(self, business_key: str) -> _Instance | None:
        for inst in reversed(self._by_key.get(business_key, [])):
            if inst.state in (InstanceState.ACTIVE, InstanceState.INCIDENT):
                return inst
        return None

    def _enter(self, inst: _Instance, node_id: str) -> None:
        """Move a token into a node and run on until it waits or ends."""
        node = inst.definition.nodes[node_id]
        if node.kind == "userTask":
            inst.active.append(node.id)
            task = _UserTask(str(uuid.uuid4()), inst, node, _now_dt(self._clock()))
            self._user_tasks[task.id] = task
            return
        if node.kind == "serviceTask":
            inst.active.append(node.id)
            task = _ExternalTask(str(uuid.uuid4()), inst, node)
            self._external_tasks[task.id] = task
            self._cv.notify_all()
            return
        inst.completed.append(node.id)
        if node.kind == "endEvent":
            if not any(t.instance is inst for t in self._user_tasks.values()) and not any(
                t.instance is inst for t in self._external_tasks.values()
            ):
                inst.state = InstanceState.COMPLETED
            return
        self._leave(inst, node)

    def _leave(self, inst: _Instance, node: _Node) -> None:
        if node.kind == "exclusiveGateway":
            for target, condition in node.outgoing:
                if condition is None or self._evaluate(condition, inst.variables):
                    self._enter(inst, target)
                    return
            raise DeploymentRejected(f"gateway {node.id!r}: no outgoing condition is true")
        for target, _ in node.outgoing:
            self._enter(inst, target)

    @staticmethod
    def _evaluate(condition: str, variables: dict[str, Any]) -> bool:
        negate, name = _CONDITION.match(condition).groups()  # type: ignore[union-attr]
        return bool(variables.get(name)) != bool(negate)

    def _finish(self, inst: _Instance, node: _Node) -> None:
        inst.active.remove(node.id)
        inst.completed.append(node.id)
        self._leave(inst, node)

    def _ext_view(self, t: _ExternalTask) -> ExternalTask:
        locked = t.worker_id is not None and t.lock_expires > self._clock()
        return ExternalTask(
            id=t.id, topic=t.node.topic or "", business_key=t.instance.business_key,
            process_instance_id=t.instance.id, activity_id=t.node.id,
            worker_id=t.worker_id if locked else None,
            lock_expires_at=_now_dt(t.lock_expires) if locked else None,
            retries=t.retries, error_message=t.error_message, variables=dict(t.instance.variables))

    def _locked_task(self, task_id: str, worker_id: str) -> _ExternalTask:
        task = self._external_tasks.get(task_id)
        if task is None:
            raise TaskNotFound(f"external task {task_id} does not exist or is completed")
        if task.worker_id != worker_id or task.lock_expires <= self._clock():
            raise TaskLockedByOtherWorker(
                f"external task {task_id} is not locked by worker {worker_id!r}")
        return task

    # ------------------------------------------------------------------- port

    def deploy(self, bpmn_path: Path | str) -> Deployment:
        self._ensure()
        path = Path(bpmn_path)
        xml = path.read_text(encoding="utf-8")
        nodes, start = parse_definition(xml, path.name, self.process_key)
        digest = hashlib.sha256(xml.encode()).hexdigest()
        with self._cv:
            if self._definitions and self._definitions[-1].digest == digest:
                d = self._definitions[-1]
            else:
                version = len(self._definitions) + 1
                d = _Definition(f"{self.process_key}:{version}:{digest[:12]}", self.process_key, version, xml,
                                digest, nodes, start)
                self._definitions.append(d)
        return Deployment(deployment_id=d.id, process_key=d.key, definition_id=d.id, version=d.version)

    def start_process(self, business_key: str, variables: dict[str, Any] | None = None) -> ProcessInstance:
        self._ensure()
        with self._cv:
            existing = self._running(business_key)
            if existing:
                return ProcessInstance(existing.id, business_key, self.process_key, created=False)
            definition = self._latest()
            inst = _Instance(str(uuid.uuid4()), business_key, definition, dict(variables or {}), seq=next(self._seq))
            self._instances[inst.id] = inst
            self._by_key.setdefault(business_key, []).append(inst)
            self._enter(inst, definition.start)
            return ProcessInstance(inst.id, business_key, self.process_key, created=True)

    def cancel_process(self, business_key: str, reason: str) -> bool:
        self._ensure()
        with self._cv:
            inst = self._running(business_key)
            if inst is None:
                return False
            inst.state = InstanceState.TERMINATED
            inst.active.clear()
            for tasks in (self._user_tasks, self._external_tasks):
                for tid in [tid for tid, t in tasks.items() if t.instance is inst]:
                    del tasks[tid]
            return True

    def find_user_task(self, business_key: str, task_definition_key: str = "ManagerApproval") -> UserTask | None:
        self._ensure()
        with self._cv:
            for t in self._user_tasks.values():
                if t.instance.business_key == business_key and t.node.id == task_definition_key:
                    return UserTask(t.id, t.node.id, t.node.name, business_key, t.instance.id,
                                    t.node.candidate_groups, t.assignee, t.created_at)
            return None

    def complete_user_task(self, task_id: str, variables: dict[str, Any], assignee: str | None = None) -> None:
        self._ensure()
        with self._cv:
            task = self._user_tasks.pop(task_id, None)
            if task is None:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            task.assignee = assignee
            task.instance.variables.update(variables)
            self._finish(task.instance, task.node)

    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        self._ensure()
        deadline = time.monotonic() + wait_ms / 1000
        with self._cv:
            interrupts = self._interrupts
            while True:
                now = self._clock()
                ready = [t for t in self._external_tasks.values()
                         if t.node.topic in topics and (t.worker_id is None or t.lock_expires <= now)
                         and (business_key is None or t.instance.business_key == business_key)
                         and (t.retries is None or t.retries > 0) and t.available_at <= now]
                if ready:
                    ready.sort(key=lambda t: t.instance.seq)
                    locked = []
                    for t in ready[:max_tasks]:
                        t.worker_id, t.lock_expires = worker_id, now + lock_duration_ms / 1000
                        locked.append(self._ext_view(t))
                    return locked
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._interrupts != interrupts:
                    return []
                # Wake for a new task, or when the next lock or retry timeout runs out.
                upcoming = [max(t.lock_expires, t.available_at) - now for t in self._external_tasks.values()
                            if t.node.topic in topics and (t.retries is None or t.retries > 0)]
                upcoming = [u for u in upcoming if u > 0]
                self._cv.wait(min([remaining] + [u + 0.001 for u in upcoming]))
                self._ensure()

    def complete_external_task(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        self._ensure()
        with self._cv:
            task = self._locked_task(task_id, worker_id)
            del self._external_tasks[task_id]
            task.instance.variables.update(variables or {})
            self._finish(task.instance, task.node)
            if task.instance.state == InstanceState.INCIDENT:
                task.instance.state = InstanceState.ACTIVE

    def handle_external_task_failure(self, task_id: str, worker_id: str, error_message: str, *, retries: int,
                                     retry_timeout_ms: int, error_details: str | None = None) -> None:
        self._ensure()
        with self._cv:
            task = self._locked_task(task_id, worker_id)
            task.worker_id, task.lock_expires = None, 0.0
            task.retries = max(0, retries)
            task.error_message = error_message
            task.available_at = self._clock() + retry_timeout_ms / 1000
            if task.retries == 0:
                task.instance.state = InstanceState.INCIDENT
            self._cv.notify_all()

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        self._ensure()
        with self._cv:
            task = self._locked_task(task_id, worker_id)
            task.lock_expires = self._clock() + new_duration_ms / 1000

    def find_external_tasks(self, business_key: str) -> list[ExternalTask]:
        self._ensure()
        with self._cv:
            return [self._ext_view(t) for t in self._external_tasks.values()
                    if t.instance.business_key == business_key]

    def set_external_task_retries(self, task_id: str, retries: int) -> None:
        self._ensure()
        with self._cv:
            task = self._external_tasks.get(task_id)
            if task is None:
                raise TaskNotFound(f"external task {task_id} does not exist or is completed")
            task.retries = retries
            if retries > 0:
                task.available_at = 0.0
                task.error_message = None
                if task.instance.state == InstanceState.INCIDENT:
                    task.instance.state = InstanceState.ACTIVE
            self._cv.notify_all()

    def process_state(self, business_key: str) -> ProcessState | None:
        self._ensure()
        with self._cv:
            instances = self._by_key.get(business_key)
            if not instances:
                return None
            inst = instances[-1]
            incidents = tuple(t.error_message or "failed" for t in self._external_tasks.values()
                              if t.instance is inst and t.retries == 0)
            return ProcessState(
                instance_id=inst.id, business_key=business_key, process_key=inst.definition.key,
                definition_id=inst.definition.id, state=inst.state, active_activity_ids=tuple(inst.active),
                completed_activity_ids=tuple(inst.completed), variables=dict(inst.variables), incidents=incidents)

    def process_definition_xml(self, definition_id: str | None = None) -> str:
        self._ensure()
        with self._cv:
            if definition_id is None:
                return self._latest().xml
            for d in self._definitions:
                if d.id == definition_id:
                    return d.xml
            raise NotFound(f"process definition {definition_id} was not found")

    def check(self) -> None:
        self._ensure()

    def interrupt_waits(self) -> None:
        with self._cv:
            self._interrupts += 1
            self._cv.notify_all()

    def close(self) -> None:
        self.interrupt_waits()
