"""Item 4b: how far the automated step falls behind under request load, on the embedded default.

`pflow serve` as users start it (SQLite, embedded engine; worker, relay and consumer as threads of the
same process; waitress with 8 threads) on a fresh data dir. CLIENTS client threads in a separate process
(this one) each run whole flows in a closed loop for the duration: create a ticket, submit it, approve it
as a manager. The in-process worker provisions every approved ticket while the load runs.

The figure is approve -> completed per ticket, from the ticket's own history (the time the approval step
was recorded, ``step_completed``, to the time the ticket followed its process to ``completed`` after the
provisioning step, both stamped by the server), so client-side polling adds nothing to it. Tickets still
waiting for provisioning when the load stops are waited for and counted.

    .venv/bin/python benchmarks/under_load.py [--mode smoke|quick|full] [--clients 20] [--seconds 60]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Context, Section, SummaryRow, Table, log, percentile  # noqa: E402

KEY = "load"
TITLE = "4b. Approve → completed under request load (embedded default)"
CLIENTS = 20
THREADS = 8
#: approve -> completed p50 the embedded default should keep under this load: the worker is not starved.
GOAL_P50_S = 1.0


def _at(entry: dict) -> float:
    return datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()


def measure(url: str, *, clients: int, seconds: float, settle_s: float = 120.0) -> dict:
    """Run the closed-loop load against a running `pflow serve` at ``url``; returns the figures."""
    from benchmarks.served import ApiDriver, new_ticket

    driver = ApiDriver(url, threads=clients)
    stop_at = time.monotonic() + seconds
    approved: list[str] = []
    latencies: dict[str, list[float]] = {"create": [], "submit": [], "approve": []}
    errors: list[str] = []
    guard = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            try:
                t0 = time.perf_counter()
                ticket = driver.call("alice", "POST", "/api/tickets", new_ticket(f"Load {n}-{i}"))
                t1 = time.perf_counter()
                driver.call("alice", "POST", f"/api/tickets/{ticket['id']}/submit")
                t2 = time.perf_counter()
                driver.call("bob", "POST", f"/api/tickets/{ticket['id']}/approve", {"comment": "ok"})
                t3 = time.perf_counter()
            except Exception as exc:  # counted and shown; the load goes on
                with guard:
                    errors.append(str(exc)[:200])
                continue
            with guard:
                approved.append(ticket["id"])
                latencies["create"].append(t1 - t0)
                latencies["submit"].append(t2 - t1)
                latencies["approve"].append(t3 - t2)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    load_s = time.monotonic() - began

    # What the worker still owes when the load stops: wait for it (bounded), then read every history.
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        if driver.awaiting_worker() <= 0:
            break
        time.sleep(0.5)
    behind: list[float] = []
    unfinished = 0
    for ticket_id in approved:
        history = driver.call("bob", "GET", f"/api/tickets/{ticket_id}/history")
        entries = history["items"] if isinstance(history, dict) else history
        at = {entry["action"]: _at(entry) for entry in entries}
        decided, done = at.get("step_completed"), at.get("completed")
        if decided and done:
            behind.append(done - decided)
        else:
            unfinished += 1
    return {"clients": clients, "seconds": load_s, "flows": len(approved), "errors": len(errors),
            "error_samples": errors[:3], "unfinished": unfinished, "behind": behind, "latencies": latencies}


def failed_attempts(served) -> int:
    """Provisioning attempts that failed (and spent a retry) in the server's log."""
    try:
        return sum(" retries left, next try in " in line for line in served.log_path.read_text().splitlines())
    except OSError:
        return -1


def _ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:.0f}" if values else "–"


def _s(values: list[float], p: float) -> str:
    return f"{percentile(values, p):.2f}" if values else "–"


def run(ctx: Context) -> Section:
    from benchmarks.served import Served

    section = Section(KEY, TITLE)
    seconds = ctx.size(2, 15, 60)
    clients = CLIENTS
    with tempfile.TemporaryDirectory(prefix="pflow-bench-load-") as tmp:
        served = Served(Path(tmp), threads=THREADS)
        try:
            result = measure(served.url, clients=clients, seconds=seconds)
        finally:
            served.stop()
        result["failed_attempts"] = failed_attempts(served)
    behind = result["behind"]
    log(f"  {clients} clients × {result['seconds']:.0f} s: {result['flows']} flows, approve -> completed "
        f"p50 {_s(behind, 50)} s, p99 {_s(behind, 99)} s, max {_s(behind, 100)} s; errors {result['errors']}, "
        f"not completed {result['unfinished']}")
    p50 = percentile(behind, 50) if behind else float("inf")
    section.summary.append(SummaryRow(
        f"approve → completed under {clients} clients, p50 s (p99 {_s(behind, 99)} s)", _s(behind, 50),
        "goal", f"{GOAL_P50_S:g}", f"{p50 / GOAL_P50_S:.2f}×", f"≤ {GOAL_P50_S:g} s", p50 <= GOAL_P50_S))
    lat = result["latencies"]
    section.tables.append(Table(
        f"{clients} closed-loop clients for {result['seconds']:.0f} s, each: create, submit, approve; "
        f"{result['flows']} flows ({result['flows'] / max(result['seconds'], 1e-9):.1f}/s), "
        f"{result['errors']} failed requests, {result['failed_attempts']} failed provisioning attempts, "
        f"{result['unfinished']} approved tickets not completed",
        ["figure", "p50", "p99", "max"],
        [["approve -> completed (s, from the ticket's history)", _s(behind, 50), _s(behind, 99), _s(behind, 100)],
         ["POST /api/tickets (ms)", _ms(lat["create"], 50), _ms(lat["create"], 99), _ms(lat["create"], 100)],
         ["POST …/submit (ms)", _ms(lat["submit"], 50), _ms(lat["submit"], 99), _ms(lat["submit"], 100)],
         ["POST …/approve (ms)", _ms(lat["approve"], 50), _ms(lat["approve"], 99), _ms(lat["approve"], 100)]]))
    section.setup = (f"Server: `pflow serve` as shipped (embedded default on a fresh data dir; waitress, {THREADS} "
                     f"threads; worker, relay and consumer in the same process). Load: {clients} client threads in a "
                     f"separate process on the same {__import__('os').cpu_count()} cores, each running create → "
                     f"submit → approve in a closed loop for {seconds} s.")
    section.notes.append(NOTE)
    section.limits = LIMITS
    return section


NOTE = (
    "What was fixed on the way. Every write to the SQLite file queues on one writer lock per file, and the "
    "worker needs it three times per ticket (fetch and lock, the ticket's completion, the engine's "
    "completion). In arrival order its writes waited behind every request thread's, so under this load it "
    "provisioned fewer tickets per second than were approved and fell further behind for as long as the load "
    "lasted: approve → completed p50 5.1 s, p99 9.0 s, max 9.1 s at 1324 flows in 60 s on this machine "
    "(p50 9.2 s, max 16 s on a busier one). The embedded engine's external-task transactions now go ahead of "
    "waiting request writers, and so does the ticket commit that records a step the engine has just taken in "
    "the same thread (an approval's own commit). That alone left the worker racing the approval that woke "
    "it: it read the ticket before the approval's commit and lost its first attempt to it (59 % of flows with "
    "only the worker's transactions ahead, 3 % with the approval's commit ahead too; 28 % under 4 clients "
    "before any change), each a spent retry and a second's wait. A task an engine step creates inside the "
    "caller's open unit of work is now fetched once that unit of work has ended: no first attempt fails "
    "(the failed-attempts count in the table)."
)

LIMITS = (
    "The worker runs in the same process as the request threads, on the same cores and the same SQLite "
    "file's writer lock, for each of its steps (fetch and lock, the ticket's completion, the engine's "
    "completion)."
)


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("smoke", "quick", "full"), default="quick")
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=float, default=None, help="load duration (default by mode; at most 60)")
    parser.add_argument("--url", default=None, help="a running `pflow serve` instead of starting one")
    args = parser.parse_args()
    from benchmarks.common import env_context
    from benchmarks.report import print_section

    if args.url or args.seconds or args.clients != CLIENTS:
        seconds = min(args.seconds or 15, 60)
        if args.url:
            result = measure(args.url, clients=args.clients, seconds=seconds)
        else:
            from benchmarks.served import Served

            with tempfile.TemporaryDirectory(prefix="pflow-bench-load-") as tmp:
                served = Served(Path(tmp), threads=THREADS)
                try:
                    result = measure(served.url, clients=args.clients, seconds=seconds)
                finally:
                    served.stop()
                result["failed_attempts"] = failed_attempts(served)
        behind = result["behind"]
        print(f"{args.clients} clients × {result['seconds']:.0f} s: {result['flows']} flows; approve -> completed "
              f"p50 {_s(behind, 50)} s, p90 {_s(behind, 90)} s, p99 {_s(behind, 99)} s, max {_s(behind, 100)} s; "
              f"approve p50 {_ms(result['latencies']['approve'], 50)} ms; failed provisioning attempts "
              f"{result.get('failed_attempts')}; errors {result['errors']} "
              f"{result['error_samples']}; not completed {result['unfinished']}")
        return 0
    print_section(run(env_context(args.mode, 1)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
