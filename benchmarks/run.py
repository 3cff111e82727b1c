"""Run PFlow's benchmarks, print their tables, and write docs/benchmarks.md.

    .venv/bin/python benchmarks/run.py --full                 # every part, full sizes, 3 rounds -> docs/benchmarks.md
    .venv/bin/python benchmarks/run.py --quick                # tiny sizes, 1 round -> var/bench/benchmarks-quick.md
    .venv/bin/python benchmarks/run.py --full --only flows --only http --repeat 5

Parts (--only, repeatable): worker, pickup, flows, http, load, list, memory, camunda, timers, engines. Results are kept per
part in a JSON file next to the report (benchmarks/results.json for full runs), so running one part
again updates its section and leaves the others as they were measured.

Services: PostgreSQL (PFLOW_BENCH_DATABASE_URL, default the pflow_bench database, created if missing),
Camunda (PFLOW_BENCH_CAMUNDA_URL or CAMUNDA_URL, default http://localhost:8081/engine-rest), Operaton
(PFLOW_BENCH_OPERATON_URL, default http://127.0.0.1:8082/engine-rest), RabbitMQ
(PFLOW_BENCH_RABBITMQ_URL). A part or sub-part whose service is missing is skipped with the reason;
with PFLOW_REQUIRE_SERVICES=1 that is an error (exit status 1). --no-services skips them on purpose.
The exit status is 0 when every part ran (goals missed or met: these are benchmarks, not tests).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (  # noqa: E402
    BENCH,
    ROOT,
    ServiceMissing,
    Skipped,
    base_versions,
    dump_json,
    env_context,
    load_average,
    log,
    machine,
)

PARTS = {
    "worker": "benchmarks.worker_throughput",
    "pickup": "benchmarks.pickup_latency",
    "flows": "benchmarks.engine_flows",
    "http": "benchmarks.http_api",
    "load": "benchmarks.under_load",
    "list": "benchmarks.list_latency",
    "memory": "benchmarks.memory",
    "camunda": "benchmarks.camunda_overhead",
    "timers": "benchmarks.timers",
    "engines": "benchmarks.engines",
}
NAMES = list(PARTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_const", const="full", dest="mode", help="full sizes (make bench)")
    size.add_argument("--quick", action="store_const", const="quick", dest="mode",
                      help="tiny sizes (make bench-quick; the default)")
    size.add_argument("--smoke", action="store_const", const="smoke", dest="mode",
                      help="the smallest sizes (the test suite's smoke test)")
    parser.add_argument("--only", action="append", choices=NAMES, metavar="NAME",
                        help=f"run only this part (repeatable): {', '.join(NAMES)}")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds where noise matters (default 3 for --full, 1 otherwise)")
    parser.add_argument("--no-services", action="store_true",
                        help="skip every part that needs PostgreSQL, RabbitMQ or Camunda")
    parser.add_argument("--out", type=Path, default=None,
                        help="the report (default docs/benchmarks.md for --full, var/bench/benchmarks-quick.md "
                             "otherwise)")
    parser.add_argument("--results", type=Path, default=None,
                        help="the results kept between runs (default benchmarks/results.json for --full, "
                             "var/bench/results-quick.json otherwise)")
    args = parser.parse_args(argv)
    mode = args.mode or "quick"
    repeat = args.repeat or (3 if mode == "full" else 1)
    ctx = env_context(mode, repeat, services=not args.no_services)
    ctx.work.mkdir(parents=True, exist_ok=True)
    out = args.out or (ROOT / "docs" / "benchmarks.md" if mode == "full" else ctx.work / "benchmarks-quick.md")
    results_path = args.results or (BENCH / "results.json" if mode == "full" else ctx.work / "results-quick.json")
    parts = args.only or NAMES

    from benchmarks.report import print_section, render

    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results.setdefault("sections", {})
    started_load = load_average()
    log(f"PFlow benchmarks ({mode} sizes, {repeat} round(s)); load average {started_load}; parts: {', '.join(parts)}")
    failed: list[str] = []
    for name in parts:
        module = importlib.import_module(PARTS[name])
        log(f"\n--- {module.TITLE}")
        load_before, began = load_average(), time.perf_counter()
        try:
            section = module.run(ctx)
        except Skipped as exc:
            log(f"SKIPPED {name}: {exc}")
            from benchmarks.common import Section

            section = Section(module.KEY, module.TITLE, skipped=[str(exc)])
        except ServiceMissing as exc:
            log(f"FAILED {name}: {exc}")
            failed.append(name)
            continue
        except Exception:
            log(f"FAILED {name}:\n{traceback.format_exc()}")
            failed.append(name)
            continue
        section.mode = mode
        section.measured_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section.load_before, section.load_after = load_before, load_average()
        section.seconds = time.perf_counter() - began
        here = machine()
        section.machine = f"{here.get('cores', '?')} cores ({here.get('cpu', '?')})"
        print_section(section)
        results["sections"][section.key] = section.to_dict()
        # Kept after every part, so an interrupted run keeps what it measured.
        results["run"] = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "mode": mode, "repeat": repeat,
                          "load": started_load, "machine": machine(),
                          "versions": {**results.get("run", {}).get("versions", {}), **base_versions(),
                                       **ctx.versions}}
        dump_json(results_path, results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(results), encoding="utf-8")
    log(f"\nwrote {out} (results kept in {results_path})")
    if failed:
        log(f"parts that failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
