"""docs/workers.md and its Chinese twin say the same (sections, tables, commands, names), and the external-task REST
section names every setting and endpoint /engine-rest answers."""

from __future__ import annotations

import re

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "workers.md"
ZH = REPO_ROOT / "docs" / "workers.zh-CN.md"
BLUEPRINT = REPO_ROOT / "pflow" / "entrypoints" / "http" / "engine_rest.py"


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_both_languages_have_the_same_sections_tables_and_commands():
    assert [level for level, _ in tr.headings(text(EN))] == [level for level, _ in tr.headings(text(ZH))]
    en_tables, zh_tables = files.markdown_tables(text(EN)), files.markdown_tables(text(ZH))
    assert [tr.table_signature(t) for t in en_tables] == [tr.table_signature(t) for t in zh_tables]
    assert [tr.code_signature(*f) for f in tr.fences(text(EN))] == [tr.code_signature(*f) for f in tr.fences(text(ZH))]
    assert sorted(set(tr.code_spans(text(EN)))) == sorted(set(tr.code_spans(text(ZH))))
    assert tr.han_characters(text(ZH)) > 1000


def test_the_rest_section_lists_every_route_and_setting():
    routes = set(re.findall(r'@blp\.(get|post)\("(/[^"]+)"\)', text(BLUEPRINT)))
    documented = {(m.lower(), p) for m, p in re.findall(r"`(GET|POST) /engine-rest(/[^`]+)`", text(EN))}
    normalized = {(m, re.sub(r"<\w+>", "{id}", p)) for m, p in routes}
    assert normalized and normalized == documented
    for setting in ("PFLOW_ENGINE_REST_USERNAME", "PFLOW_ENGINE_REST_PASSWORD", "PFLOW_ENGINE_REST_MAX_WAIT_MS",
                    "PFLOW_SERVE_WORKER=0", "PFLOW_HTTP_THREADS"):
        assert setting in text(EN) and setting in text(ZH)
