"""docs/workers.md and its Chinese twin say the same (sections, tables, commands, names), and the external-task REST
section names every setting and endpoint /engine-rest answers."""

from __future__ import annotations

import re

from pflow.config import REPO_ROOT
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "workers.md"
ZH = REPO_ROOT / "docs" / "workers.zh-CN.md"
BLUEPRINT = REPO_ROOT / "pflow" / "entrypoints" / "http" / "engine_rest.py"


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_both_languages_have_the_same_sections_tables_and_commands():
    tr.assert_says_the_same(text(EN), text(ZH))


def test_the_rest_section_lists_every_route_and_setting():
    routes = set(re.findall(r'@blp\.(get|post)\("(/[^"]+)"\)', text(BLUEPRINT)))
    documented = {(m.lower(), p) for m, p in re.findall(r"`(GET|POST) /engine-rest(/[^`]+)`", text(EN))}
    normalized = {(m, re.sub(r"<\w+>", "{id}", p)) for m, p in routes}
    assert normalized and normalized == documented
    for setting in ("PFLOW_ENGINE_REST_USERNAME", "PFLOW_ENGINE_REST_PASSWORD", "PFLOW_ENGINE_REST_MAX_WAIT_MS",
                    "PFLOW_SERVE_WORKER=0", "PFLOW_HTTP_THREADS"):
        assert setting in text(EN) and setting in text(ZH)


def test_the_official_client_examples_say_the_same_in_both_languages():
    examples = REPO_ROOT / "examples" / "external-task-clients"
    tr.assert_says_the_same(text(examples / "README.md"), text(examples / "README.zh-CN.md"), min_han=300)
