"""A bulkhead around any workflow engine: a slow or frozen engine cannot take every request thread.

Without it, each request that touches a frozen engine holds an HTTP thread for the engine's whole
timeout; a handful of them hold all threads, and requests that need only the database (a list, a
ticket) queue behind them. With it, at most ``max_calls`` engine calls run at once in this process.
One more queues for a place while the engine is moving (a healthy engine under a burst: eight people
approving at once must all get an answer), and fails at once with ``EngineUnavailable`` when the
calls it would wait behind are stuck (running longer than ``wait_s``: the engine is slow or frozen),
so the threads stay free for the database-only requests. No call queues longer than ``max_queue_s``.

It guards the service's side of the engine (``ProcessEngine``); workers use ``ExternalTasks`` on the
engine directly, bounded by their own concurrency, so their long polls never take the requests' places.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar

from pflow import tracing
from pflow.domain.errors import DomainError, EngineUnavailable, ServiceUnavailable
from pflow.ports.process import (
    CompletedTask,
    Deployment,
    ExternalTask,
    InstanceProgress,
    InstanceView,
    ProcessEngine,
    ProcessInstance,
    ProcessModel,
    UserTask,
)
from pflow.ports.telemetry import NO_TELEMETRY, Telemetry

log = logging.getLogger(__name__)

T = TypeVar("T")


class BoundedProcessEngine(ProcessEngine):
    """Delegates every port call to ``engine``, at most ``max_calls`` at once (see the module docstring).

    It does not own the engine: ``close()`` leaves it to whoever made it.
    """

    def __init__(self, engine: ProcessEngine, *, max_calls: int = 4, wait_s: float = 0.5,
                 max_queue_s: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 telemetry: Telemetry = NO_TELEMETRY) -> None:
        self._telemetry = telemetry
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self._engine = engine
        self.name = engine.name
        self.max_calls = max_calls
        self.wait_s = max(0.0, wait_s)
        self.max_queue_s = max(self.wait_s, max_queue_s)
        self._clock = clock
        self._places = threading.BoundedSemaphore(max_calls)
        self._busy_lock = threading.Lock()
        self._started: dict[int, float] = {}  # running call -> when it started
        self._ids = 0
        self.busy = 0  # calls that run now
        self.refused = 0  # calls answered "busy" since start (tests and the log read it)

    @property
    def inner(self) -> ProcessEngine:
        return self._engine

    def __getattr__(self, name: str) -> Any:
        # Adapter-specific attributes (``url``, a fake's ``available``) read through the guard.
        return getattr(self.__dict__["_engine"], name)

    def _stuck(self) -> bool:
        """Whether every place is held by a call running longer than ``wait_s``."""
        now = self._clock()
        with self._busy_lock:
            return len(self._started) >= self.max_calls and all(now - t > self.wait_s
                                                                for t in self._started.values())

    def _acquire(self) -> bool:
        deadline = self._clock() + self.max_queue_s
        while True:
            if self._places.acquire(timeout=min(0.05, self.wait_s or 0.05)):
                return True
            if self._stuck() or self._clock() >= deadline:
                return False

    def _call(self, what: str, call: Callable[[], T]) -> T:
        started = time.perf_counter()
        outcome = "error"
        try:
            result = self._guarded(what, call)
            outcome = "ok"
            return result
        except EngineUnavailable as exc:
            outcome = "busy" if (exc.details or {}).get("reason") == "busy" else "unavailable"
            raise
        except ServiceUnavailable:
            outcome = "unavailable"
            raise
        except DomainError:  # the engine answered: not found, a conflict, a refused input
            outcome = "rejected"
            raise
        finally:
            # the operation: the port method that called (start, complete_task, ...)
            self._telemetry.engine_call(sys._getframe(1).f_code.co_name, outcome, time.perf_counter() - started)

    def _guarded(self, what: str, call: Callable[[], T]) -> T:
        if not self._acquire():
            with self._busy_lock:
                self.refused += 1
            raise EngineUnavailable(
                self.name,
                f"{self.max_calls} calls to {self.name} have been running for more than {self.wait_s:g}s; "
                f"not starting {what} (the engine is slow or frozen; PFLOW_ENGINE_MAX_CALLS and "
                "PFLOW_ENGINE_WAIT_MS set this limit)",
                public_message=f"The workflow engine ({self.name}) is not answering in time; try again in a moment.",
                details={"reason": "busy"},
            )
        with self._busy_lock:
            self.busy += 1
            self._ids += 1
            me = self._ids
            self._started[me] = self._clock()
        try:
            return call()
        finally:
            with self._busy_lock:
                self.busy -= 1
                del self._started[me]
            self._places.release()

    # ------------------------------------------------------------------- port

    def deploy(self, bpmn_path: Path | str) -> list[Deployment]:
        return self._call("a deployment", lambda: self._engine.deploy(bpmn_path))

    def start(self, process_key: str, business_key: str, variables: dict[str, Any]) -> ProcessInstance:
        # the worker that takes the instance's first automated step joins this request's trace
        with tracing.span("engine start", attributes={tracing.TICKET_ID: business_key, "pflow.process_key": process_key}):
            traced = tracing.with_traceparent(variables)
            instance = self._call("a process start", lambda: self._engine.start(process_key, business_key, traced))
            tracing.tag_ticket(business_key, instance.id)
            return instance

    def cancel(self, business_key: str, reason: str) -> bool:
        return self._call("a cancellation", lambda: self._engine.cancel(business_key, reason))

    def open_tasks(self, business_key: str) -> list[UserTask]:
        return self._call("a task query", lambda: self._engine.open_tasks(business_key))

    def task(self, task_id: str) -> UserTask:
        return self._call("a task query", lambda: self._engine.task(task_id))

    def set_due(self, task_id: str, due: datetime) -> None:
        return self._call("setting a due time", lambda: self._engine.set_due(task_id, due))

    def complete_task(self, task_id: str, variables: dict[str, Any], *, completed_by: str) -> None:
        with tracing.span("engine complete_task", attributes={"pflow.task_id": task_id}):
            traced = tracing.with_traceparent(variables)  # the next automated step joins this request's trace
            return self._call("a task completion",
                              lambda: self._engine.complete_task(task_id, traced, completed_by=completed_by))

    def claim(self, task_id: str, user: str) -> None:
        self._call("a claim", lambda: self._engine.claim(task_id, user))

    def unclaim(self, task_id: str) -> None:
        self._call("an unclaim", lambda: self._engine.unclaim(task_id))

    def set_assignee(self, task_id: str, user: str | None) -> None:
        self._call("a reassignment", lambda: self._engine.set_assignee(task_id, user))

    def instance(self, business_key: str) -> InstanceView | None:
        return self._call("a state query", lambda: self._engine.instance(business_key))

    def automated_steps(self, business_key: str) -> list[ExternalTask]:
        return self._call("a task query", lambda: self._engine.automated_steps(business_key))

    def progress(self, business_key: str, *, history: bool = False) -> InstanceProgress | None:
        return self._call("a state query", lambda: self._engine.progress(business_key, history=history))

    def completed_tasks(self, business_key: str) -> list[CompletedTask]:
        return self._call("a history query", lambda: self._engine.completed_tasks(business_key))

    def retry_step(self, task_id: str, retries: int) -> None:
        return self._call("a retry", lambda: self._engine.retry_step(task_id, retries))

    def model(self, definition_id: str) -> ProcessModel:
        return self._call("a definition query", lambda: self._engine.model(definition_id))

    def definition_xml(self, definition_id: str) -> str:
        return self._call("a definition query", lambda: self._engine.definition_xml(definition_id))

    def latest_definition_id(self, process_key: str) -> str:
        return self._call("a definition query", lambda: self._engine.latest_definition_id(process_key))

    def check(self) -> None:
        return self._call("a readiness check", self._engine.check)
