"""What every benchmark shares: sizes per mode, services and their skips, statistics, the report's shapes.

A benchmark module has ``KEY``, ``TITLE`` and ``run(ctx) -> Section``. ``Section`` holds a summary
(figure, peer or limit, ratio, goal, met) and tables; ``report.py`` turns the sections into
docs/benchmarks.md. Benchmarks print figures and assert nothing about time.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pflow.config import normalise_database_url  # noqa: E402

MODES = ("smoke", "quick", "full")

DEFAULT_PG = "postgresql://pflow:pflow@localhost:5432/pflow_bench"
DEFAULT_CAMUNDA = "http://localhost:8081/engine-rest"
DEFAULT_AMQP = "amqp://guest:guest@localhost:5672/"


def _camunda_auth(env) -> tuple[str, str]:
    """The user the benchmarks call Camunda's REST API as (it runs with authentication on):
    PFLOW_BENCH_CAMUNDA_USERNAME / _PASSWORD, else CAMUNDA_USERNAME / CAMUNDA_PASSWORD, else the local
    test engine's dev-only user (deploy/camunda-dev: pflow, CAMUNDA_DEV_PASSWORD or its default)."""
    user = env.get("PFLOW_BENCH_CAMUNDA_USERNAME") or env.get("CAMUNDA_USERNAME") or "pflow"
    password = (env.get("PFLOW_BENCH_CAMUNDA_PASSWORD") or env.get("CAMUNDA_PASSWORD")
                or env.get("CAMUNDA_DEV_PASSWORD") or "pflow-dev-only")
    return user, password


CAMUNDA_AUTH = _camunda_auth(os.environ)
#: the same as PFlow's settings, for processes the benchmarks start (PFlow, the other clients)
CAMUNDA_AUTH_ENV = {"CAMUNDA_USERNAME": CAMUNDA_AUTH[0], "CAMUNDA_PASSWORD": CAMUNDA_AUTH[1]}


class Skipped(Exception):
    """A part of a benchmark cannot run here (a service or tool is missing); the message says why."""


class ServiceMissing(RuntimeError):
    """Under PFLOW_REQUIRE_SERVICES=1 a missing service fails the run instead of skipping."""


@dataclass
class Context:
    mode: str = "quick"
    repeat: int = 1
    services: bool = True  # False: skip every part that needs PostgreSQL, RabbitMQ or Camunda (smoke test)
    require: bool = False  # PFLOW_REQUIRE_SERVICES=1: a missing service is an error
    pg_url: str = DEFAULT_PG
    camunda_url: str = DEFAULT_CAMUNDA
    amqp_url: str = DEFAULT_AMQP
    work: Path = ROOT / "var" / "bench"
    versions: dict[str, str] = field(default_factory=dict)

    def size(self, smoke: Any, quick: Any, full: Any) -> Any:
        return {"smoke": smoke, "quick": quick, "full": full}[self.mode]

    @property
    def quick(self) -> bool:
        return self.mode != "full"

    def need(self, name: str, probe: Callable[[], object], hint: str) -> None:
        """Raise ``Skipped`` (or ``ServiceMissing`` under PFLOW_REQUIRE_SERVICES=1) when ``probe`` fails."""
        if not self.services:
            raise Skipped(f"{name}: services are off for this run (--no-services)")
        try:
            probe()
        except Exception as exc:  # any failure to reach it counts as missing
            reason = f"{name} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); {hint}"
            if self.require:
                raise ServiceMissing(f"PFLOW_REQUIRE_SERVICES=1 but {reason}") from None
            raise Skipped(reason) from None

    def need_tool(self, name: str, hint: str) -> str:
        path = shutil.which(name)
        if path is None:
            reason = f"{name} is not installed; {hint}"
            if self.require:
                raise ServiceMissing(f"PFLOW_REQUIRE_SERVICES=1 but {reason}")
            raise Skipped(reason)
        return path


def log(message: str) -> None:
    print(message, flush=True)


# ----------------------------------------------------------------------------------------- tickets

#: The ticket every flow benchmark pushes through: the default type (it_request, deploy/workflows/it-request.type.yaml)
#: on the seed's process (ticket-process.bpmn: a manager's decision, then the provisioning step).
TICKET_TYPE = "it_request"
PROCESS_KEY = "ticket_approval"
TICKET_FIELDS = {"amount": 1200, "priority": "normal"}


def ticket_data(i: int, title: str = "Laptop") -> dict[str, Any]:
    """What TicketService.create (and POST /api/tickets) takes for benchmark ticket ``i``."""
    return {"type": TICKET_TYPE, "title": f"{title} {i}", "fields": dict(TICKET_FIELDS)}


def process_variables(key: str, i: int) -> dict[str, Any]:
    """The variables PFlow starts the process with for that ticket (TicketService: its fields, id, type, title,
    requester), for the benchmarks that drive an engine without the ticket service."""
    return {**TICKET_FIELDS, "ticket_id": key, "ticket_type": TICKET_TYPE, "title": f"Laptop {i}",
            "requester": "alice"}


def catalog(process_key: str | None = None):
    """The shipped ticket types; ``process_key`` runs the default type on another process (a benchmark's copy)."""
    from pflow.adapters.catalog import FileTicketTypeCatalog
    from pflow.config import Settings

    types = FileTicketTypeCatalog.from_folder(Settings.workflows_dir)
    return types.with_process(types.default.key, process_key) if process_key else types


# ----------------------------------------------------------------------------------------- statistics

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class Spread:
    """Repeated measurements of one figure: the median is reported, the range shows the noise."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, fmt: str = "{:.0f}") -> str:
        mid = fmt.format(self.median)
        if len(self.values) < 2:
            return mid
        return f"{mid} ({fmt.format(min(self.values))}–{fmt.format(max(self.values))})"


def ratio_spread(ours: list[float], peer: list[float]) -> Spread:
    """Per-round ratios (rounds are interleaved, so each ratio compares runs made side by side)."""
    return Spread([a / b for a, b in zip(ours, peer) if b])


# ----------------------------------------------------------------------------------------- results

@dataclass
class SummaryRow:
    figure: str  # what was measured, with its unit ("pflow worker, tasks/s")
    value: str  # shown as is (median and range)
    peer: str = ""  # the peer or limit it is compared with
    peer_value: str = ""
    ratio: str = ""  # "ours ÷ peer" (or "figure ÷ limit" for ceilings)
    goal: str = ""
    met: bool | None = None  # None: no goal for this row


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    key: str
    title: str
    setup: str = ""  # one paragraph: what runs, sizes, settings
    summary: list[SummaryRow] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    limits: str = ""  # "what limits this", shown when a goal is missed
    skipped: list[str] = field(default_factory=list)  # parts that could not run, with why
    mode: str = ""
    measured_at: str = ""
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0
    machine: str = ""  # set when the part ran on another machine than the run the header describes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Section":
        data = dict(data)
        data["summary"] = [SummaryRow(**row) for row in data.get("summary", [])]
        data["tables"] = [Table(**table) for table in data.get("tables", [])]
        return cls(**data)


def met_text(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


# ----------------------------------------------------------------------------------------- machine

def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def machine() -> dict[str, str]:
    memory = "n/a"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or "n/a"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": str(os.cpu_count()), "memory": memory, "cpu": cpu,
            "os": f"{platform.system()} {platform.release()}"}


def base_versions() -> dict[str, str]:
    import importlib.metadata as md
    import sqlite3

    import pflow

    out = {"Python": platform.python_version(), "PFlow": pflow.__version__}
    for dist in ("SpiffWorkflow", "SQLAlchemy", "Flask", "waitress"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = "not installed"
    out["SQLite"] = sqlite3.sqlite_version
    return out


def command_version(args: list[str], pick: Callable[[str], str] = lambda s: s.splitlines()[0]) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30)
        return pick((done.stdout or done.stderr).strip())
    except (OSError, subprocess.SubprocessError, IndexError):
        return "n/a"


# ----------------------------------------------------------------------------------------- services

def pg_url(ctx: Context) -> str:
    return normalise_database_url(ctx.pg_url)


def ensure_pg_database(ctx: Context) -> str:
    """Create the benchmark database (default pflow_bench) if missing, through the same role (it has CREATEDB)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(pg_url(ctx))
    name = url.database
    try:
        probe = create_engine(url, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
        probe.dispose()
        return pg_url(ctx)
    except Exception as exc:
        if f'database "{name}" does not exist' not in str(exc):
            raise
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        log(f"created PostgreSQL database {name}")
    finally:
        admin.dispose()
    return pg_url(ctx)


def need_postgres(ctx: Context) -> str:
    ctx.need("PostgreSQL", lambda: ensure_pg_database(ctx),
             "start it with `.ci/services.sh` (or set PFLOW_BENCH_DATABASE_URL)")
    if "PostgreSQL" not in ctx.versions:
        from sqlalchemy import create_engine, text

        engine = create_engine(pg_url(ctx))
        with engine.connect() as conn:
            ctx.versions["PostgreSQL"] = conn.execute(text("SHOW server_version")).scalar().split()[0]
        engine.dispose()
    return pg_url(ctx)


def need_camunda(ctx: Context) -> str:
    import requests

    def probe():
        answer = requests.get(f"{ctx.camunda_url}/version", auth=CAMUNDA_AUTH, timeout=5)
        answer.raise_for_status()
        ctx.versions["Camunda"] = answer.json()["version"]

    ctx.need("Camunda", probe, "start it with `make camunda-up` (or set PFLOW_BENCH_CAMUNDA_URL / CAMUNDA_URL, "
                               "and CAMUNDA_USERNAME / CAMUNDA_PASSWORD)")
    return ctx.camunda_url


def need_rabbitmq(ctx: Context) -> str:
    from kombu import Connection

    def probe():
        with Connection(ctx.amqp_url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)

    ctx.need("RabbitMQ", probe, "start it with `.ci/services.sh` (or set PFLOW_BENCH_RABBITMQ_URL)")
    return ctx.amqp_url


# ----------------------------------------------------------------------------------------- processes

def rss_mb(pid: int) -> tuple[float, float]:
    """(resident set size, its peak) of a process in MB (10^6 bytes), from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, amount, _unit = line.split()  # kB means KiB here
            values[key[:-1]] = int(amount) * 1024 / 1e6
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pid_listening_on(port: int) -> int | None:
    """The pid of the local process listening on a TCP port (best effort: needs `ss` and the right to see it)."""
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    marker = "pid="
    if marker not in out:
        return None
    return int(out.split(marker, 1)[1].split(",", 1)[0])


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")
        time.sleep(0.1)


def dump_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def env_context(mode: str = "quick", repeat: int = 1, services: bool = True) -> Context:
    """A context from the environment: PFLOW_BENCH_DATABASE_URL (default the pflow_bench database, created
    if missing), PFLOW_BENCH_CAMUNDA_URL or CAMUNDA_URL, PFLOW_BENCH_RABBITMQ_URL, PFLOW_REQUIRE_SERVICES."""
    env = os.environ
    return Context(mode=mode, repeat=repeat, services=services, require=env.get("PFLOW_REQUIRE_SERVICES") == "1",
                   pg_url=env.get("PFLOW_BENCH_DATABASE_URL") or DEFAULT_PG,
                   camunda_url=(env.get("PFLOW_BENCH_CAMUNDA_URL") or env.get("CAMUNDA_URL")
                                or DEFAULT_CAMUNDA).rstrip("/"),
                   amqp_url=env.get("PFLOW_BENCH_RABBITMQ_URL") or DEFAULT_AMQP)
