"""Item 6: memory of the all-in-one `pflow serve` after 10 000 tickets.

`pflow serve` as users start it (embedded default on a fresh data dir: API, embedded engine, worker,
relay and consumer in one process) as a child process; 10 000 tickets are created through the API by
8 client threads, and a good share pushed through the flow: 60 % submitted, of which two thirds
approved (so provisioned by the worker) and one in six rejected. RSS and its peak come from /proc.

    .venv/bin/python benchmarks/memory.py [--mode quick|full]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Context, Section, SummaryRow, Table, log, rss_mb  # noqa: E402

KEY = "memory"
TITLE = "6. Memory of the all-in-one `pflow serve`"
GOAL_MB = 200.0


def plan(i: int) -> tuple[bool, str | None]:
    """60 % submitted; of those, 4 in 6 approved, 1 in 6 rejected, 1 in 6 left pending."""
    if i % 10 >= 6:
        return False, None
    step = i % 6
    return True, "approve" if step < 4 else "reject" if step == 4 else None


def run(ctx: Context) -> Section:
    from benchmarks.http_api import _wait_idle, _wait_quiet
    from benchmarks.served import ApiDriver, Served

    section = Section(KEY, TITLE)
    count = ctx.size(100, 500, 10_000)
    with tempfile.TemporaryDirectory(prefix="pflow-bench-memory-") as tmp:
        served = Served(Path(tmp))
        try:
            time.sleep(1.0)
            started, _ = rss_mb(served.proc.pid)
            driver = ApiDriver(served.url)
            began = time.perf_counter()
            done = 0
            marks = []
            for chunk in range(10):  # note RSS as tickets accumulate
                size = count // 10
                driver.many(size, lambda i, base=done: plan(base + i))
                done += size
                marks.append((done, rss_mb(served.proc.pid)[0]))
            seconds = time.perf_counter() - began
            _wait_idle(driver, served)
            _wait_quiet(served)
            rss, peak = rss_mb(served.proc.pid)
            completed = driver.call("bob", "GET", "/api/tickets?status=completed&page=1&page_size=1")["total"]
            total = driver.call("bob", "GET", "/api/tickets?page=1&page_size=1")["total"]
            log(f"  {total} tickets ({completed} completed) in {seconds:.0f} s; RSS {rss:.0f} MB, peak {peak:.0f} MB")
        finally:
            served.stop()
    section.summary.append(SummaryRow(f"RSS after {total:_} tickets, MB".replace("_", " "), f"{rss:.0f}", "goal",
                                      f"{GOAL_MB:.0f}", f"{rss / GOAL_MB:.2f}×", f"< {GOAL_MB:.0f} MB",
                                      rss < GOAL_MB))
    section.summary.append(SummaryRow("peak RSS during the run, MB", f"{peak:.0f}", "goal", f"{GOAL_MB:.0f}",
                                      f"{peak / GOAL_MB:.2f}×"))
    section.tables.append(Table("RSS (MB) as tickets accumulate", ["tickets created", "RSS MB"],
                                [["0 (just started)", f"{started:.0f}"]] + [[str(n), f"{m:.0f}"] for n, m in marks]
                                + [["after the worker and consumer caught up", f"{rss:.0f}"]]))
    section.setup = (f"{count} tickets created through the API by 8 client threads in {seconds:.0f} s; 60 % "
                     f"submitted, of those two thirds approved and provisioned by the worker ({completed} completed) "
                     "and one in six rejected; every change also went through the outbox, the local event store "
                     "and the notification consumer. RSS read from /proc after the background work finished.")
    section.limits = ("Most of the resident memory is the code loaded at start (Flask, SQLAlchemy, SpiffWorkflow, "
                      "kombu); what grows with tickets is caches (SQLAlchemy's statement cache, the allocator).")
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
