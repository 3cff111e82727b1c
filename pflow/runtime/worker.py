"""The external-task worker runtime, the same for every workflow engine.

A registry of topic -> handler; one fetcher long-polls the engine for as many
tasks as there are free handler slots, handlers run concurrently on worker
threads, locks of long-running handlers are extended, failures are reported
with decreasing retries and exponential backoff (retries at 0 raise an
incident and call the handler's ``on_incident``), and ``stop()`` lets
in-flight tasks finish — those still running when the grace period ends are
released back to the engine so another worker takes them at once.

An outage of PFlow's own infrastructure is not a failed attempt of the step:
a handler that raises ``ServiceUnavailable`` (the ticket store, the event
store or the engine does not answer) gives the task back with its retries
unchanged, to be fetched again after a growing pause. Only other errors (the
step itself failed, e.g. ``ProvisioningError``) use up a retry.

Handlers must be idempotent: a task whose lock expires (the worker died or
stalled) is delivered again, possibly to another worker. How teams add their
own topics: docs/workers.md.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

from pflow import tracing
from pflow.domain.errors import BpmnError, ConcurrencyConflict, EngineAccessDenied, NotFound, ServiceUnavailable
from pflow.ports.process import ExternalTask, ExternalTasks
from pflow.ports.telemetry import NO_TELEMETRY, Telemetry

log = logging.getLogger(__name__)


@runtime_checkable
class TaskHandler(Protocol):
    """What a team implements to add a topic.

    ``handle`` does the work and returns variables to set on completion (or
    None); raising reports a failed attempt, except ``ServiceUnavailable``,
    which postpones the task without using up a retry. An optional
    ``on_incident(task, error)`` is called when the last retry failed.
    """

    topic: str

    def handle(self, task: ExternalTask) -> dict[str, Any] | None:
        """Do the work; return variables to set on completion. Raise to report a failure."""


def _default_worker_id() -> str:
    return f"pflow-{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class WorkerSettings:
    worker_id: str = ""  # empty: pflow-<host>-<pid>, computed when the worker is built
    concurrency: int = 4
    lock_duration_ms: int = 30_000
    poll_wait_ms: int = 10_000  # long-poll wait; the engine answers as soon as a task appears
    max_retries: int = 3
    retry_backoff_ms: int = 1_000  # first retry timeout; doubles with every failed attempt
    max_retry_backoff_ms: int = 60_000
    engine_backoff_max_s: float = 30.0  # longest pause while the engine (or another dependency) is unreachable
    report_attempts: int = 3  # tries to report an outcome when the engine does not answer


def retry_plan(task_retries: int | None, max_retries: int, base_ms: int, cap_ms: int) -> tuple[int, int]:
    """(retries left after this failure, retry timeout in ms) for a task that just failed.

    The first failure of a task leaves ``max_retries - 1`` retries and waits
    ``base_ms``; each further failure takes one more retry and doubles the
    wait, up to ``cap_ms``. Zero retries left means an incident.
    """
    left = max((task_retries if task_retries is not None else max_retries) - 1, 0)
    attempt = max(max_retries - left, 1)  # 1 for the first failure
    return left, min(cap_ms, base_ms * 2 ** (attempt - 1))


class _Inflight:
    __slots__ = ("task", "lock_expires", "thread", "released")

    def __init__(self, task: ExternalTask, lock_expires: float) -> None:
        self.task = task
        self.lock_expires = lock_expires  # monotonic time
        self.thread: threading.Thread | None = None
        self.released = False


class ExternalTaskWorker:
    def __init__(self, engine: ExternalTasks, handlers: Iterable[TaskHandler], settings: WorkerSettings | None = None,
                 *, clock: Callable[[], float] = time.monotonic,
                 on_progress: Callable[..., None] | None = None, telemetry: Telemetry = NO_TELEMETRY):
        self._telemetry = telemetry
        self._engine = engine
        # Called with the business key once a step's outcome is in the engine (completed, or an incident),
        # so the ticket follows its process at once rather than at the next reconciliation pass; for a
        # completed step also with the task and the variables it was completed with (the step's results).
        self._on_progress = on_progress
        settings = settings or WorkerSettings()
        if not settings.worker_id:
            settings = WorkerSettings(**{**settings.__dict__, "worker_id": _default_worker_id()})
        if settings.concurrency < 1:
            raise ValueError("a worker needs a concurrency of at least 1")
        self.settings = settings
        self._handlers: dict[str, TaskHandler] = {}
        for handler in handlers:
            topic = getattr(handler, "topic", None)
            if not isinstance(topic, str) or not topic:
                raise ValueError(f"task handler {handler!r} has no topic (a non-empty str attribute 'topic')")
            if not callable(getattr(handler, "handle", None)):
                raise ValueError(f"task handler {handler!r} for topic {topic!r} has no handle(task) method")
            if topic in self._handlers:
                raise ValueError(f"two task handlers for topic {topic!r}: {self._handlers[topic]!r} and {handler!r}")
            self._handlers[topic] = handler
        if not self._handlers:
            raise ValueError("an external-task worker needs at least one handler")
        self._clock = clock
        #: why the worker stopped fetching on its own: the engine refused its credentials (None: it did not)
        self.gave_up: EngineAccessDenied | None = None
        self._stop = threading.Event()
        self._slots = threading.Semaphore(settings.concurrency)
        self._queue: queue.Queue[ExternalTask | None] = queue.Queue()
        self._inflight: dict[str, _Inflight] = {}
        self._inflight_lock = threading.Lock()
        self._idle = threading.Condition(self._inflight_lock)
        self._threads: list[threading.Thread] = []
        self._counts_lock = threading.Lock()
        self.processed = 0
        self.failed = 0
        self.released = 0
        self.business_errors = 0  # tasks whose handler raised a BpmnError, reported for the process to handle
        self.postponed = 0  # attempts given back because our own infrastructure was down (no retry used)
        self._outages: dict[str, int] = {}  # task id -> postponements in a row, for the backoff
        #: called with each task just before its handler runs (benchmarks measure pick-up latency with it)
        self.on_task_start: Callable[[ExternalTask], None] | None = None

    @property
    def topics(self) -> list[str]:
        return sorted(self._handlers)

    @property
    def running(self) -> bool:
        return bool(self._threads) and not self._stop.is_set()

    def inflight(self) -> list[ExternalTask]:
        with self._inflight_lock:
            return [entry.task for entry in self._inflight.values()]

    # ------------------------------------------------------------- one task

    def _count(self, name: str) -> None:
        with self._counts_lock:
            setattr(self, name, getattr(self, name) + 1)

    def _report(self, call: Callable[[], None], what: str, task: ExternalTask) -> None:
        """Report an outcome, retrying briefly while the engine does not answer."""
        delay = 0.2
        for attempt in range(1, self.settings.report_attempts + 1):
            try:
                call()
                return
            except ServiceUnavailable as exc:
                if attempt == self.settings.report_attempts:
                    raise
                log.warning("task %s: could not report %s (%s); trying again in %.1fs", task.id, what, exc.message,
                            delay)
                time.sleep(delay)
                delay *= 2

    def _postpone(self, task: ExternalTask, outage: ServiceUnavailable) -> bool:
        """Give the task back with its retries unchanged, to be fetched again after a pause that grows
        while the outage lasts: the step did not fail, something it needs did not answer."""
        s = self.settings
        with self._counts_lock:
            self.postponed += 1
            if len(self._outages) > 10_000:  # tasks that moved to another worker; forget the oldest
                self._outages.pop(next(iter(self._outages)))
            times = self._outages[task.id] = self._outages.get(task.id, 0) + 1
        pause_ms = int(min(s.engine_backoff_max_s * 1000, max(s.retry_backoff_ms, 100) * 2 ** min(times - 1, 16)))
        retries = task.retries if task.retries is not None else s.max_retries
        log.warning("task %s (%s, %s) postponed, not counted as a failed attempt (%d retries still left): %s; "
                    "trying again in %d ms", task.id, task.topic, task.business_key, retries, outage.message, pause_ms)
        try:
            self._report(lambda: self._engine.fail(
                task.id, s.worker_id, f"postponed, not a failed attempt: {outage.public_message}", retries=retries,
                retry_timeout_ms=pause_ms), "the postponement", task)
        except (ConcurrencyConflict, NotFound):
            log.warning("task %s: lock lost before it could be given back", task.id)
        except ServiceUnavailable as exc:
            log.warning("task %s could not be given back either (%s); the engine hands it out again when its lock "
                        "expires, with its retries unchanged", task.id, exc.message)
        return False

    def _forget_outages(self, task: ExternalTask) -> None:
        with self._counts_lock:
            self._outages.pop(task.id, None)

    def _business_error(self, task: ExternalTask, error: BpmnError) -> bool:
        """Report a BPMN error the handler raised: the process handles it (no retry, no incident)."""
        self._forget_outages(task)
        log.info("task %s (%s, %s) ended with BPMN error %r%s", task.id, task.topic, task.business_key, error.code,
                 f": {error.message}" if error.message else "")
        try:
            self._report(lambda: self._engine.bpmn_error(
                task.id, self.settings.worker_id, error.code, error_message=error.message,
                variables=error.variables), "the BPMN error", task)
        except (ConcurrencyConflict, NotFound):
            log.warning("task %s: lock lost before the BPMN error could be reported", task.id)
            return False
        self._count("business_errors")
        self._progressed(task)
        return False

    def execute(self, task: ExternalTask) -> bool:
        """Run the handler for one locked task and report the outcome. True on success."""
        # in the trace of the request that moved the instance here (its pflow_traceparent variable)
        parent = task.variables.get(tracing.TRACEPARENT_VARIABLE)
        with tracing.span(f"{task.topic} task", parent=parent if isinstance(parent, str) else None,
                          kind=tracing.SpanKind.CONSUMER,
                          attributes={tracing.TICKET_ID: task.business_key,
                                      tracing.PROCESS_INSTANCE_ID: task.process_instance_id,
                                      "pflow.task_id": task.id, "pflow.activity_id": task.activity_id}) as current:
            done = self._execute(task)
            if not done:
                tracing.mark_error(current, "the task did not complete")
            return done

    def _execute(self, task: ExternalTask) -> bool:
        handler = self._handlers[task.topic]
        s = self.settings
        if self.on_task_start is not None:
            self.on_task_start(task)
        started = time.perf_counter()
        try:
            variables = handler.handle(task)
        except ServiceUnavailable as exc:
            return self._postpone(task, exc)
        except BpmnError as exc:
            return self._business_error(task, exc)
        except Exception as exc:  # any other handler error is a failed attempt, reported to the engine
            self._forget_outages(task)
            self._count("failed")
            self._telemetry.task_failed(task.topic, time.perf_counter() - started)
            retries, timeout = retry_plan(task.retries, s.max_retries, s.retry_backoff_ms, s.max_retry_backoff_ms)
            message = f"{type(exc).__name__}: {exc}"
            if retries:
                log.warning("task %s (%s, %s) failed, %d retries left, next try in %d ms: %s", task.id, task.topic,
                            task.business_key, retries, timeout, message)
            else:
                log.warning("task %s (%s, %s) failed with no retry left; the engine raises an incident: %s", task.id,
                            task.topic, task.business_key, message)
            details = traceback.format_exc()
            try:
                self._report(lambda: self._engine.fail(
                    task.id, s.worker_id, message, retries=retries, retry_timeout_ms=timeout, error_details=details),
                    "the failure", task)
            except (ConcurrencyConflict, NotFound):
                log.warning("task %s: lock lost before the failure could be reported", task.id)
                return False
            if retries == 0:
                self._telemetry.task_incident(task.topic)
                self._progressed(task)
                on_incident = getattr(handler, "on_incident", None)
                if on_incident is not None:
                    try:
                        on_incident(task, message)
                    except ServiceUnavailable as exc:
                        # The engine holds the incident; reconciliation records it on the ticket from there.
                        log.error("task %s (%s): the engine raised an incident, but the %s handler could not record "
                                  "it (%s); reconciliation takes it from the engine's incident", task.id,
                                  task.business_key, task.topic, exc.message)
                    except Exception:  # the incident is raised in the engine either way
                        log.exception("task %s: on_incident of the %s handler failed", task.id, task.topic)
            return False
        self._forget_outages(task)
        if self._is_released(task.id):
            log.warning("task %s finished after it was released at shutdown; another worker may redo it "
                        "(idempotently)", task.id)
        try:
            self._report(lambda: self._engine.complete(task.id, s.worker_id, variables or {}),
                         "the completion", task)
        except ConcurrencyConflict:
            log.warning("task %s: lock lost before completion; another worker will redo it (idempotently)", task.id)
            return False
        except NotFound:
            log.info("task %s was already completed", task.id)
        self._count("processed")
        self._telemetry.task_completed(task.topic, time.perf_counter() - started)
        self._progressed(task, variables or {})
        return True

    def _progressed(self, task: ExternalTask, results: dict[str, Any] | None = None) -> None:
        """``results``: the variables the step was completed with (None: it failed for good)."""
        if self._on_progress is None:
            return
        try:
            if results is None:
                self._on_progress(task.business_key)
            else:
                self._on_progress(task.business_key, task, results)
        except ServiceUnavailable as exc:  # the ticket follows at the next reconciliation pass
            log.warning("task %s: the ticket %s could not follow its process yet (%s)", task.id, task.business_key,
                        exc.message)
        except Exception:
            log.exception("task %s: the ticket %s could not follow its process", task.id, task.business_key)

    def _fetched(self, tasks: list[ExternalTask]) -> None:
        self._telemetry.worker_polled()
        for task in tasks:
            self._telemetry.task_fetched(task.topic)

    def _is_released(self, task_id: str) -> bool:
        with self._inflight_lock:
            entry = self._inflight.get(task_id)
            return entry is not None and entry.released

    def run_once(self, wait_ms: int = 0) -> int:
        """Fetch what is there now (up to ``concurrency`` tasks) and run it in this thread."""
        s = self.settings
        tasks = self._engine.fetch_and_lock(s.worker_id, self.topics, max_tasks=s.concurrency,
                                            lock_duration_ms=s.lock_duration_ms, wait_ms=wait_ms)
        self._fetched(tasks)
        for task in tasks:
            self.execute(task)
        return len(tasks)

    # ------------------------------------------------------------ background

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("the worker is already running")
        self._stop.clear()
        targets = [(self._fetch_loop, "pflow-fetch"), (self._lock_keeper, "pflow-locks")]
        targets += [(self._task_loop, f"pflow-task-{i + 1}") for i in range(self.settings.concurrency)]
        for target, name in targets:
            # Daemon threads: a handler stuck past the grace period must not keep the process alive.
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker %s started: topics %s, concurrency %d", self.settings.worker_id, self.topics,
                 self.settings.concurrency)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching, let in-flight tasks finish for up to ``timeout`` seconds, then release the rest
        to the engine (they become fetchable at once, without using up a retry)."""
        if not self._threads:
            return
        self._stop.set()
        self._engine.interrupt_waits()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._inflight and time.monotonic() < deadline:
                self._idle.wait(max(0.0, min(0.5, deadline - time.monotonic())))
            leftover = [entry for entry in self._inflight.values() if not entry.released]
            for entry in leftover:
                entry.released = True
        for entry in leftover:
            self._release(entry.task)
        for _ in range(self.settings.concurrency):
            self._queue.put(None)
        for thread in self._threads:
            thread.join(max(0.0, min(1.0, deadline - time.monotonic())) if thread.name.startswith("pflow-task")
                        else 2.0)
        self._threads.clear()
        log.info("worker %s stopped (%d done, %d failed, %d released)", self.settings.worker_id, self.processed,
                 self.failed, self.released)

    def _release(self, task: ExternalTask) -> None:
        s = self.settings
        try:
            self._engine.unlock(task.id, s.worker_id)
            self._count("released")
            log.warning("task %s (%s) released: its handler did not finish before shutdown", task.id,
                        task.business_key)
        except (ConcurrencyConflict, NotFound):
            pass  # finished or lost meanwhile
        except ServiceUnavailable as exc:
            log.warning("task %s could not be released (%s); it is redelivered when its lock expires", task.id,
                        exc.message)

    def run(self) -> None:
        """Run until ``request_stop()`` (or ``stop()``) is called from another thread or a signal handler."""
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def request_stop(self) -> None:
        """Ask ``run()`` to stop; safe to call from a signal handler."""
        self._stop.set()

    def _fetch_loop(self) -> None:
        s = self.settings
        backoff = 0.0
        down = self._engine.name  # what the last failed fetch could not reach
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            free = 1
            while free < s.concurrency and self._slots.acquire(blocking=False):
                free += 1
            tasks: list[ExternalTask] = []
            try:
                if not self._stop.is_set():
                    tasks = self._engine.fetch_and_lock(s.worker_id, self.topics, max_tasks=free,
                                                        lock_duration_ms=s.lock_duration_ms, wait_ms=s.poll_wait_ms)
                    self._fetched(tasks)
                    if backoff:
                        log.info("worker %s: %s reachable again", s.worker_id, down)
                    backoff = 0.0
            except EngineAccessDenied as exc:
                # A setting to fix, not an outage. Asking again would not help and can do harm: Camunda locks
                # a user out for a while after each refused password (and for good after ten), which would
                # also lock out every PFlow process that uses that user correctly. So the worker stops
                # fetching, says why once, and `pflow worker` exits (see ``gave_up``).
                self.gave_up = exc
                log.error("worker %s: %s; the worker stops fetching tasks (restart it once that is fixed)",
                          s.worker_id, exc.message)
                for _ in range(free):
                    self._slots.release()
                self._stop.set()
                return
            except ServiceUnavailable as exc:
                backoff = min(s.engine_backoff_max_s, backoff * 2 or 0.5)
                down = exc.dependency
                log.warning("worker %s: %s; retrying in %.1fs", s.worker_id, exc.message, backoff)
            except Exception:
                backoff = min(s.engine_backoff_max_s, backoff * 2 or 0.5)
                down = self._engine.name
                log.exception("worker %s: fetch failed; retrying in %.1fs", s.worker_id, backoff)
            for _ in range(free - len(tasks)):
                self._slots.release()
            now = self._clock()
            for task in tasks:
                with self._inflight_lock:
                    self._inflight[task.id] = _Inflight(task, now + s.lock_duration_ms / 1000)
                self._queue.put(task)
            if backoff:
                self._stop.wait(backoff)

    def _task_loop(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                self.execute(task)
            except ServiceUnavailable as exc:
                log.warning("task %s: its outcome could not be reported (%s); the engine hands it out again when its "
                            "lock expires", task.id, exc.message)
            except Exception:
                log.exception("task %s: reporting its outcome failed; it will be redelivered when its lock expires",
                              task.id)
            finally:
                with self._idle:
                    self._inflight.pop(task.id, None)
                    self._idle.notify_all()
                self._slots.release()

    def _lock_keeper(self) -> None:
        """Extend the locks of handlers that run for more than a third of the lock duration."""
        s = self.settings
        duration = s.lock_duration_ms / 1000
        period = max(0.05, duration / 6)
        while True:
            stopping = self._stop.wait(period)
            now = self._clock()
            with self._inflight_lock:
                due = [(tid, e) for tid, e in self._inflight.items()
                       if not e.released and e.lock_expires - now < duration * 2 / 3]
                if stopping and not self._inflight:
                    return
            for task_id, entry in due:
                try:
                    self._engine.extend_lock(task_id, s.worker_id, s.lock_duration_ms)
                    entry.lock_expires = self._clock() + duration
                    log.debug("task %s: lock extended", task_id)
                except (ConcurrencyConflict, NotFound):
                    pass  # finished or lost meanwhile
                except ServiceUnavailable as exc:
                    log.warning("could not extend the lock of task %s: %s", task_id, exc.message)
            if stopping:
                with self._inflight_lock:
                    if all(e.released for e in self._inflight.values()):
                        return
