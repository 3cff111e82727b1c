"""Item 3: full ticket flows per second on the embedded engine, against raw SpiffWorkflow.

* PFlow: create → submit → approve → provision → completed through the use cases (TicketService
  and the worker's ProvisioningHandler), tickets and engine state in one database, the way
  `pflow serve` runs them (SQLAlchemy ticket store with history and outbox, SpiffWorkflowEngine).
* engine only: the same calls of the process ports (ProcessEngine, ExternalTasks) that PFlow's flow makes,
  without the ticket store.
* raw SpiffWorkflow (the limit): the same BPMN parsed once, one row per instance holding the
  SpiffWorkflow JSON (without the spec, as PFlow stores it), three transactions per flow
  (start, approve, complete), in the same database with the same engine settings.

All run one flow after another in one thread, interleaved round by round in the same process.

    .venv/bin/python benchmarks/engine_flows.py [--mode quick|full] [--repeat N]
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    PROCESS_KEY,
    Context,
    Section,
    Skipped,
    Spread,
    SummaryRow,
    Table,
    log,
    need_postgres,
    process_variables,
    ratio_spread,
    ticket_data,
)
from pflow.ports.process import InstanceState  # noqa: E402

KEY = "flows"
TITLE = "3. Embedded engine: full flows per second"
GOAL = 0.5


def _bpmn() -> Path:
    from pflow.config import REPO_ROOT

    return REPO_ROOT / "deploy" / "workflows" / "ticket-process.bpmn"


def reset_database(url: str) -> None:
    """An empty database: SQLite files are fresh per run; the PostgreSQL benchmark database is wiped."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# ------------------------------------------------------------------------------------- raw SpiffWorkflow

class RawSpiff:
    """SpiffWorkflow driven by hand: parse once, keep one JSON row per instance."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import Column, MetaData, String, Table, Text

        from pflow.adapters.spiff.bpmn import ConditionEngine, load_definition, make_serializer
        from pflow.adapters.database.engine import create_db_engine

        self.db = create_db_engine(url)
        metadata = MetaData()
        self.table = Table("bench_raw_instances", metadata, Column("id", String(36), primary_key=True),
                           Column("state", Text, nullable=False))
        metadata.drop_all(self.db)
        metadata.create_all(self.db)
        self.parsed = load_definition(_bpmn().read_text(encoding="utf-8"), "ticket-process.bpmn", PROCESS_KEY)
        self.serializer = make_serializer()
        self.script_engine = ConditionEngine()

    def _dump(self, workflow) -> str:
        dct = self.serializer.to_dict(workflow)
        dct.pop("spec")
        dct.pop("subprocess_specs")
        return json.dumps(dct, separators=(",", ":"))

    def _load(self, state: str):
        dct = json.loads(state)
        dct["spec"] = self.parsed.spec
        dct["subprocess_specs"] = dict(self.parsed.subprocess_specs)
        workflow = self.serializer.from_dict(dct)
        workflow.script_engine = self.script_engine
        return workflow

    def flow(self, i: int) -> None:
        from sqlalchemy import insert, select, update
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.task import TaskState

        from pflow.adapters.spiff.bpmn import ApprovalUserTaskSpec, ExternalTaskSpec

        t = self.table
        instance_id = str(uuid.uuid4())
        with self.db.begin() as conn:
            workflow = BpmnWorkflow(self.parsed.spec, self.parsed.subprocess_specs, script_engine=self.script_engine)
            workflow.task_tree.data.update(process_variables(instance_id, i))
            workflow.do_engine_steps()
            conn.execute(insert(t).values(id=instance_id, state=self._dump(workflow)))
        with self.db.begin() as conn:
            workflow = self._load(conn.execute(select(t.c.state).where(t.c.id == instance_id)).scalar_one())
            [task] = [x for x in workflow.get_tasks(state=TaskState.READY)
                      if isinstance(x.task_spec, ApprovalUserTaskSpec)]
            task.data.update({"approved": True, "comment": "ok"})
            task.run()
            workflow.do_engine_steps()
            conn.execute(update(t).where(t.c.id == instance_id).values(state=self._dump(workflow)))
        with self.db.begin() as conn:
            workflow = self._load(conn.execute(select(t.c.state).where(t.c.id == instance_id)).scalar_one())
            [task] = [x for x in workflow.get_tasks(state=TaskState.STARTED)
                      if isinstance(x.task_spec, ExternalTaskSpec)]
            task.data.update({"fulfilment_reference": f"PRV-{i}"})
            task.complete()
            workflow.do_engine_steps()
            if not workflow.is_completed():
                raise AssertionError("the raw SpiffWorkflow flow did not complete")
            conn.execute(update(t).where(t.c.id == instance_id).values(state=self._dump(workflow)))

    def close(self) -> None:
        self.db.dispose()


# ------------------------------------------------------------------------------------- PFlow

class UseCaseFlows:
    """The full flow through TicketService and the worker's handler on the embedded engine (``engine="stub"``:
    on an engine that answers from a dict, benchmarks/stub_engine.py, which leaves the ticket store's share)."""

    def __init__(self, url: str, data_dir: Path, engine: str = "embedded") -> None:
        from dependency_injector import providers

        from pflow.config import Settings
        from pflow.container import build_container, migrate_database
        from pflow.domain.users import User

        from benchmarks.stub_engine import StubProcessEngine

        reset_database(url)
        settings = Settings(workflow_engine="memory" if engine == "stub" else engine, database_url=url,
                            rabbitmq_url="memory://", data_dir=data_dir, secret_key="bench-secret-of-32-bytes-or-more-for-benchmarks",
                            ui_dir=data_dir / "no-ui", worker_id="bench-flows")
        self.container = build_container(settings)
        if engine == "stub":
            self.container.workflow_engine.override(providers.Object(
                StubProcessEngine(PROCESS_KEY, settings.provisioning_topic, _bpmn())))
        migrate_database(self.container)
        self.container.workflow_engine().deploy(_bpmn())
        self.tickets = self.container.tickets()
        self.worker = self.container.worker()  # run_once(): fetch and handle in this thread
        self.port_engine = self.container.workflow_engine()  # what the service (through its bulkhead) and worker call
        self.alice = User("alice", "Alice", frozenset({"requester"}))
        self.bob = User("bob", "Bob", frozenset({"manager"}))
        self.last = None

    def flow(self, i: int) -> None:
        ticket = self.tickets.create(self.alice, ticket_data(i))
        self.tickets.submit(self.alice, ticket.id)
        self.tickets.approve(self.bob, ticket.id, "ok")
        if self.worker.run_once() != 1:
            raise AssertionError("the provisioning task was not there after approve")
        self.last = ticket.id

    def check(self) -> None:
        from pflow.domain.model import TicketStatus

        if self.last and self.tickets.get(self.bob, self.last).status != TicketStatus.COMPLETED:
            raise AssertionError("the last flow's ticket is not completed")

    def close(self) -> None:
        from pflow.container import shutdown

        shutdown(self.container)


class EngineOnlyFlows:
    """The calls of the process ports that one PFlow flow makes (TicketService and the worker, as counted on
    its engine), in the same order, without the ticket store: submit starts the instance and reads where it
    is; the approval completes the task and reads again; the worker fetches, completes, and the ticket reads
    the end reached."""

    def __init__(self, url: str) -> None:
        from pflow.adapters.spiff import SpiffWorkflowEngine, tables
        from pflow.adapters.database.engine import create_db_engine
        from pflow.config import Settings

        reset_database(url)
        self.db = create_db_engine(url)
        tables.create_schema(self.db)
        self.engine = SpiffWorkflowEngine(self.db)
        self.engine.deploy(_bpmn())
        self.port_engine = self.engine
        self.topic = Settings.provisioning_topic
        self._models: dict = {}

    def _progress(self, key: str):
        """What TicketService reads after each command (``_progress``): the instance with its open tasks."""
        read = self.engine.progress(key)
        if read is None:
            raise AssertionError(f"no instance for {key}")
        if not read.running and read.definition_id not in self._models:  # TicketService caches the model
            self._models[read.definition_id] = self.engine.model(read.definition_id)
        return read, list(read.tasks)

    def flow(self, i: int) -> None:
        key = str(uuid.uuid4())
        self.engine.start(PROCESS_KEY, key, process_variables(key, i))
        _, [task] = self._progress(key)
        self.engine.complete_task(task.id, {"approved": True, "comment": "ok"}, completed_by="bob")
        self._progress(key)
        [ext] = self.engine.fetch_and_lock("bench", [self.topic], lock_duration_ms=30_000)
        self.engine.complete(ext.id, "bench", {"fulfilment_reference": f"PRV-{i}"})
        view, _ = self._progress(key)
        if view.state != InstanceState.COMPLETED:
            raise AssertionError(f"the engine-only flow did not complete ({view.state})")

    def close(self) -> None:
        self.engine.close()
        self.db.dispose()


def _timed(runner, count: int, warmup: int) -> tuple[float, float]:
    """(flows per second, CPU ms per flow) over ``count`` flows after ``warmup`` unmeasured ones."""
    for i in range(warmup):
        runner.flow(i)
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        runner.flow(warmup + i)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    return count / elapsed, cpu / count * 1000


def _count_sql(runner, flows: int) -> tuple[float, float]:
    """(SQL statements, transactions) per flow, counted on the runner's database engines."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: Counter = Counter()

    def statement(conn, cursor, sql, params, context, executemany):
        word = sql.lstrip().split(None, 1)[0].upper()
        counts["commit" if word == "COMMIT" else "statements"] += 1

    def commit(conn):
        counts["commit"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", commit)
    try:
        for i in range(flows):
            runner.flow(10_000 + i)
    finally:
        event.remove(Engine, "before_cursor_execute", statement)
        event.remove(Engine, "commit", commit)
    return counts["statements"] / flows, counts["commit"] / flows


PORT_METHODS = ("deploy", "start", "cancel", "open_tasks", "task", "complete_task", "instance", "progress",
                "automated_steps", "completed_tasks", "retry_step", "model", "definition_xml", "latest_definition_id", "fetch_and_lock",
                "complete", "fail", "extend_lock", "unlock")


def _count_port_calls(runner, flows: int) -> float:
    """Calls of the process ports (ProcessEngine, ExternalTasks) per flow, counted on the runner's engine: the
    engine-only runner is meant to make the calls PFlow's flow makes, and this shows whether it does."""
    engine = runner.port_engine
    counts: Counter = Counter()

    def counting(name, method):
        def call(*args, **kwargs):
            counts[name] += 1
            return method(*args, **kwargs)
        return call

    patched = [name for name in PORT_METHODS if hasattr(engine, name)]
    for name in patched:
        setattr(engine, name, counting(name, getattr(engine, name)))
    try:
        for i in range(flows):
            runner.flow(20_000 + i)
    finally:
        for name in patched:
            delattr(engine, name)  # the class's method again
    runner.port_calls = {name: n / flows for name, n in sorted(counts.items())}
    return sum(counts.values()) / flows


def measure(label: str, make_url, ctx: Context) -> dict:
    """Interleaved rounds of raw, PFlow and engine-only flows on one kind of database."""
    count = ctx.size(15, 60, 500)
    warmup = ctx.size(3, 10, 30)
    names = ["raw", "pflow", "engine", "tickets"]
    results: dict[str, list[float]] = {key: [] for name in names for key in (name, f"{name}_cpu")}
    sql: dict[str, tuple[float, float]] = {}
    ports: dict[str, dict[str, float]] = {}
    for round_ in range(ctx.repeat):
        order = names if round_ % 2 == 0 else ["pflow", "raw", "tickets", "engine"]
        for name in order:
            with tempfile.TemporaryDirectory(prefix="pflow-bench-flows-") as tmp:
                url = make_url(Path(tmp))
                runner = (RawSpiff(url) if name == "raw" else UseCaseFlows(url, Path(tmp)) if name == "pflow"
                          else UseCaseFlows(url, Path(tmp), "stub") if name == "tickets" else EngineOnlyFlows(url))
                try:
                    rate, cpu = _timed(runner, count, warmup)
                    if name in ("pflow", "tickets"):
                        runner.check()
                    if name not in sql:
                        sql[name] = _count_sql(runner, 5)
                    if name in ("pflow", "engine") and name not in ports:
                        _count_port_calls(runner, 3)
                        ports[name] = runner.port_calls
                finally:
                    runner.close()
            results[name].append(rate)
            results[f"{name}_cpu"].append(cpu)
            log(f"  {label}, round {round_ + 1}: {name:6} {rate:7.1f} flows/s ({cpu:.1f} ms CPU per flow)")
    return {"label": label, "count": count, **results, "sql": sql, "ports": ports}


def run(ctx: Context) -> Section:
    section = Section(KEY, TITLE)
    measured = [measure("SQLite", lambda tmp: f"sqlite:///{tmp / 'bench.db'}", ctx)]
    try:
        pg = need_postgres(ctx)
        measured.append(measure("PostgreSQL", lambda tmp: pg, ctx))
    except Skipped as exc:
        section.skipped.append(str(exc))
    rows = []
    for m in measured:
        ratio = ratio_spread(m["pflow"], m["raw"])
        section.summary.append(SummaryRow(
            figure=f"PFlow full flow on {m['label']}, flows/s", value=Spread(m["pflow"]).text("{:.0f}"),
            peer="raw SpiffWorkflow, same database", peer_value=Spread(m["raw"]).text("{:.0f}"),
            ratio=f"{ratio.text('{:.0%}')}", goal=f"≥ {GOAL:.0%} of raw", met=ratio.median >= GOAL))
        for name, what in (("pflow", "PFlow: use cases + worker handler (tickets, history, outbox, engine)"),
                           ("engine", "its engine share: the embedded engine through its port only"),
                           ("tickets", "its ticket share: the same use cases on a stub engine (a dict)"),
                           ("raw", "raw SpiffWorkflow: one JSON row per instance")):
            statements, commits = m["sql"].get(name, (0.0, 0.0))
            port_calls = m["ports"].get(name)
            rows.append([m["label"], what, Spread(m[name]).text("{:.0f}"), Spread(m[f"{name}_cpu"]).text("{:.1f}"),
                         f"{statements:.0f}", f"{commits:.0f}",
                         f"{sum(port_calls.values()):.0f}" if port_calls else ""])
        if m["ports"].get("pflow") != m["ports"].get("engine"):
            section.notes.append(f"{m['label']}: the engine-only flow's port calls differ from PFlow's "
                                 f"(PFlow {m['ports'].get('pflow')}, engine only {m['ports'].get('engine')}).")
    section.tables.append(Table("Flows per second, one thread, one flow after another (median and range of the "
                                "rounds); process-port calls: ProcessEngine and ExternalTasks methods called per flow",
                                ["database", "what runs", "flows/s", "CPU ms per flow", "SQL statements per flow",
                                 "commits per flow", "process-port calls per flow"], rows))
    section.setup = (f"{measured[0]['count']} flows per round after a warm-up, {ctx.repeat} interleaved round(s); "
                     "each round on a fresh database (SQLite file in WAL mode as `pflow serve` creates it; the "
                     "PostgreSQL benchmark database wiped). Raw SpiffWorkflow parses the BPMN once and keeps the "
                     "instance's JSON (without the spec, as PFlow stores it) in one row, three transactions per flow; "
                     "PFlow runs the use cases with the ticket store, its history and outbox, and the engine's "
                     "task tables.")
    section.limits = LIMITS
    return section


LIMITS = (
    "A PFlow flow does what the raw loop skips. Its two shares are measured separately in the table: the "
    "ticket share (the same use cases on a stub engine that answers the process ports from a dict: ORM "
    "transactions that read the ticket with its history, change it, write a history row, the inbox's step "
    "rows and an outbox event, and check the version) and the engine share (the embedded engine through "
    "its ports, making the calls PFlow's flow makes, counted in the last column: besides start, completion "
    "and fetch-and-lock, one read of where the process is after every command (``progress``: the instance, "
    "its open tasks and automated steps in one transaction), since a ticket's status is read from its "
    "process; plus the tables that make tasks findable and lockable by other processes and "
    "fetch-and-lock as its own transaction). Each share alone costs more than the whole raw loop, so the "
    "full flow cannot come near half of raw without dropping one of them. Profiling (pyinstrument, "
    "cProfile) showed SQLAlchemy's per-statement Python work, not SQLite, dominating; fixed on the way: the "
    "engine built its statements on every call (now prebuilt with bind parameters) and single-ticket reads "
    "ran a second query for the history (now joined); the three reads of the process after each command "
    "(instance, open tasks, automated steps) became one, and the service no longer reads again a ticket it "
    "has just read or written. Then (2026-12-02): units of work registered four session hooks on every "
    "session (about 0.15 ms each time, six units of work per flow), now once on the session class; an "
    "approval records its step on the ticket it read before completing it, and the worker follows its step "
    "from its handler's read (``TicketRepository.attach``: three ticket reads fewer per flow, the versioned "
    "UPDATE still refuses a ticket written meanwhile). Side by side with the single-flow model (the last "
    "commit before process-driven tickets, d949896, run on the same machine the same day): 94 (72-104) "
    "flows/s on SQLite and 35 (33-39) on PostgreSQL, 10.4 and 17.1 ms CPU per flow, against raw 489 and "
    "185 in that run; the process model's figures are in the table. What remains is the ORM's "
    "unit-of-work cost per ticket transaction, the process read after each command, and SpiffWorkflow's "
    "own (de)serialization, which raw pays too."
)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("smoke", "quick", "full"), default="quick")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    from benchmarks.common import env_context
    from benchmarks.report import print_section

    section = run(env_context(args.mode, args.repeat))

    print_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
