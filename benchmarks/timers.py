"""Item 7 of the engine round: the embedded engine's durable timers.

Two figures, on SQLite (the `make run` default) and PostgreSQL:

* **timers fired per second**: N instances wait on an intermediate timer (PT1H); the engine's clock moves
  past it and `fire_due_timers` fires them all, once with one firer and once with two firers on the same
  database at the same time (as `pflow serve` and a `pflow worker` do), counting that each timer fired
  exactly once;
* **delay between due time and firing**: on the real clock, instances whose timers come due at spread
  times over a few seconds, fired by the loop `pflow serve` and `pflow worker` run (every
  `PFLOW_TIMER_INTERVAL_S`, default 1 s); the delay is when the instance moved minus when it was due.

    .venv/bin/python benchmarks/timers.py [--mode quick|full]
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    Context,
    Section,
    Spread,
    SummaryRow,
    Table,
    log,
    need_postgres,
    percentile,
)
from benchmarks.engine_flows import reset_database  # noqa: E402

KEY = "timers"
TITLE = "8. Embedded engine: durable timers"
INTERVAL_S = 1.0  # PFLOW_TIMER_INTERVAL_S's default

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="bench_timer_defs"
    targetNamespace="http://pflow.example/bench">
  <bpmn:process id="bench_timer" isExecutable="true">
    <bpmn:startEvent id="Begin"/>
    <bpmn:sequenceFlow id="F1" sourceRef="Begin" targetRef="Wait"/>
    <bpmn:intermediateCatchEvent id="Wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>${wait}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Done"/>
    <bpmn:endEvent id="Done"/>
  </bpmn:process>
</bpmn:definitions>
"""


class _Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def _engine(url: str, clock):
    from pflow.adapters.database.engine import create_db_engine
    from pflow.adapters.database.migrate import upgrade
    from pflow.adapters.spiff import SpiffWorkflowEngine

    db = create_db_engine(url)
    upgrade(db)
    return SpiffWorkflowEngine(db, clock=clock), db


def _throughput(url: str, count: int, firers: int, folder: Path) -> tuple[float, int]:
    """(timers fired per second, how many fired) for ``count`` due timers and ``firers`` concurrent firers."""
    reset_database(url)
    clock = _Clock()
    engines = [_engine(url, clock) for _ in range(firers)]
    first = engines[0][0]
    path = folder / "bench-timer.bpmn"
    path.write_text(BPMN, encoding="utf-8")
    first.deploy(path)
    for i in range(count):
        first.start("bench_timer", f"t-{i}", {"wait": "PT1H"})
    clock.offset += 3601
    fired: list[list[str]] = [[] for _ in engines]

    def fire(index: int) -> None:
        engine = engines[index][0]
        while True:
            keys = engine.fire_due_timers(limit=100)
            if not keys:
                return
            fired[index].extend(keys)

    began = time.perf_counter()
    threads = [threading.Thread(target=fire, args=(i,)) for i in range(firers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    keys = [k for part in fired for k in part]
    done = sum(1 for i in range(count) if first.instance(f"t-{i}").end_activity_id == "Done")
    for engine, db in engines:
        engine.close()
        db.dispose()
    if len(keys) != len(set(keys)) or done != count:
        raise AssertionError(f"{len(keys)} firings for {len(set(keys))} timers, {done} of {count} instances done")
    return count / seconds, len(keys)


def _delays(url: str, count: int, spread_s: int, folder: Path) -> list[float]:
    """Seconds from due time to firing for ``count`` timers due over ``spread_s`` seconds, fired by the
    interval loop of ``pflow serve``."""
    reset_database(url)
    engine, db = _engine(url, time.time)
    path = folder / "bench-timer.bpmn"
    path.write_text(BPMN, encoding="utf-8")
    engine.deploy(path)
    due: dict[str, float] = {}
    moved: dict[str, float] = {}
    stop = threading.Event()

    def loop() -> None:  # TimerFiring.run: ask every interval
        while not stop.wait(INTERVAL_S):
            for key in engine.fire_due_timers():
                moved.setdefault(key, time.time())

    thread = threading.Thread(target=loop)
    thread.start()
    for i in range(count):  # started evenly over spread_s, so due times fall at every phase of the interval
        key = f"d-{i}"
        started = time.time()
        engine.start("bench_timer", key, {"wait": "PT2S"})
        due[key] = started + 2
        time.sleep(spread_s / count)
    deadline = time.time() + spread_s + 10
    while len(moved) < count and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join()
    engine.close()
    db.dispose()
    if len(moved) < count:
        raise AssertionError(f"only {len(moved)} of {count} timers fired")
    return [moved[k] - due[k] for k in due]


def run(ctx: Context) -> Section:
    section = Section(KEY, TITLE)
    count = ctx.size(20, 200, 2000)
    delay_count = ctx.size(5, 30, 150)
    spread = ctx.size(2, 4, 8)
    databases: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="pflow-bench-timers-") as tmp:
        folder = Path(tmp)
        databases.append(("SQLite", f"sqlite:///{folder / 'timers.db'}"))
        try:
            databases.append(("PostgreSQL", need_postgres(ctx)))
        except Exception as exc:  # Skipped: the SQLite figures still count
            section.skipped.append(f"PostgreSQL: {exc}")
        rows, delay_rows = [], []
        for name, url in databases:
            one, two = [], []
            for round_ in range(ctx.repeat):  # interleaved: one firer, then two, each round
                if url.startswith("sqlite"):
                    Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
                rate, _ = _throughput(url, count, 1, folder)
                one.append(rate)
                if url.startswith("sqlite"):
                    Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
                rate, _ = _throughput(url, count, 2, folder)
                two.append(rate)
            log(f"  {name}: {Spread(one).text()} timers/s with one firer, {Spread(two).text()} with two")
            rows.append([name, str(count), Spread(one).text(), Spread(two).text(), "yes"])
            if url.startswith("sqlite"):
                Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            delays = _delays(url, delay_count, spread, folder)
            p50, p99 = percentile(delays, 50), percentile(delays, 99)
            log(f"  {name}: due -> fired p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
            delay_rows.append([name, str(delay_count), f"{p50 * 1000:.0f}", f"{p99 * 1000:.0f}",
                               f"{max(delays) * 1000:.0f}"])
            section.summary.append(SummaryRow(f"timers fired per second, {name}, one firer", Spread(one).text()))
            section.summary.append(SummaryRow(f"due → fired, {name}, p50 / p99 ms",
                                              f"{p50 * 1000:.0f} / {p99 * 1000:.0f}", "the firing interval",
                                              f"{INTERVAL_S * 1000:.0f}", f"{p99 / INTERVAL_S:.2f}×"))
    section.tables.append(Table("Timers fired per second (each instance moves on from its timer to its end; "
                                "median and range of the rounds)",
                                ["database", "due timers", "one firer, timers/s", "two firers at once, timers/s",
                                 "each fired exactly once"], rows))
    section.tables.append(Table(f"Delay from due time to firing, firing every {INTERVAL_S:.0f} s as `pflow serve` "
                                "does", ["database", "timers", "p50 ms", "p99 ms", "max ms"], delay_rows))
    section.setup = (f"{count} instances of a process that waits on an intermediate timer (PT1H) are started, the "
                     "engine's clock moves past the hour and `fire_due_timers` fires them in batches of 100: once "
                     "with one firer, once with two engine objects firing on the same database at the same time "
                     f"({ctx.repeat} interleaved round(s), a fresh database each time). For the delay, "
                     f"{delay_count} timers come due over {spread} s on the real clock and the firing loop asks every "
                     f"{INTERVAL_S:.0f} s (`PFLOW_TIMER_INTERVAL_S`); a ticket's sync after its timer fired is not "
                     "included.")
    section.notes.append("The delay is bounded by the interval: a timer waits at most one interval plus the time "
                         "to fire the ones due before it; a shorter `PFLOW_TIMER_INTERVAL_S` trades idle queries "
                         "for a shorter delay. Two firers share the work through the instance lock (`FOR UPDATE "
                         "SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time, so there the second firer "
                         "adds no speed).")
    return section


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("smoke", "quick", "full"), default="quick")
    args = parser.parse_args()
    from benchmarks.common import env_context
    from benchmarks.report import print_section

    print_section(run(env_context(args.mode)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
