"""The process ports (``ProcessEngine`` and ``ExternalTasks``) on Camunda Platform 7, over its REST API.

How each port promise is kept on Camunda (status codes and bodies as measured
on 7.24, deploy/camunda-dev/NOTES.md):

* deploy: by content. Camunda's duplicate filtering (``enable-duplicate-filtering``
  + ``deploy-changed-only``) only compares a file with the *latest* deployment of
  the same name: deploying an older file again after a newer one makes the older
  content a new, latest version (measured on 7.24). So before deploying, the file
  is compared with every deployed version of each of its processes (their XML, as
  Camunda returns it byte for byte): a file already deployed is not deployed again
  (``created=False``, naming the version that has this content), and an older
  content never becomes the latest. Deploys in one process take turns; two
  processes deploying the same new file at once race inside Camunda, whose
  filtering then lets both deploy (measured: two versions, or two definitions
  with the same version), so the later of two equal definitions removes its
  deployment again. Parse errors (400
  ``ParseException`` with per-element details, or 500 "Could not parse") become
  ``DeploymentRejected`` with Camunda's message and element ids.
* start: Camunda does not keep business keys unique, so a running instance for
  the key is looked up first; starts for one key are serialised inside this
  process, and a duplicate created by a racing process is deleted again. A start
  whose answer was lost is found by that lookup, not started twice.
* user tasks: by the key's running instance; candidate groups and users from the
  task's identity links (Camunda resolves expressions such as ``${requester}``),
  forms and names from the deployed XML read by the shared BPMN reader (cached by
  definition id: a deployed definition never changes). Completing claims the task
  for ``completed_by`` (Camunda's claim is atomic: of two concurrent completions
  one claim fails) and completes it with typed variables; a claim is given back
  when the completion is refused. A task the process assigned to someone
  (``camunda:assignee``) is reassigned to ``completed_by`` instead, since the
  service has already decided that this user may complete it; so is a claim older
  than ``stale_claim_s`` (left by a completion whose engine stopped answering
  before the claim could be given back). The loser of two concurrent completions
  gets ``ConcurrencyConflict`` (claimed by the other, optimistic locking) or
  ``TaskNotFound`` (completed already). A condition reading a variable the
  completion did not give is ``ValidationError`` with Camunda's message.
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
* instance view: from the history service (the instance may have ended):
  history process instance, activity instances (sorted by ``occurrence``; the
  end event reached is the last finished end event of the process scope),
  variable instances, open incidents, and completed tasks from ``/history/task``.
* scope: ``process_keys`` (optional) limits what the adapter sees — instances,
  tasks, fetched external tasks — to those processes, so test runs or PFlow
  installations sharing one Camunda never take each other's work.
* credentials: ``auth`` (user, password) goes with every request as HTTP basic
  authentication; the engine must run with REST authentication on. A refusal
  (401/403) is ``EngineAccessDenied``, never retried (client.py). ``check`` asks
  ``GET /version``, which needs them, not ``GET /engine``, which Camunda's
  authentication filter leaves open.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from pflow.adapters.bpmn.reader import (
    BpmnReadError,
    ProcessDefinitionInfo,
    parse,
    pass_business_key_down,
    read_processes,
    split_names,
)
from pflow.domain.errors import ConcurrencyConflict, EngineUnavailable, NotFound, ValidationError
from pflow.ports.process import (
    CompletedTask,
    Deployment,
    DeploymentRejected,
    ExternalTask,
    ExternalTasks,
    InstanceProgress,
    InstanceState,
    InstanceView,
    ProcessEngine,
    ProcessInstance,
    ProcessModel,
    TaskLockedByOtherWorker,
    TaskNotFound,
    UserTask,
)

from .assignment import CamundaTaskAssignment
from .client import ENGINE_NAME, CamundaClient, CamundaHttpError
from .variables import format_date, from_typed_map, parse_date, to_typed_map

log = logging.getLogger(__name__)

T = TypeVar("T")

DEPLOYMENT_SOURCE = "pflow"
MAX_ASYNC_RESPONSE_MS = 1_800_000  # Camunda refuses longer long polls
POLL_MARGIN_S = 5.0  # read timeout beyond the long poll, so Camunda always answers first
#: Camunda's words (500) for a condition or expression that fails on the instance's variables (one it does
#: not have, text where a number or a boolean result is needed): the caller sent unfit variables
UNRESOLVED_MARKERS = ("Unknown property used in expression", "Cannot resolve identifier",
                      "condition expression returns", "Error while evaluating expression")

_DEPLOY_LOCK = threading.Lock()

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


def _definition_key(definition_id: str) -> str:
    """Camunda's definition ids read ``key:version:uuid`` (only a uuid when the key is very long)."""
    return definition_id.split(":", 1)[0] if definition_id.count(":") >= 2 else ""


def _ordered(names: Iterable[str], written: str | None) -> tuple[str, ...]:
    """Candidates in the order the BPMN lists them (Camunda's identity links come in no stable order);
    names from an expression follow, sorted."""
    found = set(names)
    listed = [n for n in split_names(written) if n in found]
    return tuple(dict.fromkeys(listed + sorted(found - set(listed))))


def _same_content(deployed: str, content: bytes) -> bool:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return deployed.lstrip("\ufeff") == text


class CamundaWorkflowEngine(CamundaTaskAssignment, ProcessEngine, ExternalTasks):
    name = ENGINE_NAME

    def __init__(self, base_url: str, process_keys: Sequence[str] | str | None = None, *, timeout_s: float = 10.0,
                 max_poll_ms: int = 2_000, report_attempts: int = 3, retry_pause_s: float = 0.2,
                 stale_claim_s: float = 60.0, client: CamundaClient | None = None,
                 auth: tuple[str, str] | None = None, flavour: str = "camunda", pool_size: int = 20) -> None:
        if max_poll_ms < 1:
            raise ValueError("max_poll_ms must be at least 1")
        if isinstance(process_keys, str):
            process_keys = [k.strip() for k in process_keys.split(",") if k.strip()]
        #: when set, the only processes this adapter sees (instances, tasks, external tasks)
        self.process_keys: tuple[str, ...] | None = tuple(process_keys) if process_keys else None
        self.max_poll_ms = min(max_poll_ms, MAX_ASYNC_RESPONSE_MS)
        self.report_attempts = max(1, report_attempts)
        self.retry_pause_s = retry_pause_s
        self.stale_claim_s = stale_claim_s
        self._client = client or CamundaClient(base_url, timeout_s=timeout_s, auth=auth, flavour=flavour,
                                               pool_size=pool_size)
        #: "Camunda" or "Operaton" (the same REST API): how errors and health checks name the engine
        self.name = self._client.engine_name
        self.timeout_s = self._client.timeout_s
        # Deployed definitions never change: their XML and what the reader makes of it are cached by id.
        self._xml_by_definition: dict[str, str] = {}
        self._info_by_definition: dict[str, ProcessDefinitionInfo] = {}
        self._cache_lock = threading.Lock()
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

    def _in_scope(self, process_key: str | None) -> bool:
        return self.process_keys is None or process_key in self.process_keys

    def _scope_filter(self) -> dict[str, Any]:
        return {"processDefinitionKeyIn": ",".join(self.process_keys)} if self.process_keys else {}

    def _running_instances(self, business_key: str) -> list[dict[str, Any]]:
        # Root instances only: a called process runs under its caller's business key too (passed down).
        found = self._client.get("/process-instance", businessKey=business_key, rootProcessInstances="true",
                                 **self._scope_filter()) or []
        # Never trust a filter the engine might ignore: unknown query parameters are ignored by Camunda.
        return [i for i in found if i.get("businessKey") == business_key
                and self._in_scope(i.get("definitionKey") or _definition_key(i.get("definitionId") or ""))]

    def _latest_history(self, business_key: str, **filters: Any) -> list[dict[str, Any]]:
        found = self._client.get("/history/process-instance", processInstanceBusinessKey=business_key,
                                 rootProcessInstances="true", sortBy="startTime", sortOrder="desc",
                                 **self._scope_filter(), **filters) or []
        return [h for h in found if h.get("businessKey") == business_key and self._in_scope(
            h.get("processDefinitionKey"))]

    def _current_instance(self, business_key: str) -> dict[str, Any] | None:
        """The key's running instance; the earliest started if a race left two (the one ``start`` keeps)."""
        running = self._running_instances(business_key)
        if len(running) <= 1:
            return running[0] if running else None
        history = self._latest_history(business_key, unfinished=True)
        order = {h["id"]: (h.get("startTime") or "", h["id"]) for h in history}
        return min(running, key=lambda i: order.get(i["id"], ("~", i["id"])))

    def _start_lock(self, business_key: str) -> threading.Lock:
        return self._start_locks[zlib.crc32(business_key.encode()) % len(self._start_locks)]

    def _tree(self, instance_id: str, definition_id: str, *, history: bool = False) -> list[str]:
        """The instance and the instances its call activities started, at any depth (only the instance
        itself when its process calls nothing). ``history``: ended ones too."""
        try:
            calls = self._info(definition_id).calls
        except (NotFound, ValidationError):
            calls = False
        if not calls:
            return [instance_id]
        ids, frontier = [instance_id], [instance_id]
        while frontier:
            parent = frontier.pop()
            if history:
                children = self._client.get("/history/process-instance", superProcessInstanceId=parent) or []
            else:
                children = self._client.get("/process-instance", superProcessInstance=parent) or []
            for child in children:
                if child.get("id") and child["id"] not in ids:
                    ids.append(child["id"])
                    frontier.append(child["id"])
        return ids

    def _open_task_dtos(self, instance: dict[str, Any]) -> list[dict[str, Any]]:
        ids = self._tree(instance["id"], instance.get("definitionId") or instance.get("processDefinitionId") or "")
        if len(ids) == 1:
            return self._client.get("/task", processInstanceId=ids[0], sortBy="created", sortOrder="asc") or []
        dtos = self._client.get("/task", processInstanceIdIn=",".join(ids), sortBy="created", sortOrder="asc") or []
        return [d for d in dtos if d.get("processInstanceId") in ids]  # never trust a filter Camunda might ignore

    def _xml(self, definition_id: str) -> str:
        with self._cache_lock:
            cached = self._xml_by_definition.get(definition_id)
        if cached is not None:
            return cached
        try:
            answer = self._client.get(f"/process-definition/{definition_id}/xml")
        except CamundaHttpError as exc:
            if exc.status == 404:
                raise NotFound(f"no process definition {definition_id!r} is deployed on {self.name}") from None
            raise
        with self._cache_lock:
            self._xml_by_definition[definition_id] = answer["bpmn20Xml"]
        return answer["bpmn20Xml"]

    def _info(self, definition_id: str) -> ProcessDefinitionInfo:
        """What the shared reader reads from a deployed definition (its own process of the file)."""
        with self._cache_lock:
            cached = self._info_by_definition.get(definition_id)
        if cached is not None:
            return cached
        xml = self._xml(definition_id)
        try:
            processes = read_processes(xml, f"process definition {definition_id}")
        except BpmnReadError as exc:
            raise ValidationError(str(exc)) from None
        key = _definition_key(definition_id)
        if key not in processes:
            # A very long key makes Camunda drop it from the id: ask for the definition's key.
            key = (self._client.get(f"/process-definition/{definition_id}") or {}).get("key") or ""
        if key not in processes:
            raise NotFound(f"process definition {definition_id!r} has no executable process {key!r}")
        info = processes[key]
        with self._cache_lock:
            self._info_by_definition[definition_id] = info
        return info

    def _names(self, definition_id: str | None) -> dict[str, str]:
        """Activity names of a definition; empty when they cannot be read now (names are for display:
        tasks a fetch has just locked must still reach the worker)."""
        if not definition_id:
            return {}
        try:
            return self._info(definition_id).names
        except (NotFound, ValidationError, CamundaHttpError, EngineUnavailable) as exc:
            log.debug("no activity names for %s: %s", definition_id, exc)
            return {}

    def _external_task(self, dto: dict[str, Any]) -> ExternalTask:
        activity_id = dto.get("activityId") or ""
        return ExternalTask(
            id=dto["id"], topic=dto.get("topicName") or "", business_key=dto.get("businessKey") or "",
            process_instance_id=dto.get("processInstanceId") or "", activity_id=activity_id,
            worker_id=dto.get("workerId"), lock_expires_at=parse_date(dto.get("lockExpirationTime")),
            retries=dto.get("retries"), error_message=dto.get("errorMessage"),
            variables=from_typed_map(dto.get("variables")),
            activity_name=self._names(dto.get("processDefinitionId")).get(activity_id, activity_id))

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

    # ------------------------------------------------------------- deployment

    def deploy(self, bpmn_path: Path | str) -> list[Deployment]:
        with _DEPLOY_LOCK:  # in-process racers see each other's deployment; other processes: _undo_duplicate
            return self._deploy(Path(bpmn_path))

    def _deploy(self, path: Path) -> list[Deployment]:
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise DeploymentRejected(f"{path}: the BPMN file does not exist") from None
        except OSError as exc:
            raise DeploymentRejected(f"{path}: cannot read the BPMN file ({exc.strerror})") from None
        name = path.name if path.name.endswith((".bpmn", ".bpmn20.xml")) else path.name + ".bpmn"
        try:
            content = pass_business_key_down(content, name)
        except BpmnReadError:
            pass  # Camunda's parser names what is wrong with the file
        keys = self._process_keys_of(content, name)
        known = {key: self._deployed_with_content(key, content) for key in keys}
        if keys and all(known.values()):
            for key, definition in known.items():
                latest = self._latest_definition(key)
                if latest and latest["id"] != definition["id"] and not _same_content(self._xml(latest["id"]), content):
                    log.warning("%s: process %s has this content as version %s; the newer version %s stays the "
                                "latest (deploying an older file never rolls a process back — change the file to "
                                "deploy it again)", name, key, definition.get("version"), latest.get("version"))
            return [Deployment(deployment_id=d["deploymentId"], process_key=key, definition_id=d["id"],
                               version=int(d.get("version") or 0), created=False) for key, d in known.items()]
        form = {"deployment-name": f"pflow-{'+'.join(keys) or path.stem}", "deployment-source": DEPLOYMENT_SOURCE,
                "deploy-changed-only": "true", "enable-duplicate-filtering": "true"}
        try:
            result = self._client.request("POST", "/deployment/create", data=form,
                                          files={"data": (name, content, "application/octet-stream")})
        except CamundaHttpError as exc:
            raise self._deployment_rejected(exc, name) from None
        deployment_id = result["id"]
        new = {d.get("key"): d for d in (result.get("deployedProcessDefinitions") or {}).values()}
        if new and self._undo_duplicate(deployment_id, new, content, name):
            new = {}
        deployments: list[Deployment] = []
        for key in keys or sorted(k for k in new if k):
            definition = new.get(key)
            created = definition is not None
            if definition is None:
                # Another process deployed the same file a moment ago: Camunda answers with that deployment
                # (or ours was that duplicate and is gone again: then the content's earlier version).
                definition = self._deployed_with_content(key, content)
            if definition is None:
                raise DeploymentRejected(f"{name}: {self.name} deployed it (deployment {deployment_id}) but has no "
                                         f"process definition {key!r} for it",
                                         details={"bpmn_file": [f"process {key!r} was not deployed"]})
            with self._cache_lock:
                self._xml_by_definition.setdefault(definition["id"], content.decode("utf-8-sig"))
            log.info("deployed %s to %s: process %s, definition %s (version %s%s)", name, self.name, key,
                     definition["id"], definition.get("version"), "" if created else ", unchanged")
            deployments.append(Deployment(deployment_id=definition.get("deploymentId") or deployment_id,
                                          process_key=key, definition_id=definition["id"],
                                          version=int(definition.get("version") or 0), created=created))
        return deployments

    @staticmethod
    def _process_keys_of(content: bytes, name: str) -> list[str]:
        """The executable processes of the file, read by the shared reader, so Camunda never stores a
        deployment PFlow cannot use. Malformed XML is left to Camunda, whose message says where
        (an empty list: nothing known before Camunda answers)."""
        try:
            parse(content, name)
        except BpmnReadError:
            return []
        try:
            processes = read_processes(content, name)
        except BpmnReadError as exc:
            raise DeploymentRejected(str(exc), details={"bpmn_file": [str(exc)]}) from None
        if not processes:
            raise DeploymentRejected(f"{name}: no executable process (a bpmn:process with isExecutable=\"true\")",
                                     details={"bpmn_file": ["no executable process"]})
        return sorted(processes)

    def _undo_duplicate(self, deployment_id: str, new: dict[str, dict[str, Any]], content: bytes, name: str) -> bool:
        """Camunda's duplicate filtering is not safe against two processes deploying the same new file
        at the same moment (measured on 7.24: both deploy, as consecutive versions or even both as the
        same version). Of the definitions with this content, the first by (version, id) stays; a later
        one removes its deployment again. Returns whether ours was removed."""
        for key, definition in new.items():
            mine = (int(definition.get("version") or 0), definition["id"])
            versions = self._client.get("/process-definition", key=key, sortBy="version", sortOrder="desc",
                                        maxResults=10) or []
            if not any((int(d.get("version") or 0), d["id"]) < mine and d.get("key") == key
                       and mine[0] - int(d.get("version") or 0) <= 1 and self._has_content(d, content)
                       for d in versions):
                return False
        try:
            self._client.delete(f"/deployment/{deployment_id}")  # no cascade: kept if an instance already runs on it
        except CamundaHttpError as exc:
            log.warning("%s was deployed twice at once (deployment %s) and the duplicate could not be removed: %s",
                        name, deployment_id, exc.message)
            return False
        log.info("%s was deployed twice at once; removed the duplicate deployment %s", name, deployment_id)
        return True

    def _has_content(self, definition: dict[str, Any], content: bytes) -> bool:
        try:
            return _same_content(self._xml(definition["id"]), content)
        except (NotFound, CamundaHttpError):  # a duplicate being removed meanwhile (Camunda answers 404 or 500)
            return False

    def _latest_definition(self, key: str) -> dict[str, Any] | None:
        try:
            return self._client.get(f"/process-definition/key/{key}")
        except CamundaHttpError as exc:
            if exc.status == 404:
                return None
            raise

    def _deployed_with_content(self, key: str, content: bytes) -> dict[str, Any] | None:
        """The deployed version of ``key`` whose XML is ``content``, or None. Of a run of equal versions
        (two processes deployed the file at once; ``_undo_duplicate`` removes the later), the first."""
        versions = [d for d in self._client.get("/process-definition", key=key, sortBy="version",
                                                sortOrder="desc") or [] if d.get("key") == key]
        # Newest first; within one version (a deploy race, see _undo_duplicate) the survivor comes last.
        versions.sort(key=lambda d: (int(d.get("version") or 0), d["id"]), reverse=True)

        for i, definition in enumerate(versions):
            if self._has_content(definition, content):
                while i + 1 < len(versions) and self._has_content(versions[i + 1], content):
                    i += 1
                return versions[i]
        return None

    def _deployment_rejected(self, error: CamundaHttpError, name: str) -> DeploymentRejected:
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
        return DeploymentRejected(f"{self.name} refused {name}: {summary}",
                                  details={"bpmn_file": problems or [error.message]})

    @_bounded
    def latest_definition_id(self, process_key: str) -> str:
        latest = self._latest_definition(process_key)
        if latest is None:
            raise NotFound(f"process {process_key!r} is not deployed on {self.name}")
        return latest["id"]

    @_bounded
    def definition_xml(self, definition_id: str) -> str:
        return self._xml(definition_id)

    @_bounded
    def model(self, definition_id: str) -> ProcessModel:
        info = self._info(definition_id)
        return ProcessModel(process_key=info.key, properties=dict(info.properties), outcomes=dict(info.outcomes),
                            topics=tuple(sorted(set(info.topics.values()))), candidate_groups=info.candidate_groups,
                            task_properties={t.id: dict(t.properties) for t in info.user_tasks.values()})

    # ---------------------------------------------------------------- instances

    @_bounded
    def start(self, process_key: str, business_key: str, variables: dict[str, Any]) -> ProcessInstance:
        if not self._in_scope(process_key):
            raise NotFound(f"process {process_key!r} is outside this adapter's processes "
                           f"({', '.join(self.process_keys or ())})")
        typed = to_typed_map(variables)
        with self._start_lock(business_key):
            running = self._current_instance(business_key)
            if running:
                return self._instance(running, business_key, created=False)
            try:
                started = self._client.post(f"/process-definition/key/{process_key}/start",
                                            {"businessKey": business_key, "variables": typed})
            except EngineUnavailable:
                # The answer may be lost after Camunda started the instance: look once more.
                try:
                    running = self._current_instance(business_key)
                except EngineUnavailable:
                    running = None
                if running:
                    return self._instance(running, business_key, created=True)
                raise
            except CamundaHttpError as exc:
                if exc.status == 404:
                    raise NotFound(f"process {process_key!r} is not deployed on {self.name}: {exc.message}") from None
                if exc.status == 400:
                    raise ValidationError(f"{self.name} refused to start {process_key!r}: {exc.message}") from None
                raise
            return self._keep_one(business_key, started)

    @staticmethod
    def _instance(dto: dict[str, Any], business_key: str, *, created: bool) -> ProcessInstance:
        definition_id = dto.get("definitionId") or ""
        return ProcessInstance(id=dto["id"], business_key=business_key,
                               process_key=dto.get("definitionKey") or _definition_key(definition_id),
                               definition_id=definition_id, created=created)

    def _keep_one(self, business_key: str, started: dict[str, Any]) -> ProcessInstance:
        """Another process may have started the same key at the same moment: keep the earliest."""
        mine = started["id"]
        survivor = self._current_instance(business_key)
        if survivor is None or survivor["id"] == mine:
            return self._instance(started, business_key, created=True)
        log.warning("business key %s was started twice at once; deleting the duplicate instance %s", business_key,
                    mine)
        try:
            self._client.delete(f"/process-instance/{mine}", skipCustomListeners=True)
        except CamundaHttpError:
            pass
        return self._instance(survivor, business_key, created=False)

    @_bounded
    def cancel(self, business_key: str, reason: str) -> bool:
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
    def instance(self, business_key: str) -> InstanceView | None:
        found = self._latest_history(business_key, maxResults=1)
        return self._view(business_key, found[0]) if found else None

    @_bounded
    def progress(self, business_key: str, *, history: bool = False) -> InstanceProgress | None:
        # A running instance in three requests plus one per open user task (its candidates), instead of
        # the nine of instance + open_tasks + automated_steps: activities and variables only when needed.
        found = self._latest_history(business_key, maxResults=1)
        if not found:
            return None
        instance = found[0]
        instance_id = instance["id"]
        if _STATES.get(instance.get("state") or "", InstanceState.ACTIVE) != InstanceState.ACTIVE:
            view = self._view(business_key, instance, variables=history)  # ended: which end event it reached
            return InstanceProgress(
                instance_id=instance_id, definition_id=view.definition_id, state=view.state,
                end_activity_id=view.end_activity_id, started_at=view.started_at,
                completed=tuple(self._completed(instance_id, view.definition_id)) if history else None,
                variables=dict(view.variables) if history else None)
        scope = {"id": instance_id, "definitionId": instance["processDefinitionId"],
                 "definitionKey": instance.get("processDefinitionKey")}
        dtos = self._open_task_dtos(scope)
        tasks = tuple(task for task in (self._user_task(dto, business_key, scope) for dto in dtos) if task is not None)
        automated = tuple(self._automated(instance_id, instance["processDefinitionId"]))
        return InstanceProgress(
            instance_id=instance_id, definition_id=instance["processDefinitionId"],
            state=InstanceState.INCIDENT if any(a.retries == 0 for a in automated) else InstanceState.ACTIVE,
            tasks=tasks, automated=automated, started_at=parse_date(instance.get("startTime")),
            completed=tuple(self._completed(instance_id, instance["processDefinitionId"])) if history else None,
            variables=self._variables(instance_id) if history else None)

    def _variables(self, instance_id: str) -> dict[str, Any]:
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
        return variables

    def _view(self, business_key: str, instance: dict[str, Any], *, variables: bool = True) -> InstanceView:
        instance_id = instance["id"]
        definition_id = instance["processDefinitionId"]
        activities = self._client.get("/history/activity-instance", processInstanceId=instance_id,
                                      sortBy="occurrence", sortOrder="asc") or []
        active = tuple(a["activityId"] for a in activities if a.get("endTime") is None)
        completed = tuple(a["activityId"] for a in activities if a.get("endTime") is not None and not a.get("canceled"))
        ends = [a for a in activities if (a.get("activityType") or "").endswith("EndEvent")
                and a.get("endTime") is not None and not a.get("canceled")
                and a.get("parentActivityInstanceId") == instance_id]
        values = self._variables(instance_id) if variables else {}
        state = _STATES.get(instance.get("state") or "", InstanceState.ACTIVE)
        end_activity_id = ends[-1]["activityId"] if ends else None
        if state == InstanceState.TERMINATED and instance.get("state") == "INTERNALLY_TERMINATED" and ends \
                and (ends[-1].get("activityType") == "terminateEndEvent"):
            state = InstanceState.COMPLETED  # a terminate end event reached: the process decided, nobody cancelled
        if state != InstanceState.COMPLETED:
            end_activity_id = None
        incidents: tuple[str, ...] = ()
        if state == InstanceState.ACTIVE:
            open_incidents = [i for member in self._tree(instance_id, definition_id)
                              for i in self._client.get("/incident", processInstanceId=member) or []]
            incidents = tuple(dict.fromkeys(i.get("activityId") or "" for i in open_incidents))
            if incidents:
                state = InstanceState.INCIDENT
        names = dict(self._names(definition_id))
        for a in activities:
            if a.get("activityId") and a["activityId"] not in names:
                names[a["activityId"]] = a.get("activityName") or a["activityId"]
        return InstanceView(instance_id=instance_id, business_key=business_key,
                            process_key=instance.get("processDefinitionKey") or _definition_key(definition_id),
                            definition_id=definition_id, state=state, active_activity_ids=active,
                            completed_activity_ids=completed, variables=values, incidents=incidents,
                            end_activity_id=end_activity_id, activity_names=names,
                            started_at=parse_date(instance.get("startTime")))

    @_bounded
    def completed_tasks(self, business_key: str) -> list[CompletedTask]:
        found = self._latest_history(business_key, maxResults=1)
        return self._completed(found[0]["id"], found[0].get("processDefinitionId") or "") if found else []

    def _completed(self, instance_id: str, definition_id: str) -> list[CompletedTask]:
        tasks = []
        for member in self._tree(instance_id, definition_id, history=True):
            tasks += self._client.get("/history/task", processInstanceId=member, finished=True,
                                      sortBy="endTime", sortOrder="asc") or []
        tasks.sort(key=lambda t: t.get("endTime") or "")
        return [CompletedTask(id=t["id"], definition_key=t.get("taskDefinitionKey") or "", name=t.get("name") or "",
                              completed_by=t.get("assignee"), completed_at=parse_date(t.get("endTime")))
                for t in tasks if t.get("deleteReason") == "completed"]

    # ---------------------------------------------------------------- user tasks

    @_bounded
    def open_tasks(self, business_key: str) -> list[UserTask]:
        instance = self._current_instance(business_key)
        if instance is None:
            return []
        dtos = self._open_task_dtos(instance)
        tasks = []
        for dto in dtos:
            task = self._user_task(dto, business_key, instance)
            if task is not None:
                tasks.append(task)
        return tasks

    @_bounded
    def task(self, task_id: str) -> UserTask:
        try:
            dto = self._client.get(f"/task/{task_id}")
        except CamundaHttpError as exc:
            if _is_task_missing(exc):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            raise
        try:
            instance = self._client.get(f"/process-instance/{dto['processInstanceId']}")
        except CamundaHttpError as exc:
            if exc.status == 404:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            raise
        if not self._in_scope(instance.get("definitionKey") or _definition_key(instance.get("definitionId") or "")):
            raise TaskNotFound(f"user task {task_id} does not exist or is completed")
        task = self._user_task(dto, instance.get("businessKey") or "", instance)
        if task is None:
            raise TaskNotFound(f"user task {task_id} does not exist or is completed")
        return task

    def _user_task(self, dto: dict[str, Any], business_key: str, instance: dict[str, Any]) -> UserTask | None:
        """The task with its candidates and form; None when it was completed meanwhile."""
        try:
            links = self._client.get(f"/task/{dto['id']}/identity-links", type="candidate") or []
        except CamundaHttpError as exc:
            if _is_task_missing(exc):
                return None
            raise
        definition_id = dto.get("processDefinitionId") or instance.get("definitionId") or ""
        try:
            info = self._info(definition_id).user_tasks.get(dto.get("taskDefinitionKey") or "")
        except (NotFound, ValidationError):
            info = None
        return UserTask(
            id=dto["id"], definition_key=dto.get("taskDefinitionKey") or "",
            name=dto.get("name") or (info.name if info else "") or dto.get("taskDefinitionKey") or "",
            business_key=business_key, process_instance_id=dto.get("processInstanceId") or instance["id"],
            process_key=instance.get("definitionKey") or _definition_key(definition_id),
            candidate_groups=_ordered((link["groupId"] for link in links if link.get("groupId")),
                                      info.candidate_groups if info else None),
            candidate_users=_ordered((link["userId"] for link in links if link.get("userId")),
                                     info.candidate_users if info else None),
            assignee=dto.get("assignee"), due=parse_date(dto.get("due")), created_at=parse_date(dto.get("created")),
            form=info.form if info else ())

    #: what PUT /task/{id} takes: every field it is given replaces the task's, and one left out is cleared
    _TASK_FIELDS = ("name", "description", "assignee", "owner", "delegationState", "due", "followUp", "priority",
                    "parentTaskId", "caseInstanceId", "tenantId")

    @_bounded
    def set_due(self, task_id: str, due: datetime) -> None:
        # PUT /task/{id} replaces the whole task (a field left out is cleared): read it first and send every
        # field back as it is, with the new due time.
        try:
            dto = self._client.get(f"/task/{task_id}")
            key = _definition_key(dto.get("processDefinitionId") or "")
            if key and not self._in_scope(key):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
            body = {name: dto.get(name) for name in self._TASK_FIELDS}
            body["due"] = format_date(due)
            self._client.put(f"/task/{task_id}", body)
        except CamundaHttpError as exc:
            if _is_task_missing(exc):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            raise

    @_bounded
    def complete_task(self, task_id: str, variables: dict[str, Any], *, completed_by: str) -> None:
        if not completed_by:
            raise ValueError("complete_task needs completed_by")
        typed = to_typed_map(variables)
        claimed = False
        try:
            dto = self._client.get(f"/task/{task_id}")
            assignee = dto.get("assignee")
            if assignee is None:
                # Atomic in Camunda: of two concurrent completions, one claim fails (the other's is kept).
                self._client.post(f"/task/{task_id}/claim", {"userId": completed_by})
                claimed = True
            elif assignee != completed_by:
                if not self._assigned_by_process(dto) and not self._claim_is_stale(task_id):
                    raise ConcurrencyConflict(f"user task {task_id} is being completed by {assignee}")
                # The process assigned it, or a completion that failed left its claim behind: the service
                # has decided that completed_by may complete it.
                self._client.post(f"/task/{task_id}/assignee", {"userId": completed_by})
            self._client.post(f"/task/{task_id}/complete", {"variables": typed})
        except CamundaHttpError as exc:
            if claimed and not _is_task_missing(exc):
                self._unclaim(task_id)
            if exc.is_conflict or exc.type == "TaskAlreadyClaimedException" or "already claimed" in exc.message:
                raise ConcurrencyConflict(f"user task {task_id} was completed concurrently") from None
            if _is_task_missing(exc):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            if exc.status == 400 or (exc.status == 500 and any(m in exc.message for m in UNRESOLVED_MARKERS)):
                # Bad variables, or a condition reading a variable the completion did not give.
                raise ValidationError(f"{self.name} refused to complete user task {task_id}: {exc.message}") from None
            if exc.status >= 500 and not self._user_task_exists(task_id):
                # Camunda 7.24 fails with a 500 (ENGINE-03051 in a task listener) when another request
                # completes the task while this one sets its assignee: the other request won.
                raise TaskNotFound(f"user task {task_id} was completed by another request") from None
            raise
        except EngineUnavailable:
            if claimed:
                self._unclaim(task_id)
            raise

    def _user_task_exists(self, task_id: str) -> bool:
        try:
            self._client.get(f"/task/{task_id}")
            return True
        except CamundaHttpError as exc:
            if _is_task_missing(exc) or exc.status == 404:
                return False
            raise

    def _assigned_by_process(self, dto: dict[str, Any]) -> bool:
        try:
            info = self._info(dto.get("processDefinitionId") or "").user_tasks.get(dto.get("taskDefinitionKey") or "")
        except (NotFound, ValidationError):
            return False
        return bool(info and info.assignee)

    def _claim_is_stale(self, task_id: str) -> bool:
        """Was the task's assignee set longer ago than ``stale_claim_s``? Then it is a claim a failed
        completion could not give back (the engine stopped answering), not one on its way."""
        log_entries = self._client.get("/history/identity-link-log", taskId=task_id, type="assignee",
                                       sortBy="time", sortOrder="desc", maxResults=1) or []
        when = parse_date(log_entries[0].get("time")) if log_entries else None
        if when is None:
            return False
        return (datetime.now(timezone.utc) - when).total_seconds() > self.stale_claim_s

    def _unclaim(self, task_id: str) -> None:
        """Give back a claim whose completion failed, so other candidates can act (best effort)."""
        try:
            self._client.post(f"/task/{task_id}/unclaim")
        except (CamundaHttpError, EngineUnavailable) as exc:
            log.warning("could not give back the claim of user task %s after a failed completion (%s)", task_id, exc)

    # ---------------------------------------------------------------- external tasks, service side

    @_bounded
    def automated_steps(self, business_key: str) -> list[ExternalTask]:
        # GET /external-task has no business-key filter (unknown parameters are ignored!): go by instance.
        instance = self._current_instance(business_key)
        return self._automated(instance["id"], instance.get("definitionId") or "") if instance is not None else []

    def _automated(self, instance_id: str, definition_id: str) -> list[ExternalTask]:
        tasks: list[ExternalTask] = []
        dtos = []
        for member in self._tree(instance_id, definition_id):
            dtos += self._client.get("/external-task", processInstanceId=member) or []
        for dto in dtos:
            task = self._external_task(dto)
            if task.lock_expires_at is not None and task.lock_expires_at <= datetime.now(timezone.utc):
                task = ExternalTask(**{**task.__dict__, "worker_id": None, "lock_expires_at": None})
            tasks.append(task)
        return tasks

    @_bounded
    def external_task(self, task_id: str) -> ExternalTask:
        try:
            task = self._external_task(self._client.get(f"/external-task/{task_id}"))
        except CamundaHttpError as exc:
            if exc.status == 404 or _is_task_missing(exc):
                raise TaskNotFound(f"external task {task_id} does not exist or is completed") from None
            raise
        if task.lock_expires_at is not None and task.lock_expires_at <= datetime.now(timezone.utc):
            task = ExternalTask(**{**task.__dict__, "worker_id": None, "lock_expires_at": None})
        return task

    @_bounded
    def retry_step(self, task_id: str, retries: int) -> None:
        try:
            self._client.put(f"/external-task/{task_id}/retries", {"retries": retries})
        except CamundaHttpError as exc:
            if exc.status == 404 or _is_task_missing(exc):
                raise TaskNotFound(f"external task {task_id} does not exist or is completed") from None
            raise

    # ---------------------------------------------------------------- external tasks, worker side

    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        if not worker_id:
            raise ValueError("fetch_and_lock needs a worker id")
        if max_tasks < 1 or lock_duration_ms < 1 or not topics:
            raise ValueError("fetch_and_lock needs max_tasks >= 1, lock_duration_ms >= 1 and at least one topic")
        topic_filter: dict[str, Any] = {"lockDuration": lock_duration_ms}
        if self.process_keys:
            topic_filter["processDefinitionKeyIn"] = list(self.process_keys)
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
                self._give_back(tasks)
                return []
            if tasks or time.monotonic() >= deadline:
                return tasks

    def _give_back(self, tasks: list[ExternalTask]) -> None:
        """Give back tasks locked by a poll that was interrupted meanwhile, so nobody waits for their lock."""
        for task in tasks:
            try:
                self._client.post(f"/external-task/{task.id}/unlock")
            except (CamundaHttpError, EngineUnavailable) as exc:
                log.warning("could not unlock external task %s after an interrupted poll (%s); "
                            "it is fetchable again when its lock expires", task.id, exc)

    @_bounded
    def complete(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        body = {"workerId": worker_id, "variables": to_typed_map(variables)}
        self._end_external(task_id, worker_id, "complete", body, f"completing external task {task_id}",
                           lambda: self._completed_by(task_id, worker_id), "it did complete")

    def _end_external(self, task_id: str, worker_id: str, action: str, body: dict[str, Any], what: str,
                      happened: Callable[[], bool], outcome: str) -> None:
        """POST an outcome that ends the task, retried while Camunda does not answer; a 404 to a repeat
        whose first try's answer was lost is that first try having landed, when ``happened`` says so."""
        attempts = 0

        def post() -> None:
            nonlocal attempts
            attempts += 1
            self._client.post(f"/external-task/{task_id}/{action}", body)

        try:
            self._retrying(post, what)
        except CamundaHttpError as exc:
            if exc.status == 404 and attempts > 1 and happened():
                log.info("external task %s: the answer to the first try was lost; %s", task_id, outcome)
                return
            raise self._map_external_task_error(exc, task_id, worker_id) from None

    def _completed_by(self, task_id: str, worker_id: str) -> bool:
        """Did ``worker_id`` complete the task? (Camunda's external-task log, history level full.)"""
        entries = self._client.get("/history/external-task-log", externalTaskId=task_id, successLog=True) or []
        return any(entry.get("workerId") == worker_id for entry in entries)

    @_bounded
    def fail(self, task_id: str, worker_id: str, error_message: str, *, retries: int, retry_timeout_ms: int,
             error_details: str | None = None) -> None:
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
    def bpmn_error(self, task_id: str, worker_id: str, error_code: str, *, error_message: str | None = None,
                   variables: dict[str, Any] | None = None) -> None:
        body: dict[str, Any] = {"workerId": worker_id, "errorCode": error_code,
                                "variables": to_typed_map(variables or {})}
        if error_message is not None:
            body["errorMessage"] = error_message
        # Camunda logs no BPMN error as a success: a 404 to a repeat means the task has ended, which is
        # what the first report did unless something else (a boundary timer) ended it at that moment.
        self._end_external(task_id, worker_id, "bpmnError", body,
                           f"reporting a BPMN error of external task {task_id}", lambda: True, "the task has ended")

    @_bounded
    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        body = {"workerId": worker_id, "newDuration": new_duration_ms}
        try:
            self._retrying(lambda: self._client.post(f"/external-task/{task_id}/extendLock", body),
                           f"extending the lock of external task {task_id}")
        except CamundaHttpError as exc:
            raise self._map_external_task_error(exc, task_id, worker_id) from None

    @_bounded
    def unlock(self, task_id: str, worker_id: str) -> None:
        # Camunda's unlock does not check who holds the lock: check first, so a worker never frees another's.
        try:
            dto = self._client.get(f"/external-task/{task_id}")
            holder = dto.get("workerId")
            expires = parse_date(dto.get("lockExpirationTime"))
            if holder != worker_id or expires is None or expires <= datetime.now(timezone.utc):
                raise TaskLockedByOtherWorker(f"external task {task_id} is not locked by worker {worker_id!r}"
                                              + (f" (locked by {holder!r})" if holder and holder != worker_id else ""))
            self._retrying(lambda: self._client.post(f"/external-task/{task_id}/unlock"),
                           f"unlocking external task {task_id}")
        except CamundaHttpError as exc:
            raise self._map_external_task_error(exc, task_id, worker_id) from None

    # ---------------------------------------------------------------- engine

    @_bounded
    def check(self) -> None:
        """Camunda answers an authenticated request (so wrong credentials are reported, as ``EngineAccessDenied``)."""
        try:
            self._client.get("/version")
        except CamundaHttpError as exc:
            raise self._client.unavailable(f"GET /version answered {exc.status}: {exc.message}") from None

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
