"""The workflow port on Camunda Platform 7, over its REST API and external tasks.

How each port promise is kept on Camunda (status codes and bodies as measured
on 7.24, deploy/camunda-dev/NOTES.md):

* deploy: ``POST /deployment/create`` with a fixed deployment name and source
  and ``deploy-changed-only``, so an unchanged file is no new version. Parse
  errors (400 ``ParseException`` with per-element details, or 500 "Could not
  parse") become ``DeploymentRejected`` with Camunda's message and element ids.
* start: Camunda does not keep business keys unique, so a running instance for
  the key is looked up first; starts for one key are serialised inside this
  process, and a duplicate created by a racing process is deleted again. A start
  whose answer was lost is found by that lookup, not started twice.
* user task: found by business key + task definition key; completing records the
  assignee with ``POST /task/{id}/assignee`` (no exclusive claim that could be
  left stuck if the completion then fails) and completes with typed variables.
  The loser of two concurrent completions gets Camunda's optimistic-locking
  error (code 1 → ``ConcurrencyConflict``) or "Cannot find task" (→ ``TaskNotFound``).
* external tasks: ``fetchAndLock`` long-polls with ``asyncResponseTimeout``, in
  slices of at most ``max_poll_ms``: Camunda wakes a waiting poll when a task is
  created or unlocked, but not when a lock or retry timeout runs out or retries
  are set back (measured), so slices bound that delay, and ``interrupt_waits``
  takes effect at the end of the current slice (an HTTP long poll cannot be
  cancelled from the client without risking that the engine locks a task for an
  answer nobody reads). The read timeout is the slice plus a margin. Completion,
  failure and lock extension are retried when the engine does not answer; a
  completion answered 404 after such a retry is checked in the external-task
  history log, since the first attempt may have gone through.
* time: every port call but ``deploy`` and ``fetch_and_lock`` takes at most
  ``timeout_s`` in total, whatever requests and retries it makes (a frozen
  engine costs exactly the time its message states); a long poll has the
  poll plus a margin.
* process state: from the history service (the instance may have ended):
  history process instance, activity instances (sorted by ``occurrence``),
  variable instances and open incidents.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from pflow.domain.errors import ConcurrencyConflict, EngineUnavailable, NotFound, ValidationError
from pflow.ports.workflow import (
    APPROVAL_TASK,
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

from .client import ENGINE_NAME, CamundaClient, CamundaHttpError
from .variables import from_typed_map, parse_date, to_typed_map

log = logging.getLogger(__name__)

T = TypeVar("T")

BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DEPLOYMENT_SOURCE = "pflow"
MAX_ASYNC_RESPONSE_MS = 1_800_000  # Camunda refuses longer long polls
POLL_MARGIN_S = 5.0  # read timeout beyond the long poll, so Camunda always answers first

_STATES = {
    "ACTIVE": InstanceState.ACTIVE,
    "SUSPENDED": InstanceState.ACTIVE,
    "COMPLETED": InstanceState.COMPLETED,
    "EXTERNALLY_TERMINATED": InstanceState.TERMINATED,
    "INTERNALLY_TERMINATED": InstanceState.TERMINATED,
}


def _bounded(method: Callable[..., T]) -> Callable[..., T]:
    """One port call, however many requests it makes, takes at most the client's timeout in total."""

    @functools.wraps(method)
    def bounded(self: "CamundaWorkflowEngine", *args: Any, **kwargs: Any) -> T:
        with self._client.call_budget():
            return method(self, *args, **kwargs)

    return bounded


def _is_task_missing(error: CamundaHttpError) -> bool:
    return (error.status == 404 or "Cannot find task" in error.message or "does not exist" in error.message
            or error.type in ("NotFoundException", "NullValueException"))


def _element_ids(entry: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for name, value in entry.items():
        # Camunda 7.24 spells this key with a Cyrillic "е" ("еlementIds"): match it loosely.
        if name.endswith("lementIds") and isinstance(value, list):
            ids += [str(v) for v in value]
    main = entry.get("mainElementId")
    if main and main not in ids:
        ids.insert(0, str(main))
    return ids


class CamundaWorkflowEngine(WorkflowEngine):
    name = ENGINE_NAME

    def __init__(self, base_url: str, process_key: str = PROCESS_KEY, *, timeout_s: float = 10.0,
                 max_poll_ms: int = 2_000, report_attempts: int = 3, retry_pause_s: float = 0.2,
                 client: CamundaClient | None = None) -> None:
        if max_poll_ms < 1:
            raise ValueError("max_poll_ms must be at least 1")
        self.process_key = process_key
        self.max_poll_ms = min(max_poll_ms, MAX_ASYNC_RESPONSE_MS)
        self.report_attempts = max(1, report_attempts)
        self.retry_pause_s = retry_pause_s
        self._client = client or CamundaClient(base_url, timeout_s=timeout_s)
        self.timeout_s = self._client.timeout_s
        self._xml_by_definition: dict[str, str] = {}
        self._start_locks = [threading.Lock() for _ in range(64)]
        self._interrupts = 0
        self._interrupt_lock = threading.Lock()
        self._closed = False

    @property
    def url(self) -> str:
        return self._client.base_url

    # ---------------------------------------------------------------- helpers

    def _retrying(self, call: Callable[[], T], what: str) -> T:
        """Run ``call`` (a request safe to repeat), again after a pause while Camunda does not answer,
        up to ``report_attempts`` times."""
        attempt = 1
        while True:
            try:
                return call()
            except EngineUnavailable as exc:
                if attempt >= self.report_attempts:
                    raise
                pause = self.retry_pause_s * 2 ** (attempt - 1)
                log.warning("%s: %s; trying again in %.1fs", what, exc.message, pause)
                time.sleep(pause)
                attempt += 1

    def _running_instances(self, business_key: str) -> list[dict[str, Any]]:
        return self._client.get("/process-instance", businessKey=business_key,
                                processDefinitionKey=self.process_key) or []

    def _start_lock(self, business_key: str) -> threading.Lock:
        return self._start_locks[zlib.crc32(business_key.encode()) % len(self._start_locks)]

    @staticmethod
    def _external_task(dto: dict[str, Any]) -> ExternalTask:
        return ExternalTask(
            id=dto["id"], topic=dto.get("topicName") or "", business_key=dto.get("businessKey") or "",
            process_instance_id=dto.get("processInstanceId") or "", activity_id=dto.get("activityId") or "",
            worker_id=dto.get("workerId"), lock_expires_at=parse_date(dto.get("lockExpirationTime")),
            retries=dto.get("retries"), error_message=dto.get("errorMessage"),
            variables=from_typed_map(dto.get("variables")))

    def _map_external_task_error(self, error: CamundaHttpError, task_id: str, worker_id: str) -> Exception:
        if error.status == 404:
            return TaskNotFound(f"external task {task_id} does not exist or is completed")
        if error.status == 400 and ("locked by worker" in error.message or "lock that expired" in error.message
                                    or "cannot be" in error.message):
            return TaskLockedByOtherWorker(f"external task {task_id} is not locked by worker {worker_id!r}: "
                                           f"{error.message}")
        if error.is_conflict:
            return ConcurrencyConflict(f"external task {task_id} was changed concurrently: {error.message}")
        return error

    # ------------------------------------------------------------------- port

    def deploy(self, bpmn_path: Path | str) -> Deployment:
        path = Path(bpmn_path)
        content = path.read_bytes()
        name = path.name if path.name.endswith((".bpmn", ".bpmn20.xml")) else path.name + ".bpmn"
        self._check_process_key(content, name)
        form = {"deployment-name": f"pflow-{self.process_key}", "deployment-source": DEPLOYMENT_SOURCE,
                "deploy-changed-only": "true", "enable-duplicate-filtering": "true"}
        try:
            result = self._client.request("POST", "/deployment/create", data=form,
                                          files={"data": (name, content, "application/octet-stream")})
        except CamundaHttpError as exc:
            raise self._deployment_rejected(exc, name) from None
        deployment_id = result["id"]
        for definition in (result.get("deployedProcessDefinitions") or {}).values():
            if definition.get("key") == self.process_key:
                break
        else:
            # Unchanged file: Camunda answers with the earlier deployment and no definitions.
            found = self._client.get("/process-definition", deploymentId=deployment_id, key=self.process_key)
            if not found:
                raise DeploymentRejected(f"{name}: Camunda deployed it (deployment {deployment_id}) but found no "
                                         f"executable process {self.process_key!r} in it",
                                         details={"bpmn_file": [f"no executable process {self.process_key!r}"]})
            definition = found[0]
        log.info("deployed %s to Camunda: deployment %s, definition %s (version %s)", name, deployment_id,
                 definition["id"], definition.get("version"))
        return Deployment(deployment_id=deployment_id, process_key=self.process_key, definition_id=definition["id"],
                          version=int(definition.get("version") or 0))

    def _check_process_key(self, content: bytes, name: str) -> None:
        """Refuse a well-formed file without our process before Camunda stores a useless deployment.
        Malformed XML is left to Camunda, whose message says where."""
        try:
            root = ET.fromstring(content)
        except ET.ParseError:
            return
        ids = [p.get("id") for p in root.iter(BPMN_NS + "process")]
        if self.process_key not in ids:
            found = ", ".join(repr(i) for i in ids) or "none"
            raise DeploymentRejected(f"{name}: no process with id {self.process_key!r} (processes found: {found}); "
                                     "CAMUNDA_PROCESS_KEY must match the BPMN process id",
                                     details={"bpmn_file": [f"no process with id {self.process_key!r}"]})

    @staticmethod
    def _deployment_rejected(error: CamundaHttpError, name: str) -> DeploymentRejected:
        problems: list[str] = []
        for resource in (error.details or {}).values():
            if not isinstance(resource, dict):
                continue
            for entry in resource.get("errors") or []:
                where = f" (line {entry.get('line')}, column {entry.get('column')})" if entry.get("line") else ""
                ids = _element_ids(entry)
                element = f" [element {', '.join(ids)}]" if ids else ""
                problems.append(f"{entry.get('message')}{element}{where}")
        summary = "; ".join(problems) if problems else " ".join(error.message.split())
        return DeploymentRejected(f"Camunda refused {name}: {summary}",
                                  details={"bpmn_file": problems or [error.message]})

    @_bounded
    def start_process(self, business_key: str, variables: dict[str, Any] | None = None) -> ProcessInstance:
        typed = to_typed_map(variables)
        with self._start_lock(business_key):
            running = self._running_instances(business_key)
            if running:
                return ProcessInstance(running[0]["id"], business_key, self.process_key, created=False)
            try:
                started = self._client.post(f"/process-definition/key/{self.process_key}/start",
                                            {"businessKey": business_key, "variables": typed})
            except EngineUnavailable:
                # The answer may be lost after Camunda started the instance: look once more.
                try:
                    running = self._running_instances(business_key)
                except EngineUnavailable:
                    running = []
                if running:
                    return ProcessInstance(running[0]["id"], business_key, self.process_key, created=True)
                raise
            except CamundaHttpError as exc:
                if exc.status == 404:
                    raise NotFound(f"process {self.process_key!r} is not deployed on Camunda: {exc.message}") from None
                if exc.status == 400:
                    raise ValidationError(f"Camunda refused to start {self.process_key!r}: {exc.message}") from None
                raise
            return self._keep_one(business_key, started["id"])

    def _keep_one(self, business_key: str, mine: str) -> ProcessInstance:
        """Another process may have started the same key at the same moment: keep the earliest."""
        running = self._running_instances(business_key)
        if len(running) <= 1:
            return ProcessInstance(mine, business_key, self.process_key, created=True)
        history = self._client.get("/history/process-instance", processInstanceBusinessKey=business_key,
                                   processDefinitionKey=self.process_key, unfinished=True,
                                   sortBy="startTime", sortOrder="asc") or []
        ordered = sorted(history, key=lambda h: (h.get("startTime") or "", h["id"]))
        survivor = ordered[0]["id"] if ordered else mine
        if survivor == mine:
            return ProcessInstance(mine, business_key, self.process_key, created=True)
        log.warning("business key %s was started twice at once; deleting the duplicate instance %s", business_key,
                    mine)
        try:
            self._client.delete(f"/process-instance/{mine}", skipCustomListeners=True)
        except CamundaHttpError:
            pass
        return ProcessInstance(survivor, business_key, self.process_key, created=False)

    @_bounded
    def cancel_process(self, business_key: str, reason: str) -> bool:
        stopped = False
        for instance in self._running_instances(business_key):
            try:
                self._client.delete(f"/process-instance/{instance['id']}")
            except CamundaHttpError as exc:
                if exc.status == 404:
                    continue
                raise
            log.info("process instance %s (%s) cancelled: %s", instance["id"], business_key, reason)
            stopped = True
        return stopped

    @_bounded
    def find_user_task(self, business_key: str, task_definition_key: str = APPROVAL_TASK) -> UserTask | None:
        tasks = self._client.get("/task", processInstanceBusinessKey=business_key,
                                 taskDefinitionKey=task_definition_key, processDefinitionKey=self.process_key,
                                 sortBy="created", sortOrder="asc") or []
        if not tasks:
            return None
        task = tasks[0]
        try:
            links = self._client.get(f"/task/{task['id']}/identity-links", type="candidate") or []
        except CamundaHttpError as exc:
            if _is_task_missing(exc):
                return None  # completed meanwhile
            raise
        groups = tuple(link["groupId"] for link in links if link.get("groupId"))
        return UserTask(id=task["id"], task_definition_key=task["taskDefinitionKey"], name=task.get("name") or "",
                        business_key=business_key, process_instance_id=task["processInstanceId"],
                        candidate_groups=groups, assignee=task.get("assignee"),
                        created_at=parse_date(task.get("created")))

    @_bounded
    def complete_user_task(self, task_id: str, variables: dict[str, Any], assignee: str | None = None) -> None:
        typed = to_typed_map(variables)
        try:
            if assignee:
                self._client.post(f"/task/{task_id}/assignee", {"userId": assignee})
            self._client.post(f"/task/{task_id}/complete", {"variables": typed})
        except CamundaHttpError as exc:
            if exc.is_conflict or exc.type == "TaskAlreadyClaimedException":
                raise ConcurrencyConflict(f"user task {task_id} was completed concurrently") from None
            if _is_task_missing(exc):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            if exc.status == 400:
                raise ValidationError(f"Camunda refused to complete user task {task_id}: {exc.message}") from None
            if exc.status >= 500 and not self._user_task_exists(task_id):
                # Camunda 7.24 fails with a 500 (ENGINE-03051 in a task listener) when another request
                # completes the task while this one sets its assignee: the other request won.
                raise TaskNotFound(f"user task {task_id} was completed by another request") from None
            raise

    def _user_task_exists(self, task_id: str) -> bool:
        try:
            self._client.get(f"/task/{task_id}")
            return True
        except CamundaHttpError as exc:
            if _is_task_missing(exc) or exc.status == 404:
                return False
            raise

    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        if not worker_id:
            raise ValueError("fetch_and_lock needs a worker id")
        if max_tasks < 1 or lock_duration_ms < 1 or not topics:
            raise ValueError("fetch_and_lock needs max_tasks >= 1, lock_duration_ms >= 1 and at least one topic")
        topic_filter: dict[str, Any] = {"lockDuration": lock_duration_ms, "processDefinitionKey": self.process_key}
        if business_key is not None:
            topic_filter["businessKey"] = business_key
        body: dict[str, Any] = {
            "workerId": worker_id, "maxTasks": max_tasks, "usePriority": True,
            "sorting": [{"sortBy": "createTime", "sortOrder": "asc"}],
            "topics": [{"topicName": topic, **topic_filter} for topic in topics],
        }
        with self._interrupt_lock:
            generation = self._interrupts
        deadline = time.monotonic() + max(0, wait_ms) / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            poll_ms = min(remaining_ms, self.max_poll_ms)
            if poll_ms > 0:
                body["asyncResponseTimeout"] = poll_ms
            else:
                body.pop("asyncResponseTimeout", None)
            # The read timeout outlasts the poll, so Camunda always answers first (see the module docstring).
            read_timeout = max(poll_ms, 0) / 1000 + max(POLL_MARGIN_S, self._client.timeout_s)
            fetched = self._client.request("POST", "/external-task/fetchAndLock", json=body,
                                           read_timeout=read_timeout) or []
            tasks = [self._external_task(dto) for dto in fetched]
            if self._interrupts != generation:
                self._unlock(tasks)
                return []
            if tasks or time.monotonic() >= deadline:
                return tasks

    def _unlock(self, tasks: list[ExternalTask]) -> None:
        """Give back tasks locked by a poll that was interrupted meanwhile, so nobody waits for their lock."""
        for task in tasks:
            try:
                self._client.post(f"/external-task/{task.id}/unlock")
            except (CamundaHttpError, EngineUnavailable) as exc:
                log.warning("could not unlock external task %s after an interrupted poll (%s); "
                            "it is fetchable again when its lock expires", task.id, exc)

    @_bounded
    def complete_external_task(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        body = {"workerId": worker_id, "variables": to_typed_map(variables)}
        attempts = 0

        def complete() -> None:
            nonlocal attempts
            attempts += 1
            self._client.post(f"/external-task/{task_id}/complete", body)

        try:
            self._retrying(complete, f"completing external task {task_id}")
        except CamundaHttpError as exc:
            if exc.status == 404 and attempts > 1 and self._completed_by(task_id, worker_id):
                log.info("external task %s: the answer to the first completion was lost; it did complete", task_id)
                return
            raise self._map_external_task_error(exc, task_id, worker_id) from None

    def _completed_by(self, task_id: str, worker_id: str) -> bool:
        """Did ``worker_id`` complete the task? (Camunda's external-task log, history level full.)"""
        entries = self._client.get("/history/external-task-log", externalTaskId=task_id, successLog=True) or []
        return any(entry.get("workerId") == worker_id for entry in entries)

    @_bounded
    def handle_external_task_failure(self, task_id: str, worker_id: str, error_message: str, *, retries: int,
                                     retry_timeout_ms: int, error_details: str | None = None) -> None:
        # Explicit retries every time (omitting them raises an incident at once); with them the call can be
        # repeated safely after a lost answer.
        body: dict[str, Any] = {"workerId": worker_id, "errorMessage": error_message, "retries": max(0, retries),
                                "retryTimeout": max(0, retry_timeout_ms)}
        if error_details is not None:
            body["errorDetails"] = error_details
        try:
            self._retrying(lambda: self._client.post(f"/external-task/{task_id}/failure", body),
                           f"reporting the failure of external task {task_id}")
        except CamundaHttpError as exc:
            raise self._map_external_task_error(exc, task_id, worker_id) from None

    @_bounded
    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        body = {"workerId": worker_id, "newDuration": new_duration_ms}
        try:
            self._retrying(lambda: self._client.post(f"/external-task/{task_id}/extendLock", body),
                           f"extending the lock of external task {task_id}")
        except CamundaHttpError as exc:
            raise self._map_external_task_error(exc, task_id, worker_id) from None

    @_bounded
    def find_external_tasks(self, business_key: str) -> list[ExternalTask]:
        # GET /external-task has no business-key filter (unknown parameters are ignored!): go by instance.
        tasks: list[ExternalTask] = []
        for instance in self._running_instances(business_key):
            for dto in self._client.get("/external-task", processInstanceId=instance["id"]) or []:
                task = self._external_task(dto)
                if task.lock_expires_at is not None and task.lock_expires_at.timestamp() <= time.time():
                    task = ExternalTask(**{**task.__dict__, "worker_id": None, "lock_expires_at": None})
                tasks.append(task)
        return tasks

    @_bounded
    def set_external_task_retries(self, task_id: str, retries: int) -> None:
        try:
            self._client.put(f"/external-task/{task_id}/retries", {"retries": retries})
        except CamundaHttpError as exc:
            if exc.status == 404 or _is_task_missing(exc):
                raise TaskNotFound(f"external task {task_id} does not exist or is completed") from None
            raise

    @_bounded
    def process_state(self, business_key: str) -> ProcessState | None:
        found = self._client.get("/history/process-instance", processInstanceBusinessKey=business_key,
                                 processDefinitionKey=self.process_key, sortBy="startTime", sortOrder="desc",
                                 maxResults=1) or []
        if not found:
            return None
        instance = found[0]
        instance_id = instance["id"]
        activities = self._client.get("/history/activity-instance", processInstanceId=instance_id,
                                      sortBy="occurrence", sortOrder="asc") or []
        active = tuple(a["activityId"] for a in activities if a.get("endTime") is None)
        completed = tuple(a["activityId"] for a in activities if a.get("endTime") is not None and not a.get("canceled"))
        variables: dict[str, Any] = {}
        scope: dict[str, bool] = {}
        for var in self._client.get("/history/variable-instance", processInstanceId=instance_id,
                                    deserializeValues=False) or []:
            if var.get("state") == "DELETED":
                continue
            process_scope = var.get("activityInstanceId") == instance_id
            if var["name"] in variables and scope[var["name"]] and not process_scope:
                continue  # a process variable wins over a local one of the same name
            variables[var["name"]] = from_typed_map({"v": var})["v"]
            scope[var["name"]] = process_scope
        state = _STATES.get(instance.get("state") or "", InstanceState.ACTIVE)
        incidents: tuple[str, ...] = ()
        if state == InstanceState.ACTIVE:
            open_incidents = self._client.get("/incident", processInstanceId=instance_id) or []
            incidents = tuple(i.get("incidentMessage") or i.get("incidentType") or "incident" for i in open_incidents)
            if incidents:
                state = InstanceState.INCIDENT
        return ProcessState(instance_id=instance_id, business_key=business_key,
                            process_key=instance.get("processDefinitionKey") or self.process_key,
                            definition_id=instance["processDefinitionId"], state=state, active_activity_ids=active,
                            completed_activity_ids=completed, variables=variables, incidents=incidents)

    @_bounded
    def process_definition_xml(self, definition_id: str | None = None) -> str:
        if definition_id is not None and definition_id in self._xml_by_definition:
            return self._xml_by_definition[definition_id]
        path = (f"/process-definition/{definition_id}/xml" if definition_id is not None
                else f"/process-definition/key/{self.process_key}/xml")
        try:
            answer = self._client.get(path)
        except CamundaHttpError as exc:
            if exc.status == 404:
                what = definition_id or f"of process {self.process_key!r}"
                raise NotFound(f"no process definition {what} is deployed on Camunda") from None
            raise
        # Deployed definitions never change: cache by id (not the "latest", which a redeploy changes).
        self._xml_by_definition[answer["id"]] = answer["bpmn20Xml"]
        return answer["bpmn20Xml"]

    @_bounded
    def check(self) -> None:
        try:
            self._client.get("/engine")
        except CamundaHttpError as exc:
            raise self._client.unavailable(f"GET /engine answered {exc.status}: {exc.message}") from None

    def interrupt_waits(self) -> None:
        """Waiting polls return (with no tasks) when their current slice ends, within ``max_poll_ms``."""
        with self._interrupt_lock:
            self._interrupts += 1

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.interrupt_waits()
        self._client.close()
