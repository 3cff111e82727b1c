"""Printing sections as they finish, and writing docs/benchmarks.md from the stored results."""

from __future__ import annotations

from benchmarks.common import Section, Table, met_text

ORDER = ["worker", "pickup", "flows", "http", "load", "list", "memory", "camunda", "timers", "engines"]

INTRO = """\
# Benchmarks

What these figures are: PFlow next to the alternatives a user would pick and next to its limits, measured
in the same run on the same machine. The machines are shared and noisy, so each comparison is a **ratio of
runs made side by side** (rounds interleaved; the median is shown with the range of the rounds in
brackets), and absolute times are context. They are benchmarks, not tests: nothing here fails a build on
time; `make bench-quick` in CI only checks that the scripts work.

Run them with `make bench` (full sizes, updates this file) or `make bench-quick` (tiny sizes, writes
`var/bench/benchmarks-quick.md`); one part with `.venv/bin/python benchmarks/run.py --full --only NAME`
(names: {names}). They need what CI starts: PostgreSQL and RabbitMQ (`.ci/services.sh`), Camunda
(`make camunda-up`) and Operaton (`make operaton-up`); a part whose service is missing is skipped with the reason (an error under
`PFLOW_REQUIRE_SERVICES=1`). Tools: Java 17 and Maven (Camunda's Java client), `wrk` (Debian package;
without it a Python load generator is used and the table says so); the Python Camunda client is installed
into its own virtualenv under `var/bench/` by the run itself.
"""


def _cell(value: str) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


SUMMARY_COLUMNS = ["figure", "PFlow", "peer or limit", "its figure", "ratio", "goal", ""]


def summary_rows(section: Section) -> list[list[str]]:
    return [[r.figure, r.value, r.peer, r.peer_value, r.ratio, r.goal, met_text(r.met)] for r in section.summary]


def section_markdown(section: Section) -> list[str]:
    out = [f"## {section.title}", ""]
    when = f"Measured {section.measured_at} ({section.mode} sizes, {section.seconds:.0f} s)"
    if section.machine:
        when += f" on {section.machine}"
    out.append(f"{when}; load average before {section.load_before}, after {section.load_after}.")
    out.append("")
    if section.setup:
        out += [section.setup, ""]
    if section.summary:
        out += markdown_table(SUMMARY_COLUMNS, summary_rows(section)) + [""]
    for table in section.tables:
        out += [f"*{table.caption}*", ""] + markdown_table(table.columns, table.rows) + [""]
    for note in section.notes:
        out += [note, ""]
    if section.skipped:
        out += ["Not measured in this run:", ""] + [f"- {why}" for why in section.skipped] + [""]
    if any(r.met is False for r in section.summary) and section.limits:
        out += [f"**What limits this.** {section.limits}", ""]
    return out


def render(results: dict) -> str:
    from benchmarks.run import NAMES

    run = results.get("run", {})
    sections = {k: Section.from_dict(v) for k, v in results.get("sections", {}).items()}
    out = [INTRO.format(names=", ".join(NAMES)), "## The machine and versions", ""]
    m = run.get("machine", {})
    out.append(f"Last run {run.get('date', 'n/a')} ({run.get('mode', '')} sizes, {run.get('repeat', 1)} round(s) "
               f"where noise matters; load average at its start {run.get('load', 'n/a')}). "
               f"Machine: {m.get('cores', '?')} cores ({m.get('cpu', '?')}), {m.get('memory', '?')} memory, "
               f"{m.get('os', '')}; shared with other work, which the load averages show.")
    out.append("")
    versions = run.get("versions", {})
    out += markdown_table(["component", "version"], [[k, v] for k, v in versions.items()]) + [""]
    out += ["## Summary", ""]
    rows = []
    for key in ORDER:
        if key in sections:
            rows += summary_rows(sections[key])
    out += markdown_table(SUMMARY_COLUMNS, rows) + [""]
    for key in ORDER:
        if key in sections:
            out += section_markdown(sections[key])
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------------------- console

def _text_table(columns: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) if rows else len(str(c))
              for i, c in enumerate(columns)]
    line = "  ".join(str(c).ljust(w) for c, w in zip(columns, widths))
    body = ["  ".join(str(v).ljust(w) for v, w in zip(row, widths)) for row in rows]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def print_section(section: Section) -> None:
    print(f"\n=== {section.title} ===")
    if section.summary:
        print(_text_table(SUMMARY_COLUMNS, summary_rows(section)))
    for table in section.tables:
        print(f"\n{table.caption}")
        print(_text_table(table.columns, table.rows))
    for note in section.notes:
        print(f"\n{note}")
    for why in section.skipped:
        print(f"\nSKIPPED: {why}")
    print(flush=True)


__all__ = ["render", "print_section", "markdown_table", "Table"]
