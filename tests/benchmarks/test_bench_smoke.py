"""The benchmark scripts work (they are run for figures by `make bench`; here only that they run and report).

No timing is asserted: these check that every part that needs no external service runs end to end on
the smallest sizes and that the report holds its tables, and that the pieces that read tools' output
read them right.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from pflow.config import REPO_ROOT

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:41234/api/tickets
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    80.21ms  120.33ms   1.08s    93.12%
    Req/Sec   151.20     30.11   210.00     70.00%
  Latency Distribution
     50%   64.90ms
     75%   80.10ms
     90%  120.00ms
     99%    1.08s
  453 requests in 3.01s, 301.22KB read
  Non-2xx or 3xx responses: 2
Requests/sec:    150.50
Transfer/sec:    100.07KB
"""


def test_wrk_output_is_read_with_its_units():
    from benchmarks.http_api import parse_wrk

    result = parse_wrk(WRK_OUTPUT)
    assert result["rps"] == 150.50 and result["requests"] == 453 and result["errors"] == 2
    assert result["p50"] == 64.90 and result["p99"] == 1080.0  # seconds become ms


def test_the_parts_without_services_run_and_write_the_report(tmp_path):
    out, results = tmp_path / "benchmarks.md", tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--smoke", "--no-services", "--only", "flows", "--only", "pickup",
         "--only", "list", "--only", "timers", "--out", str(out), "--results", str(results)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = out.read_text()
    for title in ("2. Pick-up latency", "3. Embedded engine: full flows per second", "5. List latency",
                  "8. Embedded engine: durable timers"):
        assert f"## {title}" in report
    # Each measured figure is a number next to its peer or limit, with a ratio and a verdict.
    flows = re.search(r"\| PFlow full flow on SQLite, flows/s \| ([\d.]+) \| raw SpiffWorkflow, same database \| "
                      r"([\d.]+) \| (\d+)% \| ≥ 50% of raw \| (met|\*\*missed\*\*) \|", report)
    assert flows and float(flows.group(1)) > 0 and float(flows.group(2)) > 0
    # The engine-only share makes the process-port calls PFlow's flow makes (the part says so when it does not).
    assert "port calls differ" not in report
    assert re.search(r"\| embedded engine, SQLite: p99, ms \| [\d.]+ \| goal \| 500 \|", report)
    assert re.search(r"\| SQLite \(WAL\): approvals inbox page, p99 ms", report)
    # The task inbox (GET /api/tasks for a manager) is measured next to the list pages, on the same seed.
    inbox = re.search(r"\| SQLite \(WAL\): task inbox of a manager \(GET /api/tasks\), p99 ms \(p50 ([\d.]+)\) \| "
                      r"([\d.]+) \| goal \| 30 \|", report)
    assert inbox and 0 < float(inbox.group(1)) <= float(inbox.group(2))
    # What could not run says why.
    assert "PostgreSQL: services are off for this run" in report
    stored = json.loads(results.read_text())
    assert set(stored["sections"]) == {"flows", "pickup", "list", "timers"}
    # Timers: fired per second, each exactly once, and the delay after the due time, next to the interval.
    assert re.search(r"\| timers fired per second, SQLite, one firer \| [\d.]+ \|", report)
    assert re.search(r"\| due → fired, SQLite, p50 / p99 ms \| \d+ / \d+ \| the firing interval \| 1000 \|", report)
    assert stored["run"]["machine"]["cores"] and stored["run"]["versions"]["SpiffWorkflow"]


def test_a_part_run_again_replaces_only_its_own_section(tmp_path):
    from benchmarks.common import Section, SummaryRow
    from benchmarks.report import render

    def section(key, value):
        return Section(key, f"title {key}", summary=[SummaryRow(f"figure {key}", value, "peer", "1", "1×")],
                       mode="smoke").to_dict()

    results = {"run": {"date": "2026-01-01", "machine": {"cores": "2"}, "versions": {"Python": "3.11"}},
               "sections": {"flows": section("flows", "10"), "list": section("list", "20")}}
    results["sections"]["flows"] = section("flows", "11")
    report = render(results)
    assert "| figure flows | 11 |" in report and "| figure list | 20 |" in report
    assert report.index("## title flows") < report.index("## title list")  # the order, not the run's


def test_the_request_profile_reports_each_kind_with_the_layers_it_found():
    done = subprocess.run([sys.executable, "benchmarks/profile_requests.py", "--requests", "5"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for kind in ("create", "list", "approve"):
        section = done.stdout.split(f"## {kind}:")[1].split("\n## ")[0]
        assert "| inside | share of the request |" in section
        shares = [int(m) for m in re.findall(r"\| (\d+)% \|", section)]
        assert shares and all(0 < s <= 100 for s in shares), section
    assert "embedded engine" in done.stdout.split("## approve:")[1]
