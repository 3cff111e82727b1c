"""docs/reliability.md states each guarantee with the test that proves it: every test it names must
exist, and the Chinese version must say the same (sections, table rows, names and values)."""

from __future__ import annotations

import ast
import re
from collections import Counter

import pytest

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "reliability.md"
ZH = REPO_ROOT / "docs" / "reliability.zh-CN.md"


def _named_tests(text: str) -> list[str]:
    return sorted(set(re.findall(r"`(tests/[\w/.-]+\.py(?:::\w+)?)`", text)))


@pytest.mark.parametrize("reference", _named_tests(EN.read_text(encoding="utf-8")), ids=str)
def test_every_test_the_table_names_exists(reference):
    path, _, name = reference.partition("::")
    module = REPO_ROOT / path
    assert module.exists(), f"docs/reliability.md names {reference}, but {path} does not exist"
    if name:
        defined = {node.name for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
                   if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"docs/reliability.md names {reference}, but {path} has no test {name}"


def test_both_languages_say_the_same():
    en, zh = EN.read_text(encoding="utf-8"), ZH.read_text(encoding="utf-8")
    assert [level for level, _ in tr.headings(en)] == [level for level, _ in tr.headings(zh)]
    assert [len(t) for t in files.markdown_tables(en)] == [len(t) for t in files.markdown_tables(zh)]
    assert Counter(tr.code_spans(en)) == Counter(tr.code_spans(zh)), "names and values differ"
    assert _named_tests(en) == _named_tests(zh)
    assert not tr.soft_breaks_between_wide_characters(zh), "a line break between two Chinese characters shows as a space"
