"""The embedded engine with several processes: the 0005 migration of engine rows written before it,
and the rules beyond the port's contract suite (tests/contract/test_process_engine.py)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import MetaData, insert, inspect, select, text

from pflow.adapters.memory.workflow import InMemoryWorkflowEngine
from pflow.adapters.spiff import SpiffWorkflowEngine, tables
from pflow.adapters.spiff.values import add_duration as _add_duration, due_ms as _due_ms
from pflow.adapters.database.engine import create_db_engine
from pflow.adapters.database.migrate import alembic_config, upgrade
from pflow.domain.errors import EngineUnavailable, ValidationError
from pflow.ports.process import InstanceState, TaskLockedByOtherWorker
from tests.support import BPMN, pg_url, require_postgres, reset_postgres

PROCESS, TOPIC = "ticket_approval", "ticket-processing"
APPROVE = {"approved": True, "comment": "", "approver": "bob"}


def _copy_as_0004(source, target) -> None:
    """Copy the engine rows of ``source`` (today's schema) into a database at 0004, keeping only the
    columns 0004 has and history entries as 0004 wrote them ([activity, ms, actor])."""
    old = MetaData()
    old.reflect(target)
    with source.connect() as src, target.begin() as dst:
        for table in tables.ALL_TABLES:
            if table.name not in old.tables:
                continue  # a table added after 0004
            columns = [c.name for c in old.tables[table.name].columns]
            rows = [dict(r._mapping) for r in src.execute(select(*(table.c[c] for c in columns)))]
            for row in rows:
                if "history" in row:
                    row["history"] = [entry[:3] for entry in row["history"]]
            if rows:
                dst.execute(insert(old.tables[table.name]), rows)


def _empty_database(kind: str, tmp_path):
    """A database with no tables: a new SQLite file, or the test PostgreSQL's schema dropped."""
    if kind == "sqlite":
        return create_db_engine(f"sqlite:///{tmp_path / 'pflow.db'}")
    require_postgres()
    db = create_db_engine(pg_url())
    with db.begin() as conn:
        schema = conn.execute(text("SELECT current_setting('search_path')")).scalar().split(",")[0].strip()
        schema = "public" if schema.strip('"') == "$user" else schema.strip('"')
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return db


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def test_migration_0005_upgrades_a_0004_database_with_engine_rows(kind, tmp_path):
    scratch = create_db_engine(f"sqlite:///{tmp_path / 'scratch.db'}")
    tables.create_schema(scratch)
    before = SpiffWorkflowEngine(scratch)
    before.deploy(BPMN)
    before.start(PROCESS, "waits-for-approval", {"requester": "alice"})
    before.start(PROCESS, "waits-for-worker", {"requester": "erin"})
    [task] = before.open_tasks("waits-for-worker")
    before.complete_task(task.id, APPROVE, completed_by="bob")
    before.close()

    db = _empty_database(kind, tmp_path)
    upgrade(db, "0004_details")
    assert "process_key" not in {c["name"] for c in inspect(db).get_columns("wf_user_tasks")}
    _copy_as_0004(scratch, db)
    upgrade(db, "0005_engine_scoping")

    columns = {c["name"] for c in inspect(db).get_columns("wf_user_tasks")}
    assert {"process_key", "definition_id", "candidate_users", "due_ms"} <= columns
    with db.connect() as conn:
        instances = {r.id: r for r in conn.execute(select(tables.instances))}
        for table in (tables.user_tasks, tables.external_tasks):
            rows = conn.execute(select(table)).all()
            assert rows, table.name
            for row in rows:
                assert row.process_key == PROCESS
                assert row.definition_id == instances[row.instance_id].definition_id
        [definition] = conn.execute(select(tables.definitions.c.id, tables.definitions.c.deployment_id)).all()
        assert definition.deployment_id

    upgrade(db)  # the engine runs on today's schema: the later migrations carry the 0005 rows along
    engine = SpiffWorkflowEngine(db)
    try:
        [waiting] = engine.open_tasks("waits-for-approval")
        assert (waiting.process_key, waiting.definition_key, waiting.candidate_groups) == (
            PROCESS, "ManagerApproval", ("managers",))
        assert waiting.candidate_users == () and waiting.due is None
        engine.complete_task(waiting.id, {**APPROVE, "approved": False}, completed_by="dave")
        assert engine.instance("waits-for-approval").end_activity_id == "Rejected"

        # History written before 0005 has no task ids: completed steps still list who completed them.
        [done] = engine.completed_tasks("waits-for-worker")
        assert (done.definition_key, done.completed_by) == ("ManagerApproval", "bob") and done.id
        [step] = engine.automated_steps("waits-for-worker")
        assert step.activity_name == "Provision Service"
        [fetched] = engine.fetch_and_lock("w1", [TOPIC], business_key="waits-for-worker")
        engine.complete(fetched.id, "w1")
        assert engine.instance("waits-for-worker").end_activity_id == "Completed"
        # The same file again is the version already there.
        [again] = engine.deploy(BPMN)
        assert not again.created and again.definition_id == definition.id
    finally:
        engine.close()

    command.downgrade(alembic_config(db), "0004_details")
    assert "process_key" not in {c["name"] for c in inspect(db).get_columns("wf_external_tasks")}
    db.dispose()
    scratch.dispose()
    if kind == "postgres":
        reset_postgres(rebuild=True)  # the schema at head again, for the tests after this one


@pytest.fixture
def engine():
    e = InMemoryWorkflowEngine()
    e.deploy(BPMN)
    yield e
    e.close()


def _assignee_file(tmp_path, assignee: str):
    xml = BPMN.read_text().replace('camunda:candidateGroups="managers"', f'camunda:assignee="{assignee}"')
    path = tmp_path / "assigned.bpmn"
    path.write_text(xml)
    return path


def test_an_assignee_expression_over_a_missing_variable_refuses_the_start_and_changes_nothing(tmp_path):
    engine = InMemoryWorkflowEngine()
    try:
        engine.deploy(_assignee_file(tmp_path, "${requester}"))
        with pytest.raises(ValidationError) as err:
            engine.start(PROCESS, "no-requester", {"title": "x"})
        assert "ManagerApproval" in err.value.message and "unknown variable 'requester'" in err.value.message
        assert engine.instance("no-requester") is None
        engine.start(PROCESS, "with-requester", {"requester": "erin"})
        assert engine.open_tasks("with-requester")[0].assignee == "erin"
    finally:
        engine.close()


def test_only_the_worker_holding_a_task_may_unlock_it(engine):
    engine.start(PROCESS, "k", {})
    engine.complete_task(engine.open_tasks("k")[0].id, APPROVE, completed_by="bob")
    [task] = engine.fetch_and_lock("w1", [TOPIC], business_key="k")
    with pytest.raises(TaskLockedByOtherWorker):
        engine.unlock(task.id, "w2")
    engine.unlock(task.id, "w1")
    assert engine.fetch_and_lock("w2", [TOPIC], business_key="k")[0].id == task.id


def test_the_in_memory_engine_can_be_switched_off_and_on(engine):
    engine.start(PROCESS, "k", {})
    engine.available = False
    for call in (lambda: engine.open_tasks("k"), lambda: engine.start(PROCESS, "k2", {}), engine.check,
                 lambda: engine.fetch_and_lock("w", [TOPIC]), lambda: engine.deploy(BPMN)):
        with pytest.raises(EngineUnavailable) as err:
            call()
        assert "in-memory engine" in err.value.message
    engine.available = True
    assert len(engine.open_tasks("k")) == 1 and engine.instance("k").state == InstanceState.ACTIVE


def test_in_memory_engines_are_separate_and_share_the_embedded_engines_rules():
    first, second = InMemoryWorkflowEngine(), InMemoryWorkflowEngine()
    try:
        assert isinstance(first, SpiffWorkflowEngine)
        first.deploy(BPMN)
        first.start(PROCESS, "k", {})
        with pytest.raises(Exception):
            second.start(PROCESS, "k", {})  # nothing deployed there
        assert second.instance("k") is None
    finally:
        first.close()
        second.close()


def test_the_in_memory_engine_takes_calls_from_many_threads(engine):
    errors: list[BaseException] = []

    def flow(i: int) -> None:
        try:
            key = f"t-{i}"
            engine.start(PROCESS, key, {"requester": "alice"})
            engine.complete_task(engine.open_tasks(key)[0].id, APPROVE, completed_by="bob")
            [task] = engine.fetch_and_lock(f"w{i}", [TOPIC], business_key=key)
            engine.complete(task.id, f"w{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=flow, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(engine.instance(f"t-{i}").end_activity_id == "Completed" for i in range(8))


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


@pytest.mark.parametrize("duration, expected", [
    ("P3D", "2026-01-04T10:00:00"),
    ("PT4H30M", "2026-01-01T14:30:00"),
    ("P1M", "2026-02-01T10:00:00"),
    ("P1W", "2026-01-08T10:00:00"),
    ("P1Y2M", "2027-03-01T10:00:00"),
])
def test_due_durations_count_from_the_tasks_creation(duration, expected):
    assert _add_duration(_ms("2026-01-01T10:00:00"), duration) == _ms(expected)


def test_a_month_from_the_31st_ends_on_the_last_day_of_the_next_month():
    assert _add_duration(_ms("2026-01-31T10:00:00"), "P1M") == _ms("2026-02-28T10:00:00")


def test_due_dates_that_are_neither_a_date_time_nor_a_duration_name_the_attribute():
    assert _due_ms("2030-01-02T03:04:05Z", 0, "here") == _ms("2030-01-02T03:04:05")
    assert _due_ms(None, 0, "here") is None
    for bad in ("tomorrow", "P", "PT", "P3X"):
        with pytest.raises(ValidationError) as err:
            _due_ms(bad, 0, "process 'p', user task 'T'")
        assert "dueDate" in err.value.details and "user task 'T'" in err.value.message


@pytest.mark.parametrize("kind", ["embedded", pytest.param("embedded-postgres", marks=pytest.mark.integration)])
def test_concurrent_deploys_of_one_file_make_one_version(kind, tmp_path):
    """As when `pflow serve` and `pflow worker` start together: each deploys the same files."""
    from tests.support import make_embedded_engine

    engines = [make_embedded_engine(kind, tmp_path, fresh=(i == 0)) for i in range(4)]
    results: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def deploy(engine):
        barrier.wait()
        try:
            results.extend(engine.deploy(BPMN))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert sum(d.created for d in results) == 1 and {d.version for d in results} == {1}
        assert len({d.definition_id for d in results}) == 1
        assert engines[0].latest_definition_id(PROCESS) == results[0].definition_id
    finally:
        for e in engines:
            e.close()


def test_the_camunda_adapter_is_scoped_to_the_processes_pflow_deploys(tmp_path):
    """On a shared Camunda, PFlow's workers take only the tasks of PFlow's own processes."""
    import shutil

    from pflow.config import REPO_ROOT, Settings
    from pflow.container import camunda_scope

    shipped = REPO_ROOT / "deploy" / "workflows"
    assert camunda_scope(Settings(workflow_engine="camunda", workflows_dir=shipped)) == [
        "access_request", "expense_claim", "purchase_request", "ticket_approval"]
    extra = tmp_path / "more [v2].bpmn"  # a file name with glob characters is one file, not a pattern
    shutil.copy(REPO_ROOT / "tests" / "bdd" / "processes" / "contract-review.bpmn", extra)
    scope = camunda_scope(Settings(workflow_engine="camunda", workflows_dir=shipped, bpmn_file=extra,
                                   camunda_process_key="ticket_approval_eu"))
    assert scope == ["access_request", "contract_review", "expense_claim", "purchase_request", "ticket_approval",
                     "ticket_approval_eu"]
