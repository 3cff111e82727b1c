"""The embedded engine beyond the port's contract: restarts, versions, concurrency, queries.

Runs on a SQLite file, and on PostgreSQL under the ``integration`` mark.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from pflow.adapters.spiff import SpiffWorkflowEngine, tables
from pflow.adapters.database.engine import create_db_engine
from pflow.domain.errors import EngineUnavailable, ValidationError
from pflow.ports.process import InstanceState
from tests.support import BPMN, embedded_database_url, make_embedded_engine

KINDS = [pytest.param("embedded", id="sqlite"),
         pytest.param("embedded-postgres", id="postgres", marks=pytest.mark.integration)]
# The seed's process, as tests/support.BPMN deploys it: its names live in the BPMN, not in the ports.
PROCESS = "ticket_approval"
TOPIC = "ticket-processing"

TOPICS = [TOPIC]


def user_task(engine, key):
    """The ticket process's one open user task for the key, or None."""
    tasks = engine.open_tasks(key)
    return tasks[0] if tasks else None


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def engines(kind, tmp_path):
    """Makes engine objects on one database, as separate processes would have (own SQLAlchemy engine each)."""
    made = []

    def make(**options):
        engine = make_embedded_engine(kind, tmp_path, fresh=not made, **options)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def approve(engine, key, **variables):
    engine.start(PROCESS, key, {"requester": "alice"})
    task = user_task(engine, key)
    engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob", **variables},
                         completed_by="bob")


def test_a_new_engine_object_resumes_every_waiting_instance(engines):
    first = engines()
    first.deploy(BPMN)
    first.start(PROCESS, "t-1", {"requester": "alice"})
    first.close()

    second = engines()
    task = user_task(second, "t-1")
    assert task is not None and task.candidate_groups == ("managers",)
    second.complete_task(task.id, {"approved": True, "comment": "ok", "approver": "bob"}, completed_by="bob")
    second.close()

    third = engines()
    [ext] = third.fetch_and_lock("w1", TOPICS, lock_duration_ms=10_000)
    assert ext.business_key == "t-1" and ext.variables["requester"] == "alice"
    third.complete(ext.id, "w1", {"fulfilment_reference": "PRV-1"})
    state = third.instance("t-1")
    assert state.state == InstanceState.COMPLETED
    assert state.completed_activity_ids == ("TicketSubmitted", "ManagerApproval", "ApprovalDecision",
                                            "ProvisionService", "Completed")
    assert state.variables == {"requester": "alice", "approved": True, "comment": "ok", "approver": "bob",
                               "fulfilment_reference": "PRV-1"}


def test_an_instance_keeps_its_definition_when_a_new_version_is_deployed(engines, tmp_path):
    engine = engines()
    [v1] = engine.deploy(BPMN)
    engine.start(PROCESS, "old", {})
    changed = tmp_path / "ticket-process.bpmn"
    changed.write_text(BPMN.read_text().replace('name="Manager Approval"', 'name="Manager Review"'))
    [v2] = engine.deploy(changed)
    assert (v1.version, v2.version) == (1, 2) and v1.definition_id != v2.definition_id
    [again] = engines().deploy(changed)  # the same content is the same version, also after a restart
    assert (again.definition_id, again.version, again.created) == (v2.definition_id, 2, False)

    restarted = engines()
    assert user_task(restarted, "old").name == "Manager Approval"
    restarted.start(PROCESS, "new", {})
    assert user_task(restarted, "new").name == "Manager Review"
    assert restarted.instance("old").definition_id == v1.definition_id
    assert "Manager Review" not in restarted.definition_xml(v1.definition_id)
    assert "Manager Review" in restarted.definition_xml(restarted.latest_definition_id(PROCESS))
    approve(restarted, "old-2")  # starts on v2
    task = user_task(restarted, "old")
    restarted.complete_task(task.id, {"approved": False, "comment": "no", "approver": "bob"}, completed_by="bob")
    assert restarted.instance("old").state == InstanceState.COMPLETED


def test_open_user_tasks_are_found_by_candidate_group(engines):
    engine = engines()
    engine.deploy(BPMN)
    for key in ("g-1", "g-2"):
        engine.start(PROCESS, key, {})
    found = engine.find_user_tasks(candidate_group="managers")
    assert [t.business_key for t in found] == ["g-1", "g-2"]
    assert engine.find_user_tasks(candidate_group="admins") == []
    assert [t.business_key for t in engine.find_user_tasks(candidate_group="managers", business_key="g-2")] == ["g-2"]
    approve(engine, "g-1")
    assert [t.business_key for t in engine.find_user_tasks(candidate_group="managers")] == ["g-2"]
    assert [t.business_key for t in engine.find_external_tasks_by_topic(TOPIC)] == ["g-1"]


def test_fetchers_in_several_processes_never_share_a_task(engines):
    """Two engine objects with their own connection pools stand for two processes; each has threads."""
    setup = engines()
    setup.deploy(BPMN)
    keys = [f"c-{i}" for i in range(24)]
    for key in keys:
        approve(setup, key)
    fetchers = [engines(), engines()]
    locked: list[tuple[str, str]] = []
    first_batches: dict[str, int] = {}
    guard = threading.Lock()
    errors: list[BaseException] = []
    start, first_round_done = threading.Barrier(6), threading.Barrier(6)

    def fetch_all(engine, worker):
        try:
            start.wait()  # every fetcher races for the same tasks at once
            while True:
                tasks = engine.fetch_and_lock(worker, TOPICS, max_tasks=3, lock_duration_ms=60_000)
                with guard:
                    first = worker not in first_batches
                    first_batches.setdefault(worker, len(tasks))
                    locked.extend((t.id, worker) for t in tasks)
                if first:
                    first_round_done.wait()  # nobody takes a second batch before all took a first
                if not tasks:
                    return
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch_all, args=(engine, f"w{n}-{i}"))
               for n, engine in enumerate(fetchers) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = [task_id for task_id, _ in locked]
    assert len(ids) == len(keys) and len(set(ids)) == len(keys)
    # 24 tasks for 6 fetchers of 3: however the race went, every first fetch found 3 tasks free.
    assert first_batches == {f"w{n}-{i}": 3 for n in range(2) for i in range(3)}


def test_concurrent_starts_of_one_key_create_one_instance(engines):
    setup = engines()
    setup.deploy(BPMN)
    starters = [engines() for _ in range(2)]
    barrier = threading.Barrier(4)
    results: list = []

    def start(engine):
        barrier.wait()
        results.append(engine.start(PROCESS, "same", {"requester": "alice"}))

    threads = [threading.Thread(target=start, args=(starters[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.created for r in results) == 1 and len({r.id for r in results}) == 1
    assert len(setup.find_user_tasks(business_key="same")) == 1


def test_a_waiting_fetch_sees_a_task_created_by_another_process(engines, kind):
    # SQLite has no notifications between processes: a waiting fetch re-checks every 0.25 s. On PostgreSQL
    # re-checks are switched off here, so only LISTEN/NOTIFY can deliver the task within the wait.
    quiet = {} if kind == "embedded" else dict(poll_interval_s=120, notified_recheck_s=120)
    waiting, other = engines(**quiet), engines()
    waiting.deploy(BPMN)
    other.start(PROCESS, "x-1", {})
    result: list = []
    thread = threading.Thread(target=lambda: result.extend(
        waiting.fetch_and_lock("w1", TOPICS, lock_duration_ms=10_000, wait_ms=20_000)))
    thread.start()
    time.sleep(0.3)
    task = user_task(other, "x-1")
    other.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
    thread.join(25)
    assert [t.business_key for t in result] == ["x-1"]


def test_interrupt_waits_ends_a_long_poll(engines):
    engine = engines()
    engine.deploy(BPMN)
    result: list = []
    thread = threading.Thread(target=lambda: result.append(engine.fetch_and_lock("w1", TOPICS, wait_ms=60_000)))
    thread.start()
    time.sleep(0.2)
    engine.interrupt_waits()
    thread.join(10)
    assert not thread.is_alive() and result == [[]]


PARALLEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="ticket_approval" isExecutable="true">
    <bpmn:startEvent id="Begin" />
    <bpmn:parallelGateway id="Fork" />
    <bpmn:serviceTask id="Account" camunda:type="external" camunda:topic="account" />
    <bpmn:serviceTask id="Laptop" camunda:type="external" camunda:topic="laptop" />
    <bpmn:parallelGateway id="Join" />
    <bpmn:endEvent id="Done" />
    <bpmn:sequenceFlow id="f1" sourceRef="Begin" targetRef="Fork" />
    <bpmn:sequenceFlow id="f2" sourceRef="Fork" targetRef="Account" />
    <bpmn:sequenceFlow id="f3" sourceRef="Fork" targetRef="Laptop" />
    <bpmn:sequenceFlow id="f4" sourceRef="Account" targetRef="Join" />
    <bpmn:sequenceFlow id="f5" sourceRef="Laptop" targetRef="Join" />
    <bpmn:sequenceFlow id="f6" sourceRef="Join" targetRef="Done" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_parallel_branches_wait_for_each_other(engines, tmp_path):
    path = tmp_path / "parallel.bpmn"
    path.write_text(PARALLEL)
    engine = engines()
    engine.deploy(path)
    engine.start(PROCESS, "p-1", {"who": "alice"})
    assert sorted(engine.instance("p-1").active_activity_ids) == ["Account", "Laptop"]
    [account] = engine.fetch_and_lock("w1", ["account"])
    engine.complete(account.id, "w1", {"account": "a-1"})
    state = engine.instance("p-1")
    assert state.state == InstanceState.ACTIVE and state.active_activity_ids == ("Laptop",)
    [laptop] = engines().fetch_and_lock("w2", ["laptop"])
    engines().complete(laptop.id, "w2", {"laptop": "l-1"})
    state = engine.instance("p-1")
    assert state.state == InstanceState.COMPLETED and state.completed_activity_ids[-1] == "Done"
    assert {"Account", "Laptop", "Join"} <= set(state.completed_activity_ids)
    assert state.variables == {"who": "alice", "account": "a-1", "laptop": "l-1"}


def test_a_condition_that_cannot_be_evaluated_refuses_the_completion_and_changes_nothing(engines, tmp_path):
    path = tmp_path / "amount.bpmn"
    path.write_text(BPMN.read_text().replace("${approved}</", "${approved &amp;&amp; amount &lt; 1000}</"))
    engine = engines()
    engine.deploy(path)
    engine.start(PROCESS, "a-1", {})
    task = user_task(engine, "a-1")
    with pytest.raises(ValidationError) as err:
        engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob"}, completed_by="bob")
    assert "ApprovalDecision" in err.value.message and "unknown variable 'amount'" in err.value.message
    assert user_task(engine, "a-1").id == task.id
    assert engine.instance("a-1").variables == {}
    engine.complete_task(task.id, {"approved": True, "comment": "", "approver": "bob", "amount": 10}, completed_by="bob")
    assert engine.instance("a-1").active_activity_ids == ("ProvisionService",)


def test_variables_must_be_json(engines):
    engine = engines()
    engine.deploy(BPMN)
    with pytest.raises(ValidationError) as err:
        engine.start(PROCESS, "j-1", {"when": object()})
    assert "'when'" in err.value.message
    assert engine.instance("j-1") is None


def test_state_is_stored_compactly_and_without_the_spec(engines, kind, tmp_path):
    engine = engines()
    engine.deploy(BPMN)
    approve(engine, "s-1")
    db = create_db_engine(embedded_database_url(kind, tmp_path))
    try:
        with db.connect() as conn:
            serialized = conn.execute(select(tables.instances.c.serialized)
                                      .where(tables.instances.c.business_key == "s-1")).scalar_one()
    finally:
        db.dispose()
    assert '"spec"' not in serialized and len(serialized) < 8000


def test_missing_tables_say_what_to_run(tmp_path):
    engine = SpiffWorkflowEngine(create_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    with pytest.raises(EngineUnavailable) as err:
        engine.check()
    assert "tables are missing" in err.value.message and "migrations" in err.value.message


def test_the_container_builds_the_embedded_engine_on_a_database_only(tmp_path):
    from pflow.config import ConfigError, Settings
    from pflow.container import build_container, shutdown

    memory = build_container(Settings(workflow_engine="embedded", database_url="memory://", data_dir=tmp_path))
    with pytest.raises(ConfigError) as err:
        memory.workflow_engine()
    assert "DATABASE_URL" in str(err.value) and "sqlite:///" in str(err.value)
    shutdown(memory)

    url = f"sqlite:///{tmp_path / 'pflow.db'}"
    container = build_container(Settings(workflow_engine="embedded", database_url=url, data_dir=tmp_path))
    try:
        engine = container.workflow_engine()
        assert isinstance(engine, SpiffWorkflowEngine)
        tables.create_schema(container.db_engine())
        assert engine.deploy(BPMN)[0].version == 1
        key = str(uuid.uuid4())
        engine.start(PROCESS, key, {})
        assert user_task(engine, key) is not None
    finally:
        shutdown(container)
