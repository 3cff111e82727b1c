"""Item 1: external-task worker throughput on one Camunda 7.24, PFlow's worker against the clients a user would pick.

N process instances wait at the provisioning task (topic and process key of this run's own); each
contender drains them with a no-op handler that completes the task. Time: from the worker's start
(after the JVM or interpreter started) to the last completion answered. Contenders:

* PFlow's worker (ExternalTaskWorker on the Camunda adapter), with its defaults and tuned;
* Camunda's Java client (org.camunda.bpm:camunda-external-task-client 7.24.0, benchmarks/java-client),
  with its documented defaults and tuned;
* camunda-external-task-client-python3 from PyPI (its own virtualenv under var/bench), defaults and tuned.

Rounds are interleaved (every contender once per round, the order rotating), so each ratio compares
runs made minutes apart on the same engine. CPU seconds of the client and of Camunda (when it runs on
this machine) are read from /proc.

    .venv/bin/python benchmarks/worker_throughput.py [--mode quick|full] [--repeat N]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    BENCH,
    CAMUNDA_AUTH,
    CAMUNDA_AUTH_ENV,
    Context,
    Section,
    Skipped,
    Spread,
    SummaryRow,
    Table,
    command_version,
    cpu_seconds,
    log,
    need_camunda,
    pid_listening_on,
    ratio_spread,
)

KEY = "worker"
TITLE = "1. Worker throughput on Camunda 7.24"
JAVA_DIR = BENCH / "java-client"
JAVA_JAR = JAVA_DIR / "target" / "drain-bench.jar"
PYCLIENT = "camunda-external-task-client-python3==4.5.0"

# PFlow's tuned run: more handler slots (PFLOW_WORKER_CONCURRENCY), so each fetch-and-lock, which costs
# Camunda about as much CPU as completing three tasks (measured), brings back a batch; the best of 4, 16,
# 32 and 64 tried. Everything else as shipped.
PFLOW_TUNED = {"concurrency": 32}
# The Java client's tuned run: four clients (it runs handlers one at a time per client), bigger batches
# and long polling instead of back-off; the best of the settings tried (1, 2, 4 or 8 clients, batches of 10 or 50).
JAVA_TUNED = {"clients": "4", "max-tasks": "50", "async-response-timeout": "10000"}
# The Python client's tuned run: bigger batches (its defaults fetch one task per request).
PY_TUNED = {"maxTasks": 50, "asyncResponseTimeout": 10000}


@dataclass
class Contender:
    name: str
    settings: str
    kind: str  # pflow | java | python
    options: dict
    rates: list[float] = field(default_factory=list)
    client_cpu: list[float] = field(default_factory=list)  # ms per task
    engine_cpu: list[float] = field(default_factory=list)  # ms per task


class NoOpHandler:
    def __init__(self, topic: str) -> None:
        self.topic = topic

    def handle(self, task):
        return {}


def _drain_pflow(url: str, process, count: int, options: dict) -> tuple[float, float]:
    from pflow.adapters.camunda import CamundaWorkflowEngine
    from pflow.runtime.worker import ExternalTaskWorker, WorkerSettings

    engine = CamundaWorkflowEngine(url, process.key, auth=CAMUNDA_AUTH)
    worker = ExternalTaskWorker(engine, [NoOpHandler(process.topic)],
                                WorkerSettings(worker_id="pflow-drain", **options))
    cpu = time.process_time()
    began = time.perf_counter()
    worker.start()
    try:
        while worker.processed < count:
            if time.perf_counter() - began > 600:
                raise RuntimeError(f"the PFlow worker completed {worker.processed} of {count} tasks in 600 s")
            time.sleep(0.001)
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
    finally:
        worker.stop(timeout=10)
        engine.close()
    return elapsed, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _drain_process(args: list[str], auth_env: dict[str, str] | None = None) -> tuple[float, float]:
    cpu = _children_cpu()
    # The other clients read the credentials from the environment, as PFlow does (not from the command line).
    done = subprocess.run(args, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(CAMUNDA_AUTH_ENV if auth_env is None else auth_env)})
    cpu = _children_cpu() - cpu
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(args[:3])}… failed ({done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    result = json.loads(lines[-1])
    return result["seconds"], cpu


def _drain_java(url: str, process, count: int, options: dict,
                auth_env: dict[str, str] | None = None) -> tuple[float, float]:
    args = ["java", "-jar", str(JAVA_JAR), "--url", url, "--topic", process.topic, "--count", str(count)]
    for name, value in options.items():
        args += [f"--{name}", str(value)]
    return _drain_process(args, auth_env)


def _drain_python(ctx: Context, url: str, process, count: int, options: dict) -> tuple[float, float]:
    python = str(_pyclient_venv(ctx) / "bin" / "python")
    args = [python, str(BENCH / "pyclient_drain.py"), url, process.topic, str(count)]
    if options:
        args.append(json.dumps(options))
    return _drain_process(args)


def build_java(ctx: Context) -> None:
    ctx.need_tool("java", "install a Java 17 runtime (Debian: openjdk-17-jre-headless)")
    stale = not JAVA_JAR.exists() or any(p.stat().st_mtime > JAVA_JAR.stat().st_mtime
                                         for p in [JAVA_DIR / "pom.xml", *JAVA_DIR.joinpath("src").rglob("*.java")])
    if stale:
        ctx.need_tool("mvn", "install Maven 3.8+ (Debian: maven)")
        log("  building benchmarks/java-client (mvn -q -B package)…")
        done = subprocess.run(["mvn", "-q", "-B", "package"], cwd=JAVA_DIR, capture_output=True, text=True,
                              timeout=900)
        if done.returncode != 0 or not JAVA_JAR.exists():
            raise RuntimeError(f"building the Java client failed:\n{(done.stdout + done.stderr)[-2000:]}")
    ctx.versions["Camunda Java external-task client"] = "7.24.0"
    ctx.versions["Java"] = command_version(["java", "-version"],
                                           lambda s: s.split('"')[1] if '"' in s else s.splitlines()[0])


def _pyclient_venv(ctx: Context) -> Path:
    return ctx.work / "pyclient"


def install_pyclient(ctx: Context) -> None:
    venv = _pyclient_venv(ctx)
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"  installing {PYCLIENT} into {venv}…")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    check = subprocess.run([str(python), "-c", "import camunda.external_task.external_task_worker"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        # 4.5.0 imports pydantic without declaring it as a dependency.
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", PYCLIENT, "pydantic>=2"],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"installing {PYCLIENT} failed:\n{done.stderr[-1500:]}")
    version = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                              "print(m.version('camunda-external-task-client-python3'))"],
                             capture_output=True, text=True).stdout.strip()
    ctx.versions["camunda-external-task-client-python3"] = version or "n/a"


def contenders() -> list[Contender]:
    def describe(options: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in options.items())

    return [
        Contender("PFlow worker, defaults", "concurrency 4, lock 30 s, long polls of 10 s (2 s slices), "
                  "fetches as many tasks as free slots", "pflow", {}),
        Contender("PFlow worker, tuned", describe(PFLOW_TUNED) + "; otherwise defaults", "pflow", PFLOW_TUNED),
        Contender("Java client, defaults", "maxTasks 10, lockDuration 20 s, no long polling, exponential "
                  "back-off when idle; handlers run one after another on the fetch thread", "java", {}),
        Contender("Java client, tuned", describe(JAVA_TUNED), "java", JAVA_TUNED),
        Contender("Python client, defaults", "maxTasks 1, lockDuration 300 s, asyncResponseTimeout 30 s; "
                  "a new HTTP connection per call; one task after another", "python", {}),
        Contender("Python client, tuned", describe(PY_TUNED), "python", PY_TUNED),
    ]


def run(ctx: Context) -> Section:
    section = Section(KEY, TITLE)
    url = need_camunda(ctx)
    count = ctx.size(20, 80, 1000)
    lineup = contenders()
    try:
        build_java(ctx)
    except Skipped as exc:
        section.skipped.append(f"Java client: {exc}")
        lineup = [c for c in lineup if c.kind != "java"]
    try:
        install_pyclient(ctx)
    except Skipped as exc:
        section.skipped.append(f"Python client: {exc}")
        lineup = [c for c in lineup if c.kind != "python"]

    from benchmarks.camunda_support import BenchProcess

    camunda_pid = None
    host = urlparse(url).hostname
    if host in ("localhost", "127.0.0.1", "::1"):
        camunda_pid = pid_listening_on(urlparse(url).port or 80)
    # A fresh process key and topic for every drain: a client stopped while its long poll was open leaves
    # that poll on the engine, which would lock the next drain's tasks for a worker that is gone.
    processes = []
    try:
        for round_ in range(ctx.repeat):
            order = lineup[round_ % len(lineup):] + lineup[:round_ % len(lineup)]
            for contender in order:
                process = BenchProcess(url, own_topic=True).deploy()
                processes.append(process)
                process.start_waiting(count, prefix=f"r{round_}")
                engine_cpu = cpu_seconds(camunda_pid) if camunda_pid else None
                if contender.kind == "pflow":
                    elapsed, cpu = _drain_pflow(url, process, count, contender.options)
                elif contender.kind == "java":
                    elapsed, cpu = _drain_java(url, process, count, contender.options)
                else:
                    elapsed, cpu = _drain_python(ctx, url, process, count, contender.options)
                if engine_cpu is not None:
                    contender.engine_cpu.append((cpu_seconds(camunda_pid) - engine_cpu) / count * 1000)
                left = process.waiting()
                if left:
                    raise RuntimeError(f"{contender.name} left {left} tasks behind")
                contender.rates.append(count / elapsed)
                contender.client_cpu.append(cpu / count * 1000)
                log(f"  round {round_ + 1}: {contender.name:24} {count / elapsed:7.1f} tasks/s")
                time.sleep(0.5)  # let Camunda's history writes settle between contenders
    finally:
        for process in processes:
            process.close()

    by_name = {c.name: c for c in lineup}
    ours = by_name["PFlow worker, tuned"]
    ours_default = by_name["PFlow worker, defaults"]
    goals = {"Java client, defaults": 1.0, "Python client, defaults": 3.0}
    for peer_name in ("Java client, defaults", "Java client, tuned", "Python client, defaults",
                      "Python client, tuned"):
        peer = by_name.get(peer_name)
        if peer is None:
            continue
        ratio = ratio_spread(ours.rates, peer.rates)
        goal = goals.get(peer_name)
        section.summary.append(SummaryRow(
            "PFlow worker (tuned), tasks/s", Spread(ours.rates).text("{:.0f}"), peer.name,
            Spread(peer.rates).text("{:.0f}"), ratio.text("{:.2f}×"), f"≥ {goal:g}×" if goal else "",
            None if goal is None else ratio.median >= goal))
    if "Python client, defaults" in by_name:
        ratio = ratio_spread(ours_default.rates, by_name["Python client, defaults"].rates)
        section.summary.append(SummaryRow(
            "PFlow worker (defaults), tasks/s", Spread(ours_default.rates).text("{:.0f}"), "Python client, defaults",
            Spread(by_name["Python client, defaults"].rates).text("{:.0f}"), ratio.text("{:.2f}×")))
    rows = []
    for c in lineup:
        rows.append([c.name, c.settings, Spread(c.rates).text("{:.0f}"), Spread(c.client_cpu).text("{:.2f}"),
                     Spread(c.engine_cpu).text("{:.2f}") if c.engine_cpu else "n/a",
                     ratio_spread(ours.rates, c.rates).text("{:.2f}×")])
    section.tables.append(Table(
        f"{count} waiting tasks per drain, no-op handler, tasks per second (median and range of {ctx.repeat} "
        "interleaved round(s)); CPU per task of the client process (JVM start and JIT included for Java) and "
        "of Camunda", ["contender", "settings", "tasks/s", "client CPU ms/task", "Camunda CPU ms/task",
                       "PFlow tuned ÷ this"], rows))
    section.setup = (f"One Camunda {ctx.versions.get('Camunda', '7.24')} (the test engine: Spring Boot, H2 file "
                     f"database, REST) at {url}, on the same machine as the clients. Each drain: {count} instances "
                     "started straight at the provisioning task (a start instruction, the wait state approval leads "
                     "to), under a process key and topic of this run; the clock runs from the worker's start to the "
                     "last completion answered.")
    section.notes.append(
        "Camunda's fetch-and-lock costs its H2 database about 10–14 ms of CPU per call whatever the batch "
        "size, completing a task about 3–4 ms: clients that fetch a batch per call spend Camunda's CPU on "
        "completions, and on two cores shared by Camunda and the client the engine's CPU is what runs out "
        "first. That is why more Java client threads or bigger batches gain little, and why the Python "
        "client's default (one task per fetch, a new connection per call) is slow.")
    section.limits = ("Camunda's CPU: on these two cores the engine is busy for most of each drain (the Camunda "
                      "CPU column), so every client's figure is bounded by what the engine does per task; the "
                      "ratios, not the absolute rates, are what the comparison says.")
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
