"""Camunda 7's external-task REST on the embedded engine, under ``/engine-rest``.

Workers written with Camunda's own clients (Java ``camunda-external-task-client``, Python
``camunda-external-task-client-python3``, JavaScript ``camunda-external-task-client-js``) run against
``pflow serve`` unchanged: the subset of Camunda 7.24's REST they call answers here with Camunda's JSON
(typed variables, Camunda's date format, Camunda's error bodies ``{"type", "message", "code"}``), over the
``ExternalTasks`` port of the embedded engine.

* Off unless ``PFLOW_ENGINE_REST_USERNAME`` and ``PFLOW_ENGINE_REST_PASSWORD`` are set (then HTTP basic
  authentication as Camunda does it: 401 with ``WWW-Authenticate: Basic realm="default"`` and no body;
  ``GET /engine-rest/engine`` is open, as on Camunda). Off, and on Camunda or Operaton (whose own server
  answers this REST), every path answers 404 saying why.
* Outside PFlow's bearer-token authentication, its CSRF check and its OpenAPI document.
* ``fetchAndLock`` long-polls up to ``asyncResponseTimeout`` ms, cut to ``PFLOW_ENGINE_REST_MAX_WAIT_MS``. A
  waiting poll holds one of waitress's ``PFLOW_HTTP_THREADS``; at most half of them wait at once, and a poll
  beyond that answers at once with what is there, so PFlow's own API keeps threads to answer with.
* Topics that ask for different lock durations or business keys are fetched in one engine call per
  (lockDuration, businessKey) group, each with its own lock duration.
* Once a task is completed, failed for good (retries 0: an incident) or ended with a BPMN error, its ticket
  follows its process at once, as after PFlow's own worker (``TicketService.after_automated_step``).
* Where the embedded engine has no such thing, answers carry Camunda's neutral value: no activity instance,
  execution, definition or tenant ids (null), priority 0, not suspended, no extension properties; a fetch
  with ``localVariables: true`` gets none (there are no task-local variables), and ``localVariables`` sent
  with a completion are not stored.
* Where Camunda answers a client's mistake with 500 (a missing ``workerId`` is its ``NullValueException``),
  this answers 400 ``InvalidRequestException`` naming the field: a 5xx here would read as PFlow's fault.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from typing import Any, Callable

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from pflow.adapters.camunda.variables import format_date, from_typed_map, to_typed_map
from pflow.config import REST_ENGINES
from pflow.domain.errors import ServiceUnavailable, ValidationError
from pflow.entrypoints.http.context import container
from pflow.ports.process import ExternalTask, TaskLockedByOtherWorker, TaskNotFound

log = logging.getLogger(__name__)

API_VERSION = "7.24.0"  # the Camunda REST API level this speaks
ENGINE_NAME = "default"
GROUP_SLICE_MS = 200  # with several topic groups, how long each waits in turn

blp = Blueprint("engine_rest", __name__, url_prefix="/engine-rest")


class CamundaError(Exception):
    """An answer in Camunda's error shape."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def invalid(message: str) -> CamundaError:
    return CamundaError(400, "InvalidRequestException", message)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None):
    response = jsonify({"type": kind, "message": message, "code": 0})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@blp.errorhandler(CamundaError)
def _camunda_error(error: CamundaError):
    return _error(error.status, error.kind, error.message)


@blp.errorhandler(Exception)
def _unexpected(error: Exception):
    if isinstance(error, HTTPException):
        status = error.code or 500
        kind = "InvalidRequestException" if status < 500 else "ProcessEngineException"
        return _error(status, kind, error.description or error.name)
    if isinstance(error, ServiceUnavailable):
        log.warning("engine REST: %s", error.message)
        return _error(503, "ProcessEngineException", error.public_message, {"Retry-After": "5"})
    if isinstance(error, ValidationError):
        return _error(400, "InvalidRequestException", error.public_message)
    log.exception("engine REST: unhandled error")
    return _error(500, "ProcessEngineException", "Something went wrong on PFlow's side; it has been logged.")


# ------------------------------------------------------------------ the gate: on, off, authentication

OFF_MESSAGE = ("The external-task REST of the embedded engine is off. Set PFLOW_ENGINE_REST_USERNAME and "
               "PFLOW_ENGINE_REST_PASSWORD (the user and password workers send with HTTP basic authentication) "
               "and restart pflow serve to turn it on; see docs/workers.md.")
SERVER_ENGINE_MESSAGE = ("PFlow runs on a Camunda or Operaton server (WORKFLOW_ENGINE={engine}): that server's own "
                         "REST API serves external tasks. Point workers at it, not at PFlow.")
OPEN_ENDPOINTS = {"engine_rest.engines"}


def _credentials_match(expected: tuple[str, str]) -> bool:
    auth = request.authorization
    if auth is None or (auth.type or "").lower() != "basic":
        return False
    user_ok = hmac.compare_digest((auth.username or "").encode(), expected[0].encode())
    password_ok = hmac.compare_digest((auth.password or "").encode(), expected[1].encode())
    return user_ok and password_ok


@blp.before_request
def _gate():
    settings = container().settings()
    if settings.workflow_engine != "embedded":
        if settings.workflow_engine in REST_ENGINES:
            return _error(404, "RestException", SERVER_ENGINE_MESSAGE.format(engine=settings.workflow_engine))
        return _error(404, "RestException", "The external-task REST runs only on the embedded engine "
                                            f"(WORKFLOW_ENGINE=embedded); this is {settings.workflow_engine}.")
    expected = settings.engine_rest_auth
    if expected is None:
        return _error(404, "RestException", OFF_MESSAGE)
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    if not _credentials_match(expected):
        return Response(status=401, headers={"WWW-Authenticate": 'Basic realm="default"'})
    return None


# ------------------------------------------------------------------ reading the body

def _body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def _string(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} is null: the request must name it")
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid(f"{name} must be a non-empty string" if required else f"{name} must be a string")
    return value


def _integer(body: dict[str, Any], name: str, default: int | None, *, minimum: int = 0,
             required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"{name} is null: the request must give it")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{name} must be a whole number, not {json.dumps(value)[:40]}")
    if value < minimum:
        raise invalid(f"{name} must be at least {minimum}, not {value}")
    return value


def _variables(body: dict[str, Any], name: str = "variables") -> dict[str, Any]:
    typed = body.get(name)
    if typed is None:
        return {}
    if not isinstance(typed, dict) or not all(isinstance(v, dict) for v in typed.values()):
        raise invalid(f"{name} must map each variable name to a typed value {{\"value\": ..., \"type\": ...}}")
    try:
        return from_typed_map(typed)
    except (TypeError, ValueError) as exc:
        raise invalid(f"{name}: {exc}") from None


def _worker_id(body: dict[str, Any]) -> str:
    return _string(body, "workerId", required=True)  # type: ignore[return-value]


def _engine():
    return container().workflow_engine()


def _no_such_task(task_id: str) -> CamundaError:
    return CamundaError(404, "RestException", f"External task with id {task_id} does not exist")


def _task(task_id: str) -> ExternalTask:
    try:
        return _engine().external_task(task_id)
    except TaskNotFound:
        raise _no_such_task(task_id) from None


def _locked_elsewhere(task_id: str, worker_id: str, what: str) -> CamundaError:
    """Camunda's 400 for a worker that does not hold the task (its wording: PFlow's own Camunda adapter reads it)."""
    try:
        holder = _engine().external_task(task_id).worker_id
    except TaskNotFound:
        return _no_such_task(task_id)
    held = f"It is locked by worker '{holder}'." if holder else "Its lock has expired or it is not locked."
    return CamundaError(400, "RestException", f"{what} of External Task {task_id} cannot be done by worker "
                                              f"'{worker_id}'. {held}")


def _report(task_id: str, worker_id: str, what: str, call: Callable[[], None]) -> None:
    try:
        call()
    except TaskNotFound:
        raise _no_such_task(task_id) from None
    except TaskLockedByOtherWorker:
        raise _locked_elsewhere(task_id, worker_id, what) from None


def _follow(task: ExternalTask, results: dict[str, Any] | None = None) -> None:
    """The ticket follows its process now, as after PFlow's own worker; if it cannot yet, reconciliation
    takes it from the engine (the outcome is recorded there already)."""
    tickets = container().tickets()
    try:
        if results is None:
            tickets.after_automated_step(task.business_key)
        else:
            tickets.after_automated_step(task.business_key, task, results)
    except ServiceUnavailable as exc:
        log.warning("external task %s: the ticket %s could not follow its process yet (%s)", task.id,
                    task.business_key, exc.message)
    except Exception:
        log.exception("external task %s: the ticket %s could not follow its process", task.id, task.business_key)


# ------------------------------------------------------------------ engine information

@blp.get("/engine")
def engines():
    return jsonify([{"name": ENGINE_NAME}])


@blp.get("/version")
def version():
    return jsonify({"version": API_VERSION})


# ------------------------------------------------------------------ fetch and lock

class _Waiting:
    """How many fetches wait at once: each holds an HTTP thread, so at most half of them may."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def enter(self, limit: int) -> bool:
        with self._lock:
            if self.count >= limit:
                return False
            self.count += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.count -= 1


_waiting = _Waiting()


def _topic_groups(body: dict[str, Any]) -> tuple[dict[tuple[int, str | None], list[str]], dict[str, dict]]:
    topics = body.get("topics")
    if topics is None:
        return {}, {}
    if not isinstance(topics, list):
        raise invalid("topics must be a list of {topicName, lockDuration, ...}")
    groups: dict[tuple[int, str | None], list[str]] = {}
    options: dict[str, dict] = {}
    for number, topic in enumerate(topics, 1):
        if not isinstance(topic, dict):
            raise invalid(f"topics[{number - 1}] must be an object with topicName and lockDuration")
        name = _string(topic, "topicName", required=True)
        lock = _integer(topic, "lockDuration", None, minimum=1, required=True)
        business_key = _string(topic, "businessKey")
        names = topic.get("variables")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise invalid(f"topics[{number - 1}].variables must be a list of variable names")
        local = topic.get("localVariables")
        if local is not None and not isinstance(local, bool):
            raise invalid(f"topics[{number - 1}].localVariables must be true or false")
        key = (lock, business_key)
        if name not in groups.setdefault(key, []):
            groups[key].append(name)
        options[f"{name}\0{business_key}"] = {"variables": names, "local": bool(local)}
    return groups, options


def _locked_dto(task: ExternalTask, worker_id: str, option: dict | None) -> dict[str, Any]:
    option = option or {"variables": None, "local": False}
    names = option["variables"]
    variables = {} if option["local"] else (
        task.variables if names is None else {n: task.variables[n] for n in names if n in task.variables})
    return {
        "activityId": task.activity_id,
        "activityInstanceId": None,
        "errorMessage": task.error_message,
        "errorDetails": None,
        "executionId": None,
        "id": task.id,
        "lockExpirationTime": format_date(task.lock_expires_at) if task.lock_expires_at else None,
        "processDefinitionId": None,
        "processDefinitionKey": None,
        "processDefinitionVersionTag": None,
        "processInstanceId": task.process_instance_id,
        "retries": task.retries,
        "suspended": False,
        "workerId": task.worker_id or worker_id,
        "topicName": task.topic,
        "tenantId": None,
        "variables": to_typed_map(variables),
        "priority": 0,
        "businessKey": task.business_key or None,
        "extensionProperties": {},
    }


@blp.post("/external-task/fetchAndLock")
def fetch_and_lock():
    body = _body()
    worker_id = _worker_id(body)
    max_tasks = _integer(body, "maxTasks", 0)
    settings = container().settings()
    wait_ms = min(_integer(body, "asyncResponseTimeout", 0), settings.engine_rest_max_wait_ms)
    groups, options = _topic_groups(body)
    if not groups or max_tasks == 0:
        return jsonify([])
    if wait_ms and not _waiting.enter(max(1, settings.http_threads // 2)):
        wait_ms = 0  # too many polls wait already: answer with what is there now
        waited = False
    else:
        waited = bool(wait_ms)
    try:
        tasks = _fetch(worker_id, groups, max_tasks, wait_ms)
    finally:
        if waited:
            _waiting.leave()
    return jsonify([_locked_dto(t, worker_id, options.get(f"{t.topic}\0{_group_key(t, groups)}"))
                    for t in tasks])


def _group_key(task: ExternalTask, groups: dict[tuple[int, str | None], list[str]]) -> str | None:
    """The businessKey filter under which the task's topic was asked for (to pick its variables option)."""
    for (_, business_key), names in groups.items():
        if task.topic in names and business_key in (None, task.business_key):
            return business_key
    return None


def _fetch(worker_id: str, groups: dict[tuple[int, str | None], list[str]], max_tasks: int,
           wait_ms: int) -> list[ExternalTask]:
    engine = _engine()
    if len(groups) == 1:
        ((lock, business_key), topics), = groups.items()
        return engine.fetch_and_lock(worker_id, topics, max_tasks=max_tasks, lock_duration_ms=lock,
                                     wait_ms=wait_ms, business_key=business_key)
    deadline = time.monotonic() + wait_ms / 1000
    slice_ms = 0  # first round: what is there now, in every group
    while True:
        found: list[ExternalTask] = []
        for (lock, business_key), topics in groups.items():
            left = max_tasks - len(found)
            if left <= 0:
                break
            remaining = int((deadline - time.monotonic()) * 1000)
            found += engine.fetch_and_lock(worker_id, topics, max_tasks=left, lock_duration_ms=lock,
                                           wait_ms=max(0, min(slice_ms, remaining)), business_key=business_key)
        if found or time.monotonic() >= deadline:
            return found
        slice_ms = GROUP_SLICE_MS


# ------------------------------------------------------------------ outcomes

@blp.post("/external-task/<task_id>/complete")
def complete(task_id: str):
    body = _body()
    worker_id = _worker_id(body)
    variables = _variables(body)
    _variables(body, "localVariables")  # checked; the embedded engine has no task-local scope to keep them in
    task = _task(task_id)
    _report(task_id, worker_id, "Completion",
            lambda: _engine().complete(task_id, worker_id, variables))
    _follow(task, variables)
    return Response(status=204)


@blp.post("/external-task/<task_id>/failure")
def failure(task_id: str):
    body = _body()
    worker_id = _worker_id(body)
    message = _string(body, "errorMessage")
    details = _string(body, "errorDetails")
    retries = _integer(body, "retries", 0)  # Camunda's DTO has a plain int: absent means 0, an incident
    retry_timeout = _integer(body, "retryTimeout", 0)
    task = _task(task_id)
    _report(task_id, worker_id, "Failure", lambda: _engine().fail(
        task_id, worker_id, message or "", retries=retries, retry_timeout_ms=retry_timeout, error_details=details))
    if retries == 0:
        _follow(task)  # an incident: the ticket needs attention now
    return Response(status=204)


@blp.post("/external-task/<task_id>/bpmnError")
def bpmn_error(task_id: str):
    body = _body()
    worker_id = _worker_id(body)
    code = _string(body, "errorCode", required=True)
    message = _string(body, "errorMessage")
    variables = _variables(body)
    task = _task(task_id)
    _report(task_id, worker_id, "Bpmn error", lambda: _engine().bpmn_error(
        task_id, worker_id, code, error_message=message, variables=variables))
    _follow(task)
    return Response(status=204)


@blp.post("/external-task/<task_id>/extendLock")
def extend_lock(task_id: str):
    body = _body()
    worker_id = _worker_id(body)
    duration = _integer(body, "newDuration", None, minimum=1, required=True)
    _report(task_id, worker_id, "Lock extension", lambda: _engine().extend_lock(task_id, worker_id, duration))
    return Response(status=204)


@blp.post("/external-task/<task_id>/unlock")
def unlock(task_id: str):
    """As on Camunda, whoever holds the lock: the task is fetchable again at once, its retries unchanged."""
    for _ in range(3):
        holder = _task(task_id).worker_id
        if holder is None:
            return Response(status=204)  # not locked (or the lock expired): nothing to release
        try:
            _engine().unlock(task_id, holder)
            return Response(status=204)
        except TaskLockedByOtherWorker:
            continue  # the lock changed hands meanwhile: release the new holder's
        except TaskNotFound:
            break
    _task(task_id)
    return Response(status=204)


@blp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(rest: str):
    raise CamundaError(404, "RestException", f"PFlow's engine REST answers only the external-task subset of "
                                             f"Camunda 7's API (docs/workers.md); /engine-rest/{rest} is not in it.")
