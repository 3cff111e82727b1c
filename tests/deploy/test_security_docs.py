"""SECURITY.md and docs/deployment-checklist.md, each with its Chinese translation: the two languages
say the same (sections, paragraphs, tables, commands, names, links), the Chinese renders as written on
GitHub, both READMEs lead to them, and they cover what an operator and a reporter need."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from pflow.config import REPO_ROOT, ConfigError, Settings
from tests.deploy import files
from tests.deploy import translations as tr

SECURITY = REPO_ROOT / "SECURITY.md"
CHECKLIST = REPO_ROOT / "docs" / "deployment-checklist.md"
# Documents with a Chinese twin checked here (README.md and docs/deployment.md have their own tests).
PAIRS = [(SECURITY, tr.translation_of(SECURITY)), (CHECKLIST, tr.translation_of(CHECKLIST))]
IDS = [en.name for en, _ in PAIRS]


def text(path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("en, zh", PAIRS, ids=IDS)
def test_each_links_to_the_other_at_the_top(en, zh):
    assert f"[中文版]({zh.name})" in text(en).split("\n## ")[0]
    assert f"[English]({en.name})" in text(zh).split("\n## ")[0]


@pytest.mark.parametrize("en, zh", PAIRS, ids=IDS)
def test_same_sections_blocks_and_tables(en, zh):
    en_heads, zh_heads = tr.headings(text(en)), tr.headings(text(zh))
    assert [level for level, _ in en_heads] == [level for level, _ in zh_heads]
    assert not [t for (_, t), (_, o) in zip(en_heads, zh_heads) if t == o], "headings left in English"
    for (en_heading, en_blocks), (zh_heading, zh_blocks) in zip(tr.sections(text(en)), tr.sections(text(zh))):
        assert [b.kind for b in en_blocks] == [b.kind for b in zh_blocks], f"{en_heading!r} / {zh_heading!r}"
        en_spans = tr.code_spans("\n\n".join(b.text for b in en_blocks))
        zh_spans = tr.code_spans("\n\n".join(b.text for b in zh_blocks))
        assert en_spans == zh_spans, (f"{en_heading!r}: `code` missing in Chinese "
                                      f"{sorted((Counter(en_spans) - Counter(zh_spans)).elements())}, extra "
                                      f"{sorted((Counter(zh_spans) - Counter(en_spans)).elements())}")
        expected = sorted(tr.counterpart_link(t, en, zh) for t in tr.links("\n\n".join(b.text for b in en_blocks)))
        assert sorted(tr.links("\n\n".join(b.text for b in zh_blocks))) == expected, f"{en_heading!r}: links"
    en_tables, zh_tables = files.markdown_tables(text(en)), files.markdown_tables(text(zh))
    assert [tr.table_signature(t) for t in en_tables] == [tr.table_signature(t) for t in zh_tables]
    assert [tr.code_signature(*f) for f in tr.fences(text(en))] == [tr.code_signature(*f) for f in tr.fences(text(zh))]


@pytest.mark.parametrize("path", [p for pair in PAIRS for p in pair], ids=lambda p: p.name)
def test_links_resolve(path):
    for target in tr.links(text(path)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        path_part, _, fragment = target.partition("#")
        linked = (path.parent / path_part) if path_part else path
        assert linked.exists(), f"{path.name} links to {target}: no such file"
        if fragment:
            assert fragment in tr.anchors(text(linked)), f"{path.name} links to {target}: no such section"


@pytest.mark.parametrize("en, zh", PAIRS, ids=IDS)
def test_the_chinese_is_chinese_and_renders_as_written(en, zh):
    for block in tr.blocks(text(zh)):
        if block.kind in ("code", "heading"):
            continue
        for row in (block.text.splitlines() if block.kind == "table" else [block.text]):
            words = re.sub(r"https?://\S+", " ", tr._LINK.sub(" ", tr.without_code_spans(row)))
            if re.search(r"[A-Za-z]{3,}", words):
                assert tr.han_characters(words) > 0, f"{zh.name} line {block.line}: not translated: {row!r}"
    assert not tr.soft_breaks_between_wide_characters(text(zh))
    assert not tr.urls_running_into_text(text(zh))
    assert not tr.unclosed_emphasis(text(zh))


@pytest.mark.parametrize("readme, security, checklist", [
    ("README.md", "SECURITY.md", "docs/deployment-checklist.md"),
    ("README.zh-CN.md", "SECURITY.zh-CN.md", "docs/deployment-checklist.zh-CN.md"),
])
def test_both_readmes_have_a_security_section_that_links_them(readme, security, checklist):
    body = text(REPO_ROOT / readme)
    heading = {"README.md": "## Security", "README.zh-CN.md": "## 安全"}[readme]
    section = files.markdown_section(body, heading)
    assert f"]({security})" in section and f"]({checklist})" in section


def test_the_security_policy_covers_reporting_the_threat_model_and_the_guarantees():
    body = text(SECURITY)
    reporting = files.markdown_section(body, "## Reporting a vulnerability")
    assert "`security@pflow.example`" in reporting and "Report a" in reporting and "GitHub" in reporting
    threat = files.markdown_section(body, "## Threat model")
    assets = {row[0] for row in files.table_with_header(threat, "asset")}
    assert assets == {"decisions", "tickets", "tokens and secrets"}
    boundaries = " ".join(row[0] for row in files.table_with_header(threat, "boundary"))
    for side in ("browser", "API", "engine", "broker", "database", "identity provider"):
        assert side in boundaries, side
    guarantees = files.markdown_section(body, "## What PFlow guarantees")
    for name in ("`pflow.audit`", "`pflow.access`", "`/api/docs`", "`PFLOW_SEPARATION_OF_DUTIES=1`",
                 "`PFLOW_TOKEN_TTL`", "`Retry-After`"):
        assert name in guarantees, name
    # The limits it states are the ones PFlow enforces.
    assert "at most 86400 (24 h)" in guarantees
    with pytest.raises(ConfigError, match="must be at most 86400"):
        Settings.from_env({"PFLOW_TOKEN_TTL": "86401"})
    assert "at least 32 bytes" in guarantees


def test_the_checklist_is_tick_boxes_covering_every_area():
    items = re.findall(r"^- \[ \] \*\*([^*]+)\*\*", text(CHECKLIST), re.M)
    assert items == ["TLS certificate", "Secrets generated", "Demo users off", "OIDC configured",
                     "Camunda authentication on", "Ports not published", "Images and dependencies current",
                     "Backups", "Log shipping"]
    zh_items = re.findall(r"^- \[ \] \*\*([^*]+)\*\*", text(tr.translation_of(CHECKLIST)), re.M)
    assert len(zh_items) == len(items)
    # What it asks for exists in the stack.
    body = text(CHECKLIST)
    compose = files.services()
    assert "`CAMUNDA_BPM_RUN_AUTH_ENABLED`" in body and files.environment(compose["camunda"])[
        "CAMUNDA_BPM_RUN_AUTH_ENABLED"] == "true"
    assert "`deploy/docker-compose.debug.yml`" in body and files.COMPOSE_DEBUG_FILE.exists()
    assert "`deploy/pin-images.sh --check`" in body and files.PIN_SCRIPT.exists()
    assert files.env_example()["PFLOW_DEMO_USERS"] == "0" and "`PFLOW_DEMO_USERS=0`" in body
