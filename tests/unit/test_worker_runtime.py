"""The external-task worker runtime on the in-memory engine, with handlers that misbehave on purpose."""

from __future__ import annotations

import threading
import time

import pytest

from pflow.adapters.memory.workflow import InMemoryWorkflowEngine
from pflow.domain.errors import EngineUnavailable
from pflow.runtime.worker import ExternalTaskWorker, WorkerSettings, retry_plan
from pflow.ports.process import InstanceState

PROVISIONING_TOPIC = "ticket-processing"
from tests.support import BPMN, wait_until


class RecordingEngine(InMemoryWorkflowEngine):
    """The in-memory engine, remembering what the worker reported."""

    def __init__(self):
        super().__init__()
        self.failures: list[dict] = []
        self.extensions: list[str] = []
        self.deploy(BPMN)

    def fail(self, task_id, worker_id, error_message, *, retries, retry_timeout_ms, error_details=None):
        self.failures.append(dict(task_id=task_id, worker_id=worker_id, message=error_message, retries=retries,
                                  timeout=retry_timeout_ms, details=error_details))
        super().fail(task_id, worker_id, error_message, retries=retries, retry_timeout_ms=retry_timeout_ms,
                     error_details=error_details)

    def extend_lock(self, task_id, worker_id, new_duration_ms):
        self.extensions.append(task_id)
        super().extend_lock(task_id, worker_id, new_duration_ms)


def approved(engine, key):
    engine.start("ticket_approval", key, {"requester": "alice"})
    task = engine.open_tasks(key)[0]
    engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")


class Handler:
    topic = PROVISIONING_TOPIC

    def __init__(self, work=None):
        self.work = work or (lambda task: {"fulfilment_reference": f"REF-{task.business_key}"})
        self.calls: list[str] = []
        self.incidents: list[tuple[str, str]] = []

    def handle(self, task):
        self.calls.append(task.business_key)
        return self.work(task)

    def on_incident(self, task, error):
        self.incidents.append((task.business_key, error))


def settings(**overrides):
    base = dict(worker_id="w1", concurrency=2, lock_duration_ms=2_000, poll_wait_ms=200, max_retries=3,
                retry_backoff_ms=10, max_retry_backoff_ms=1_000)
    return WorkerSettings(**{**base, **overrides})


@pytest.fixture
def engine():
    e = RecordingEngine()
    yield e
    e.close()


@pytest.fixture
def started():
    workers: list[ExternalTaskWorker] = []

    def start(worker):
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop(timeout=2)


@pytest.mark.parametrize("retries, expected", [
    (None, (2, 1000)),  # first failure
    (2, (1, 2000)),
    (1, (0, 4000)),  # last retry used up: incident
    (0, (0, 4000)),
    (7, (6, 1000)),  # retries set higher by an admin: never below the first backoff
])
def test_retry_plan_counts_down_and_backs_off_exponentially(retries, expected):
    assert retry_plan(retries, 3, 1000, 60_000) == expected


def test_the_backoff_is_capped():
    assert retry_plan(1, 10, 1000, 60_000) == (0, 60_000)


def test_a_successful_handler_completes_the_task_with_its_variables(engine, started):
    approved(engine, "k1")
    handler = Handler()
    worker = started(ExternalTaskWorker(engine, [handler], settings()))
    state = wait_until(lambda: (s := engine.instance("k1")).state == InstanceState.COMPLETED and s)
    assert state.variables["fulfilment_reference"] == "REF-k1"
    assert handler.calls == ["k1"] and worker.processed == 1 and worker.failed == 0


def test_failures_use_up_retries_with_growing_backoff_then_raise_an_incident(engine, started):
    approved(engine, "k1")

    def fail(task):
        raise RuntimeError("backend down")

    handler = Handler(fail)
    worker = started(ExternalTaskWorker(engine, [handler], settings(retry_backoff_ms=20)))
    wait_until(lambda: handler.incidents, message="no incident after the retries ran out")
    assert [(f["retries"], f["timeout"]) for f in engine.failures] == [(2, 20), (1, 40), (0, 80)]
    assert all(f["message"] == "RuntimeError: backend down" and "Traceback" in f["details"] for f in engine.failures)
    assert handler.incidents == [("k1", "RuntimeError: backend down")]
    assert handler.calls == ["k1", "k1", "k1"] and worker.failed == 3
    state = engine.instance("k1")
    assert state.state == InstanceState.INCIDENT and state.incidents == ("ProvisionService",)
    assert [t.error_message for t in engine.automated_steps("k1")] == ["RuntimeError: backend down"]
    time.sleep(0.3)
    assert handler.calls == ["k1"] * 3  # not fetched again until an admin sets retries


def test_a_long_handler_keeps_its_lock(engine, started):
    approved(engine, "k1")
    release = threading.Event()

    def slow(task):
        release.wait(5)
        return {}

    handler = Handler(slow)
    started(ExternalTaskWorker(engine, [handler], settings(lock_duration_ms=300)))
    wait_until(lambda: handler.calls)
    time.sleep(0.9)  # three lock durations
    assert engine.fetch_and_lock("w2", [PROVISIONING_TOPIC]) == []
    assert len(engine.extensions) >= 2
    release.set()
    wait_until(lambda: engine.instance("k1").state == InstanceState.COMPLETED)


def test_handlers_run_concurrently_up_to_the_limit(engine, started):
    for i in range(3):
        approved(engine, f"k{i}")
    barrier = threading.Barrier(3, timeout=5)

    def together(task):
        barrier.wait()  # breaks (and fails the task) unless three handlers run at the same time
        return {}

    handler = Handler(together)
    worker = started(ExternalTaskWorker(engine, [handler], settings(concurrency=3)))
    wait_until(lambda: worker.processed == 3)
    assert worker.failed == 0


def test_no_more_tasks_are_taken_than_there_are_free_slots(engine, started):
    for i in range(3):
        approved(engine, f"k{i}")
    release = threading.Event()
    handler = Handler(lambda task: release.wait(5) and {})
    worker = started(ExternalTaskWorker(engine, [handler], settings(concurrency=2)))
    wait_until(lambda: len(handler.calls) == 2)
    time.sleep(0.3)
    assert len(handler.calls) == 2 and len(worker.inflight()) == 2
    assert len(engine.fetch_and_lock("w2", [PROVISIONING_TOPIC], max_tasks=5)) == 1
    release.set()


def test_stop_lets_an_inflight_task_finish(engine):
    approved(engine, "k1")
    release = threading.Event()
    handler = Handler(lambda task: release.wait(5) and {"done": True})
    worker = ExternalTaskWorker(engine, [handler], settings(poll_wait_ms=30_000))
    worker.start()
    wait_until(lambda: handler.calls)
    threading.Timer(0.3, release.set).start()
    worker.stop(timeout=5)
    assert worker.processed == 1 and worker.released == 0
    assert engine.instance("k1").state == InstanceState.COMPLETED


def test_stop_ends_a_long_poll_instead_of_sitting_it_out(engine):
    worker = ExternalTaskWorker(engine, [Handler()], settings(poll_wait_ms=600_000))
    worker.start()
    fetcher = next(t for t in worker._threads if t.name == "pflow-fetch")
    time.sleep(0.2)  # the fetcher is now in a ten-minute long poll
    worker.stop(timeout=5)
    assert not fetcher.is_alive()


def test_a_task_still_running_when_the_grace_period_ends_is_released(engine):
    approved(engine, "k1")
    release = threading.Event()
    handler = Handler(lambda task: release.wait(10) and {})
    worker = ExternalTaskWorker(engine, [handler], settings(lock_duration_ms=30_000))
    worker.start()
    wait_until(lambda: handler.calls)
    worker.stop(timeout=0.3)
    assert worker.released == 1
    [again] = engine.fetch_and_lock("w2", [PROVISIONING_TOPIC], lock_duration_ms=30_000)
    assert again.business_key == "k1" and again.retries is None  # unlocked without using up a retry
    assert engine.failures == []
    release.set()
    time.sleep(0.2)
    assert worker.processed == 0  # its late completion is refused: w2 holds the task now
    engine.complete(again.id, "w2")


def test_an_unreachable_engine_is_retried_with_backoff(engine, started):
    engine.available = False
    handler = Handler()
    started(ExternalTaskWorker(engine, [handler], settings()))
    time.sleep(0.3)
    engine.available = True
    approved(engine, "k1")
    wait_until(lambda: engine.instance("k1").state == InstanceState.COMPLETED, timeout=10)


def test_run_once_processes_what_is_there(engine):
    approved(engine, "k1")
    approved(engine, "k2")
    handler = Handler()
    worker = ExternalTaskWorker(engine, [handler], settings())
    assert worker.run_once() == 2
    assert sorted(handler.calls) == ["k1", "k2"] and worker.processed == 2


def test_task_start_hook_sees_each_task_before_its_handler(engine):
    approved(engine, "k1")
    seen = []
    handler = Handler(lambda task: seen.append("handler") or {})
    worker = ExternalTaskWorker(engine, [handler], settings())
    worker.on_task_start = lambda task: seen.append(f"start {task.business_key}")
    worker.run_once()
    assert seen == ["start k1", "handler"]


class NoTopic:
    def handle(self, task):  # pragma: no cover
        return {}


class NoHandle:
    topic = "x"


@pytest.mark.parametrize("handlers, message", [
    ([], "needs at least one handler"),
    ([NoTopic()], "has no topic"),
    ([NoHandle()], "has no handle(task) method"),
    ([Handler(), Handler()], "two task handlers for topic 'ticket-processing'"),
])
def test_a_bad_registry_is_refused(engine, handlers, message):
    with pytest.raises(ValueError) as err:
        ExternalTaskWorker(engine, handlers, settings())
    assert message in str(err.value)


def test_engine_outage_while_reporting_is_retried(engine):
    approved(engine, "k1")
    calls = {"n": 0}
    original = engine.complete

    def flaky(task_id, worker_id, variables=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise EngineUnavailable(engine.name)
        return original(task_id, worker_id, variables)

    engine.complete = flaky
    worker = ExternalTaskWorker(engine, [Handler()], settings())
    worker.run_once()
    assert calls["n"] == 2 and worker.processed == 1
    assert engine.instance("k1").state == InstanceState.COMPLETED


# --- outages of our own infrastructure are not failed attempts ---------------------------------

def test_a_handler_that_finds_a_dependency_down_gives_the_task_back_without_using_a_retry(engine, caplog):
    from pflow.domain.errors import ServiceUnavailable

    approved(engine, "k1")
    outage = {"left": 2}

    def work(task):
        if outage["left"]:
            outage["left"] -= 1
            raise ServiceUnavailable("database", "the database at db:5432/pflow is unreachable; start PostgreSQL")
        return {"fulfilment_reference": "REF"}

    worker = ExternalTaskWorker(engine, [Handler(work)], settings(retry_backoff_ms=10))
    for _ in range(2):
        assert worker.run_once() == 1
        wait_until(lambda: engine.automated_steps("k1")[0].lock_expires_at is None, timeout=2)
        time.sleep(0.25)  # the postponement's pause (it grows with each one)
    assert [f["retries"] for f in engine.failures] == [3, 3]  # retries untouched (3 is "none used yet")
    assert [f["timeout"] for f in engine.failures] == [100, 200]
    assert all(f["message"] == "postponed, not a failed attempt: Database is unavailable; try again in a moment."
               for f in engine.failures)  # what the engine (and Cockpit) shows carries no internal address
    assert worker.failed == 0 and worker.postponed == 2
    wait_until(lambda: worker.run_once() == 1, timeout=2)
    assert engine.instance("k1").state == InstanceState.COMPLETED
    assert "not counted as a failed attempt (3 retries still left)" in caplog.text


def test_a_failure_of_the_step_itself_still_uses_a_retry(engine):
    from pflow.ports.provisioning import ProvisioningError

    approved(engine, "k1")

    def fail(task):
        raise ProvisioningError("quota exceeded")

    worker = ExternalTaskWorker(engine, [Handler(fail)], settings())
    worker.run_once()
    assert [f["retries"] for f in engine.failures] == [2] and worker.failed == 1 and worker.postponed == 0


def test_the_last_failed_attempt_says_no_retry_is_left_not_a_negative_pause(engine, caplog):
    approved(engine, "k1")

    def fail(task):
        raise RuntimeError("backend down")

    worker = ExternalTaskWorker(engine, [Handler(fail)], settings(max_retries=1))
    worker.run_once()
    assert "failed with no retry left; the engine raises an incident: RuntimeError: backend down" in caplog.text
    assert "-1 ms" not in caplog.text


def test_an_incident_the_store_cannot_record_is_logged_and_the_worker_carries_on(engine, caplog):
    from pflow.domain.errors import ServiceUnavailable

    approved(engine, "k1")
    approved(engine, "k2")

    class Failing(Handler):
        def on_incident(self, task, error):
            raise ServiceUnavailable("database", "the database is unreachable")

    worker = ExternalTaskWorker(engine, [Failing(lambda task: (_ for _ in ()).throw(RuntimeError("no")))],
                                settings(max_retries=1))
    assert worker.run_once() == 2  # both tasks ran: the first incident did not stop the second
    assert engine.instance("k1").state == InstanceState.INCIDENT  # the engine holds the fact
    assert "reconciliation takes it from the engine's incident" in caplog.text
    assert "Traceback" not in caplog.text


def test_the_fetch_loop_names_what_came_back(engine, started, caplog):
    import logging

    from pflow.domain.errors import ServiceUnavailable

    caplog.set_level(logging.INFO, logger="pflow.runtime.worker")
    original = engine.fetch_and_lock
    down = {"on": True}

    def fetch(*args, **kwargs):
        if down["on"]:
            raise ServiceUnavailable("database", "the database is unreachable")
        return original(*args, **kwargs)

    engine.fetch_and_lock = fetch
    started(ExternalTaskWorker(engine, [Handler()], settings()))
    wait_until(lambda: "the database is unreachable" in caplog.text, timeout=5)
    down["on"] = False
    wait_until(lambda: "worker w1: database reachable again" in caplog.text, timeout=5)


def test_the_ticket_is_told_a_completed_steps_results_and_a_failed_one_without(engine):
    """``on_progress`` gets the task and the variables it was completed with, so the ticket can record them; a step
    that failed for good is reported by its business key alone."""
    approved(engine, "T-OK")
    told: list[tuple] = []
    worker = ExternalTaskWorker(engine, [Handler()], settings(), on_progress=lambda *args: told.append(args))
    assert worker.run_once() == 1
    [(key, task, results)] = told
    assert key == "T-OK" and task.business_key == "T-OK" and task.activity_id
    assert results == {"fulfilment_reference": "REF-T-OK"}

    told.clear()
    approved(engine, "T-BAD")
    failing = ExternalTaskWorker(engine, [Handler(lambda task: 1 / 0)], settings(max_retries=1),
                                 on_progress=lambda *args: told.append(args))
    assert failing.run_once() == 1
    assert told == [("T-BAD",)]


def test_a_bpmn_error_from_a_handler_goes_to_the_process_without_a_retry_or_an_incident(engine):
    from pflow.domain.errors import BpmnError

    approved(engine, "k1")
    progressed = []

    def refuse(task):
        raise BpmnError("NO_LICENCE", "no licence left", {"licences_left": 0})

    handler = Handler(refuse)
    worker = ExternalTaskWorker(engine, [handler], settings(), on_progress=lambda key, *rest: progressed.append(key))
    worker.run_once()
    assert engine.failures == [] and handler.incidents == []
    assert (worker.business_errors, worker.failed, worker.processed) == (1, 0, 0)
    view = engine.instance("k1")
    # The seed process catches no error on its step: the execution ends there, as on Camunda 7.
    assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, None)
    assert view.variables["licences_left"] == 0 and engine.automated_steps("k1") == []
    assert progressed == ["k1"]


def test_a_bpmn_error_needs_a_code():
    from pflow.domain.errors import BpmnError

    with pytest.raises(ValueError, match="code"):
        BpmnError("  ")
