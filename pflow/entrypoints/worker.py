"""The external-task worker runtime, the same for every workflow engine.

A registry of topic -> handler; one fetcher long-polls the engine for as many
tasks as there are free handler slots, handlers run concurrently in a thread
pool, locks of long-running handlers are extended, failures are reported with
decreasing retries and exponential backoff, and ``stop()`` lets in-flight
tasks finish. Handlers must be idempotent: a task whose lock expires (the
worker died or stalled) is delivered again, possibly to another worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable
from pflow.ports.workflow import ExternalTask, WorkflowEngine

log = logging.getLogger(__name__)


class TaskHandler(Protocol):
    """What a team implements to add a topic. ``on_incident`` is optional."""

    topic: str

    def handle(self, task: ExternalTask) -> dict[str, Any] | None:
        """Do the work; return variables to set on completion. Raise to report a failure."""


@dataclass(frozen=True)
class WorkerSettings:
    worker_id: str = f"pflow-{socket.gethostname()}-{os.getpid()}"
    concurrency: int = 4
    lock_duration_ms: int = 30_000
    poll_wait_ms: int = 10_000
    max_retries: int = 3
    retry_backoff_ms: int = 1_000
    max_retry_backoff_ms: int = 60_000
    engine_backoff_max_s: float = 30.0


class ExternalTaskWorker:
    def __init__(self, engine: WorkflowEngine, handlers: Iterable[TaskHandler], settings: WorkerSettings | None = None):
        self._engine = engine
        self.settings = settings or WorkerSettings()
        self._handlers = {h.topic: h for h in handlers}
        if not self._handlers:
            raise ValueError("an external-task worker needs at least one handler")
        self._stop = threading.Event()
        self._slots = threading.Semaphore(self.settings.concurrency)
        self._inflight: dict[str, tuple[ExternalTask, float]] = {}  # task id -> (task, lock expiry, monotonic)
        self._inflight_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self.processed = 0
        self.failed = 0

    @property
    def topics(self) -> list[str]:
        return sorted(self._handlers)

    # ------------------------------------------------------------- one task

    def execute(self, task: ExternalTask) -> bool:
        """Run the handler for one locked task and report the outcome. True on success."""
        handler = self._handlers[task.topic]
        s = self.settings
        try:
            variables = handler.handle(task)
        except Exception as exc:  # any handler error is a failed attempt, reported to the engine
            self.failed += 1
            retries = (task.retries if task.retries is not None else s.max_retries) - 1
            retries = max(retries, 0)
            attempt = s.max_retries - retries  # 1 for the first failure
            timeout = min(s.max_retry_backoff_ms, s.retry_backoff_ms * 2 ** (attempt - 1))
            message = f"{type(exc).__name__}: {exc}"
            log.warning("task %s (%s, %s) failed, %d retries left: %s", task.id, task.topic, task.business_key,
                        retries, message)
            try:
                self._engine.handle_external_task_failure(task.id, s.worker_id, message, retries=retries,
                                                          retry_timeout_ms=timeout,
                                                          error_details=traceback.format_exc())
            except (ConcurrencyConflict, NotFound):
                log.warning("task %s: lock lost before the failure could be reported", task.id)
                return False
            if retries == 0 and hasattr(handler, "on_incident"):
                handler.on_incident(task, message)
            return False
        try:
            self._engine.complete_external_task(task.id, s.worker_id, variables or {})
        except ConcurrencyConflict:
            log.warning("task %s: lock lost before completion; another worker will redo it (idempotently)", task.id)
            return False
        except NotFound:
            log.info("task %s was already completed", task.id)
        self.processed += 1
        return True

    def run_once(self, wait_ms: int = 0) -> int:
        """Fetch what is there now (up to ``concurrency`` tasks) and run it in this thread."""
        tasks = self._engine.fetch_and_lock(self.settings.worker_id, self.topics, max_tasks=self.settings.concurrency,
                                            lock_duration_ms=self.settings.lock_duration_ms, wait_ms=wait_ms)
        for task in tasks:
            self.execute(task)
        return len(tasks)

    # ------------------------------------------------------------ background

    def start(self) -> None:
        self._stop.clear()
        self._pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="pflow-task")
        for target, name in ((self._fetch_loop, "pflow-fetch"), (self._lock_keeper, "pflow-locks")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker %s started: topics %s, concurrency %d", self.settings.worker_id, self.topics,
                 self.settings.concurrency)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching and let in-flight tasks finish (up to ``timeout``)."""
        self._stop.set()
        self._engine.interrupt_waits()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=False)
        self._threads.clear()
        log.info("worker %s stopped (%d done, %d failed)", self.settings.worker_id, self.processed, self.failed)

    def run(self) -> None:
        """Run until ``stop()`` is called from another thread or a signal handler."""
        self.start()
        self._stop.wait()
        self.stop()

    def _fetch_loop(self) -> None:
        s = self.settings
        backoff = 0.0
        while not self._stop.is_set():
            self._slots.acquire()
            if self._stop.is_set():
                self._slots.release()
                break
            free = 1
            while free < s.concurrency and self._slots.acquire(blocking=False):
                free += 1
            try:
                tasks = self._engine.fetch_and_lock(s.worker_id, self.topics, max_tasks=free,
                                                    lock_duration_ms=s.lock_duration_ms, wait_ms=s.poll_wait_ms)
                if backoff:
                    log.info("worker %s: %s reachable again", s.worker_id, self._engine.name)
                backoff = 0.0
            except ServiceUnavailable as exc:
                tasks = []
                backoff = min(s.engine_backoff_max_s, backoff * 2 or 0.5)
                log.warning("worker %s: %s; retrying in %.1fs", s.worker_id, exc.message, backoff)
                self._stop.wait(backoff)
            except Exception:
                tasks = []
                backoff = min(s.engine_backoff_max_s, backoff * 2 or 0.5)
                log.exception("worker %s: fetch failed; retrying in %.1fs", s.worker_id, backoff)
                self._stop.wait(backoff)
            for _ in range(free - len(tasks)):
                self._slots.release()
            for task in tasks:
                with self._inflight_lock:
                    self._inflight[task.id] = (task, time.monotonic() + s.lock_duration_ms / 1000)
                assert self._pool is not None
                self._pool.submit(self._run_task, task)

    def _run_task(self, task: ExternalTask) -> None:
        try:
            self.execute(task)
        except Exception:
            log.exception("task %s: reporting its outcome failed; it will be redelivered when its lock expires",
                          task.id)
        finally:
            with self._inflight_lock:
                self._inflight.pop(task.id, None)
            self._slots.release()

    def _lock_keeper(self) -> None:
        """Extend the locks of handlers that run for more than a third of the lock duration."""
        s = self.settings
        period = max(0.05, s.lock_duration_ms / 1000 / 6)
        while not self._stop.wait(period) or self._inflight:
            now = time.monotonic()
            with self._inflight_lock:
                due = [(tid, t) for tid, (t, expires) in self._inflight.items()
                       if expires - now < s.lock_duration_ms / 1000 * 2 / 3]
            for task_id, task in due:
                try:
                    self._engine.extend_lock(task_id, s.worker_id, s.lock_duration_ms)
                    with self._inflight_lock:
                        if task_id in self._inflight:
                            self._inflight[task_id] = (task, time.monotonic() + s.lock_duration_ms / 1000)
                except (ConcurrencyConflict, NotFound):
                    pass  # finished or lost meanwhile
                except ServiceUnavailable as exc:
                    log.warning("could not extend the lock of task %s: %s", task_id, exc.message)
            if self._stop.is_set() and not self._inflight:
                return
