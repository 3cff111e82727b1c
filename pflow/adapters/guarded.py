"""A bulkhead around any workflow engine: a slow or frozen engine cannot take every request thread.

Without it, each request that touches a frozen engine holds an HTTP thread for the engine's whole
timeout; a handful of them hold all threads, and requests that need only the database (a list, a
ticket) queue behind them. With it, at most ``max_calls`` engine calls run at once in this process.
One more queues for a place while the engine is moving (a healthy engine under a burst: eight people
approving at once must all get an answer), and fails at once with ``EngineUnavailable`` when the
calls it would wait behind are stuck (running longer than ``wait_s``: the engine is slow or frozen),
so the threads stay free for the database-only requests. No call queues longer than ``max_queue_s``.

Long polls (``fetch_and_lock`` with a wait) pass through: they wait on purpose and must not use up
the places meant for requests. The worker has its own bound on them (its concurrency).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from pflow.domain.errors import EngineUnavailable
from pflow.ports.workflow import (
    APPROVAL_TASK,
    Deployment,
    ExternalTask,
    ProcessInstance,
    ProcessState,
    UserTask,
    WorkflowEngine,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class BoundedWorkflowEngine(WorkflowEngine):
    """Delegates every port call to ``engine``, at most ``max_calls`` at once (see the module docstring).

    It does not own the engine: ``close()`` leaves it to whoever made it.
    """

    def __init__(self, engine: WorkflowEngine, *, max_calls: int = 4, wait_s: float = 0.5,
                 max_queue_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
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
    def inner(self) -> WorkflowEngine:
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

    def deploy(self, bpmn_path: Path | str) -> Deployment:
        return self._call("a deployment", lambda: self._engine.deploy(bpmn_path))

    def start_process(self, business_key: str, variables: dict[str, Any] | None = None) -> ProcessInstance:
        return self._call("a process start", lambda: self._engine.start_process(business_key, variables))

    def cancel_process(self, business_key: str, reason: str) -> bool:
        return self._call("a cancellation", lambda: self._engine.cancel_process(business_key, reason))

    def find_user_task(self, business_key: str, task_definition_key: str = APPROVAL_TASK) -> UserTask | None:
        return self._call("a task query", lambda: self._engine.find_user_task(business_key, task_definition_key))

    def complete_user_task(self, task_id: str, variables: dict[str, Any], assignee: str | None = None) -> None:
        return self._call("a task completion",
                          lambda: self._engine.complete_user_task(task_id, variables, assignee=assignee))

    def fetch_and_lock(self, worker_id: str, topics: Sequence[str], *, max_tasks: int = 1,
                       lock_duration_ms: int = 30_000, wait_ms: int = 0,
                       business_key: str | None = None) -> list[ExternalTask]:
        def fetch() -> list[ExternalTask]:
            return self._engine.fetch_and_lock(worker_id, topics, max_tasks=max_tasks,
                                               lock_duration_ms=lock_duration_ms, wait_ms=wait_ms,
                                               business_key=business_key)

        return fetch() if wait_ms > 0 else self._call("a fetch", fetch)

    def complete_external_task(self, task_id: str, worker_id: str, variables: dict[str, Any] | None = None) -> None:
        return self._call("a completion", lambda: self._engine.complete_external_task(task_id, worker_id, variables))

    def handle_external_task_failure(self, task_id: str, worker_id: str, error_message: str, *, retries: int,
                                     retry_timeout_ms: int, error_details: str | None = None) -> None:
        return self._call("a failure report", lambda: self._engine.handle_external_task_failure(
            task_id, worker_id, error_message, retries=retries, retry_timeout_ms=retry_timeout_ms,
            error_details=error_details))

    def extend_lock(self, task_id: str, worker_id: str, new_duration_ms: int) -> None:
        return self._call("a lock extension", lambda: self._engine.extend_lock(task_id, worker_id, new_duration_ms))

    def find_external_tasks(self, business_key: str) -> list[ExternalTask]:
        return self._call("a task query", lambda: self._engine.find_external_tasks(business_key))

    def set_external_task_retries(self, task_id: str, retries: int) -> None:
        return self._call("a retry", lambda: self._engine.set_external_task_retries(task_id, retries))

    def process_state(self, business_key: str) -> ProcessState | None:
        return self._call("a state query", lambda: self._engine.process_state(business_key))

    def process_definition_xml(self, definition_id: str | None = None) -> str:
        return self._call("a definition query", lambda: self._engine.process_definition_xml(definition_id))

    def check(self) -> None:
        return self._call("a readiness check", self._engine.check)

    def interrupt_waits(self) -> None:
        self._engine.interrupt_waits()

    def close(self) -> None:
        """The engine belongs to whoever made it (the container closes it)."""
