"""Write the corpus report into docs/embedded-engine.md (between ``<!-- corpus:begin -->`` and
``<!-- corpus:end -->``): every model of manifest.yaml run on the embedded engine (SQLite) and the
in-memory fake, and with ``--camunda`` on Camunda 7 as well (PFLOW_TEST_CAMUNDA_URL, tests/camunda/stack.py).

    python -m tests.contract.corpus.report [--camunda] [--check]

``--check`` writes nothing and exits 1 when the report in the document differs from a fresh run.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from pflow.config import REPO_ROOT
from tests.contract.corpus.runner import load_manifest, outcome

DOC = REPO_ROOT / "docs" / "embedded-engine.md"
BEGIN, END = "<!-- corpus:begin -->", "<!-- corpus:end -->"
ENGINES = {"embedded": "embedded (SQLite)", "memory": "in-memory fake", "camunda": "Camunda 7"}


def _clean(text: str) -> str:
    """Messages without the run's random suffixes, on one line."""
    text = re.sub(r"[0-9a-f]{8}-(?=[\w.-]+\.bpmn)", "", text)
    text = re.sub(r"_[0-9a-f]{8}\b", "", text)
    return " ".join(text.split()).replace("|", "\\|")


def _cell(result: tuple[str, str], model: dict) -> str:
    status, detail = result
    if status == "fails" and model.get("known_gap"):
        return "**fails** (known gap)"
    if status == "fails":
        return f"**fails**: {_clean(detail)}"
    return status


def build(kinds: list[str]) -> str:
    models = load_manifest()
    results: dict[str, dict[str, tuple[str, str]]] = {}
    for model in models:
        results[model["file"]] = {}
        for kind in kinds:
            with tempfile.TemporaryDirectory() as folder:
                results[model["file"]][kind] = outcome(kind, model, Path(folder))
    embedded = Counter(results[m["file"]]["embedded"][0] for m in models)
    refused = [m for m in models if results[m["file"]]["embedded"][0] == "refused"]
    gaps = [m for m in models if results[m["file"]]["embedded"][0] == "fails"]
    lines = [
        BEGIN,
        "<!-- written by `python -m tests.contract.corpus.report --camunda`; do not edit by hand -->",
        "",
        f"{len(models)} models (`tests/contract/corpus/`, expected paths in `manifest.yaml`, run by "
        f"`tests/contract/test_corpus.py`): on the embedded engine **{embedded['runs']} run** the expected "
        f"path to the expected end, **{embedded['refused']} are refused** at deploy with the reason below"
        + (f", **{embedded['fails']} fail** (known gaps, listed below)." if embedded['fails'] else
           ", and none fails.")
        + (" Camunda 7 runs every model that has a path the same way and deploys the refused ones."
           if "camunda" in kinds and all(results[m["file"]]["camunda"][0] in ("runs", "deploys") for m in models)
           else ""),
        "",
        "| model | covers | " + " | ".join(ENGINES[k] for k in kinds) + " |",
        "| --- | --- | " + " | ".join("---" for _ in kinds) + " |",
    ]
    for model in models:
        cells = [_cell(results[model["file"]][k], model) for k in kinds]
        lines.append(f"| `{model['file']}` | {model['covers']} | " + " | ".join(cells) + " |")
    lines += ["", "Refused by the embedded engine, and why:", ""]
    for model in refused:
        reason = _clean(results[model["file"]]["embedded"][1]).split(": ", 2)[-1]
        lines.append(f"- `{model['file']}` ({model['covers']}): {reason}")
    if gaps:
        lines += ["", "Known gaps (Camunda takes the expected path; the embedded engine does not yet):", ""]
        for model in gaps:
            detail = model.get("known_gap") or _clean(results[model["file"]]["embedded"][1])
            lines.append(f"- `{model['file']}` ({model['covers']}): {detail}")
    lines.append(END)
    return "\n".join(lines)


def write(report: str, doc: Path = DOC) -> bool:
    """Put the report between the markers (a new section at the end when there are none). Returns
    whether the document changed."""
    text = doc.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        new = text[:text.index(BEGIN)] + report + text[text.index(END) + len(END):]
    else:
        new = text.rstrip("\n") + "\n\n## Conformance corpus\n\n" + report + "\n"
    if new == text:
        return False
    doc.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--camunda", action="store_true", help="also run every model on Camunda 7")
    parser.add_argument("--check", action="store_true", help="exit 1 if the document's report is not current")
    args = parser.parse_args(argv)
    kinds = ["embedded", "memory"] + (["camunda"] if args.camunda else [])
    report = build(kinds)
    if args.check:
        current = DOC.read_text(encoding="utf-8")
        return 0 if report in current else 1
    changed = write(report)
    print(f"{DOC}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
