"""Item 9: the same external-task clients on each engine PFlow runs on: Camunda 7.24, Operaton, and the
embedded engine's external-task REST (`pflow serve`, the default of `make run`).

* Camunda's Java client (benchmarks/java-client, its tuned settings of item 1) drains N waiting tasks from
  each engine's REST: Camunda's and Operaton's `/engine-rest` (the test engines of deploy/camunda-dev and
  deploy/operaton-dev), and PFlow's own under `pflow serve` on the embedded engine (SQLite, PFlow's
  built-in worker off, so the client gets every task; each completion there also moves the ticket on).
* PFlow's worker (tuned as in item 1) drains N waiting tasks from Camunda and from Operaton.

Rounds are interleaved (every contender once per round, the order rotating), so each ratio compares runs
made minutes apart on the same machine. CPU seconds of the engine's process are read from /proc.

    .venv/bin/python benchmarks/engines.py [--mode quick|full] [--repeat N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    CAMUNDA_AUTH,
    Context,
    Section,
    Skipped,
    Spread,
    SummaryRow,
    Table,
    cpu_seconds,
    log,
    need_camunda,
    pid_listening_on,
    ratio_spread,
)
from benchmarks.worker_throughput import JAVA_TUNED, PFLOW_TUNED, build_java, _drain_java, _drain_pflow  # noqa: E402

KEY = "engines"
TITLE = "9. One worker, three engines: Camunda 7.24, Operaton and the embedded engine's REST"
DEFAULT_OPERATON = "http://127.0.0.1:8082/engine-rest"
#: the worker credential `pflow serve` is given for its external-task REST in this benchmark
REST_USER, REST_PASSWORD = "bench-worker", "bench-worker-password-for-benchmarks-only"
TOPIC = "ticket-processing"


@dataclass
class Contender:
    name: str
    engine: str  # camunda | operaton | embedded
    kind: str  # java | pflow
    rates: list[float] = field(default_factory=list)
    engine_cpu: list[float] = field(default_factory=list)  # ms per task


def need_operaton(ctx: Context) -> str:
    import requests

    url = (os.environ.get("PFLOW_BENCH_OPERATON_URL") or DEFAULT_OPERATON).rstrip("/")

    def probe():
        answer = requests.get(f"{url}/version", auth=CAMUNDA_AUTH, timeout=5)
        answer.raise_for_status()
        ctx.versions["Operaton"] = answer.json()["version"]

    ctx.need("Operaton", probe, "start it with `make operaton-up` (or set PFLOW_BENCH_OPERATON_URL)")
    return url


class EmbeddedRest:
    """`pflow serve` on the embedded engine with its external-task REST on, and tickets waiting at the
    automated step: IT requests (the default type) submitted and approved through PFlow's API."""

    def __init__(self, data_dir: Path) -> None:
        from benchmarks.served import ApiDriver, Served

        self.served = Served(data_dir, env={"PFLOW_DEMO_USERS": "1", "PFLOW_SERVE_WORKER": "0",
                                            "PFLOW_ENGINE_REST_USERNAME": REST_USER,
                                            "PFLOW_ENGINE_REST_PASSWORD": REST_PASSWORD})
        self.url = f"{self.served.url}/engine-rest"
        self.pid = self.served.proc.pid
        self.driver = ApiDriver(self.served.url, threads=4)
        self.topic = TOPIC

    def start_waiting(self, count: int) -> None:
        before = self.driver.awaiting_worker()
        self.driver.many(count, lambda i: (True, "approve"))
        waiting = self.driver.awaiting_worker() - before
        if waiting < count:
            raise RuntimeError(f"only {waiting} of {count} tickets reached the automated step")

    def waiting(self) -> int:
        return self.driver.awaiting_worker()

    def close(self) -> None:
        self.served.stop()


def contenders(engines: list[str]) -> list[Contender]:
    names = {"camunda": "Camunda 7.24", "operaton": "Operaton", "embedded": "PFlow's embedded REST"}
    lineup = [Contender(f"Java client (tuned) on {names[e]}", e, "java") for e in engines]
    lineup += [Contender(f"PFlow worker (tuned) on {names[e]}", e, "pflow") for e in engines if e != "embedded"]
    return lineup


def run(ctx: Context) -> Section:
    from benchmarks.camunda_support import BenchProcess

    section = Section(KEY, TITLE)
    urls = {"camunda": need_camunda(ctx)}
    try:
        urls["operaton"] = need_operaton(ctx)
    except Skipped as exc:
        section.skipped.append(str(exc))
    build_java(ctx)
    count = ctx.size(10, 60, 1000)
    work = Path(tempfile.mkdtemp(prefix="engines-", dir=ctx.work if ctx.work.exists() else None))
    embedded = EmbeddedRest(work)
    urls["embedded"] = embedded.url
    pids = {"embedded": embedded.pid}
    for name in ("camunda", "operaton"):
        if name in urls and urlparse(urls[name]).hostname in ("localhost", "127.0.0.1", "::1"):
            pids[name] = pid_listening_on(urlparse(urls[name]).port or 80)
    lineup = contenders([e for e in ("camunda", "operaton", "embedded") if e in urls])
    processes = []
    try:
        for round_ in range(ctx.repeat):
            order = lineup[round_ % len(lineup):] + lineup[:round_ % len(lineup)]
            for contender in order:
                if contender.engine == "embedded":
                    process = embedded
                    process.start_waiting(count)
                else:
                    # a process key and topic of this drain's own (item 1 says why)
                    process = BenchProcess(urls[contender.engine], own_topic=True).deploy()
                    processes.append(process)
                    process.start_waiting(count, prefix=f"e{round_}")
                pid = pids.get(contender.engine)
                engine_cpu = cpu_seconds(pid) if pid else None
                if contender.kind == "java":
                    auth_env = ({"CAMUNDA_USERNAME": REST_USER, "CAMUNDA_PASSWORD": REST_PASSWORD}
                                if contender.engine == "embedded" else None)
                    elapsed, _cpu = _drain_java(urls[contender.engine], process, count, JAVA_TUNED, auth_env)
                else:
                    elapsed, _cpu = _drain_pflow(urls[contender.engine], process, count, PFLOW_TUNED)
                if engine_cpu is not None:
                    contender.engine_cpu.append((cpu_seconds(pid) - engine_cpu) / count * 1000)
                left = process.waiting()
                if left:
                    raise RuntimeError(f"{contender.name} left {left} tasks behind")
                contender.rates.append(count / elapsed)
                log(f"  round {round_ + 1}: {contender.name:42} {count / elapsed:7.1f} tasks/s")
                time.sleep(0.5)
    finally:
        for process in processes:
            process.close()
        embedded.close()

    by = {(c.engine, c.kind): c for c in lineup}
    java_embedded = by[("embedded", "java")]
    for engine in ("camunda", "operaton"):
        peer = by.get((engine, "java"))
        if peer is not None:
            section.summary.append(SummaryRow(
                "Java client on PFlow's embedded REST, tasks/s", Spread(java_embedded.rates).text("{:.0f}"),
                peer.name.replace("Java client (tuned) on ", "Java client on "), Spread(peer.rates).text("{:.0f}"),
                ratio_spread(java_embedded.rates, peer.rates).text("{:.2f}×")))
    if ("operaton", "pflow") in by:
        ours, peer = by[("operaton", "pflow")], by[("camunda", "pflow")]
        section.summary.append(SummaryRow(
            "PFlow worker on Operaton, tasks/s", Spread(ours.rates).text("{:.0f}"), "PFlow worker on Camunda 7.24",
            Spread(peer.rates).text("{:.0f}"), ratio_spread(ours.rates, peer.rates).text("{:.2f}×")))
    reference = by[("camunda", "java")]
    rows = [[c.name, Spread(c.rates).text("{:.0f}"),
             Spread(c.engine_cpu).text("{:.2f}") if c.engine_cpu else "n/a",
             ratio_spread(c.rates, reference.rates).text("{:.2f}×")] for c in lineup]
    section.tables.append(Table(
        f"{count} waiting tasks per drain, no-op handler, tasks per second (median and range of {ctx.repeat} "
        "interleaved round(s)); CPU per task of the engine's process (for the embedded REST: `pflow serve`, "
        "which also moves each ticket on)", ["contender", "tasks/s", "engine CPU ms/task",
                                             "this ÷ Java client on Camunda"], rows))
    versions = ", ".join(f"{name} {ctx.versions[name]}" for name in ("Camunda", "Operaton") if name in ctx.versions)
    section.setup = (
        f"The test engines ({versions}: Spring Boot, H2 file database, REST with basic authentication) and "
        "`pflow serve` on the embedded engine (SQLite, its external-task REST on, PFlow's own worker off), all "
        f"on the same machine as the clients. Each drain: {count} tasks waiting at the automated step (on Camunda "
        "and Operaton instances started there under a process key and topic of this drain; on the embedded "
        "engine IT requests submitted and approved through PFlow's API). Java client: "
        + ", ".join(f"{k} {v}" for k, v in JAVA_TUNED.items())
        + "; PFlow worker: " + ", ".join(f"{k} {v}" for k, v in PFLOW_TUNED.items()) + ".")
    section.notes.append(
        "A completion on the embedded REST does more than on Camunda: PFlow's ticket follows its process in the "
        "same request (the step's result recorded, the ticket completed, its events written), as when PFlow's "
        "own worker completes the step.")
    return section


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("smoke", "quick", "full"), default="quick")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    from benchmarks.common import env_context
    from benchmarks.report import print_section

    print_section(run(env_context(args.mode, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
