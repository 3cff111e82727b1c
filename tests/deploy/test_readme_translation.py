"""README.zh-CN.md says what README.md says: the same sections, paragraphs, tables, commands, names and
values, and links to the same places (the Chinese deployment guide where README.md links the English
one). A section, table row, command or setting added to README.md fails here until it is translated.
The Chinese README must also render as written on GitHub."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "README.md"
ZH = REPO_ROOT / "README.zh-CN.md"


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def section_pairs():
    """(English section, Chinese section) side by side; the outlines must match for the pairing to mean
    anything, so this asserts that first."""
    en, zh = tr.sections(text(EN)), tr.sections(text(ZH))
    assert outline(en) == outline(zh), "README.md and README.zh-CN.md have different sections"
    return list(zip(en, zh))


def outline(sections) -> list[int]:
    return [len(heading) - len(heading.lstrip("#")) for heading, _ in sections]


def where(en_heading: str, zh_heading: str) -> str:
    return f"under {en_heading or '(top)'!r} / {zh_heading or '(top)'!r}"


def test_the_chinese_readme_links_back_to_the_english_one():
    assert "[中文说明](README.zh-CN.md)" in text(EN).split("\n## ")[0]
    assert "[English](README.md)" in text(ZH).split("\n## ")[0]


def test_same_sections_in_the_same_order():
    en, zh = tr.headings(text(EN)), tr.headings(text(ZH))
    en_outline = "\n".join(f"{'#' * level} {title}" for level, title in en)
    zh_outline = "\n".join(f"{'#' * level} {title}" for level, title in zh)
    assert [level for level, _ in en] == [level for level, _ in zh], (
        f"the sections differ; README.md:\n{en_outline}\nREADME.zh-CN.md:\n{zh_outline}")
    assert en[0] == zh[0], "the title is the product name in both"
    untranslated = [title for (_, title), (_, other) in zip(en[1:], zh[1:]) if title == other]
    assert not untranslated, f"headings left in English in README.zh-CN.md: {untranslated}"


def test_same_paragraphs_lists_tables_and_code_blocks_in_each_section():
    for (en_heading, en_blocks), (zh_heading, zh_blocks) in section_pairs():
        en_kinds = [block.kind for block in en_blocks]
        zh_kinds = [block.kind for block in zh_blocks]
        assert en_kinds == zh_kinds, (
            f"{where(en_heading, zh_heading)}: README.md has {en_kinds}, README.zh-CN.md has {zh_kinds} "
            "(p = paragraph, li = list item)")


def test_same_tables_with_the_same_code_in_every_cell():
    en, zh = files.markdown_tables(text(EN)), files.markdown_tables(text(ZH))
    assert len(en) == len(zh), f"README.md has {len(en)} tables, README.zh-CN.md {len(zh)}"
    for number, (en_table, zh_table) in enumerate(zip(en, zh), 1):
        first = " ".join(en_table[0])
        assert len(en_table) == len(zh_table), (
            f"table {number} ({first}): {len(en_table) - 1} rows in README.md, {len(zh_table) - 1} in README.zh-CN.md")
        for en_row, zh_row in zip(en_table, zh_table):
            assert tr.table_signature([en_row]) == tr.table_signature([zh_row]), (
                f"table {number}: the row {' | '.join(en_row)!r} reads {' | '.join(zh_row)!r} in README.zh-CN.md "
                "(the same cells with the same `code` in each are expected)")


def test_same_code_blocks():
    en, zh = tr.fences(text(EN)), tr.fences(text(ZH))
    assert len(en) == len(zh), f"README.md has {len(en)} code blocks, README.zh-CN.md {len(zh)}"
    for number, ((en_info, en_code), (zh_info, zh_code)) in enumerate(zip(en, zh), 1):
        assert tr.code_signature(en_info, en_code) == tr.code_signature(zh_info, zh_code), (
            f"code block {number} differs (only comments and descriptions may be translated):\n"
            f"README.md:\n{en_code}\nREADME.zh-CN.md:\n{zh_code}")


def test_same_inline_code_in_each_section():
    for (en_heading, en_blocks), (zh_heading, zh_blocks) in section_pairs():
        en = tr.code_spans("\n\n".join(block.text for block in en_blocks))
        zh = tr.code_spans("\n\n".join(block.text for block in zh_blocks))
        missing = sorted((Counter(en) - Counter(zh)).elements())
        extra = sorted((Counter(zh) - Counter(en)).elements())
        assert en == zh, f"{where(en_heading, zh_heading)}: `code` missing in Chinese {missing}, extra {extra}"


def test_links_lead_to_the_same_places():
    for (en_heading, en_blocks), (zh_heading, zh_blocks) in section_pairs():
        en_text = "\n\n".join(block.text for block in en_blocks)
        zh_text = "\n\n".join(block.text for block in zh_blocks)
        expected = sorted(tr.counterpart_link(target, EN, ZH) for target in tr.links(en_text))
        assert sorted(tr.links(zh_text)) == expected, f"{where(en_heading, zh_heading)}: links"
        assert sorted(tr.bare_urls(zh_text)) == sorted(tr.bare_urls(en_text)), f"{where(en_heading, zh_heading)}: URLs"


def test_the_counterpart_of_a_deployment_guide_link_is_the_same_section_in_chinese():
    # The rule the previous test relies on, on the links README.md has today.
    assert tr.counterpart_link("docs/deployment.md#scaling", EN, ZH) == "docs/deployment.zh-CN.md#扩容"
    assert tr.counterpart_link("docs/deployment.md#macos-the-lima-vm", EN, ZH) == \
        "docs/deployment.zh-CN.md#macoslima-虚拟机"
    assert tr.counterpart_link("README.zh-CN.md", EN, ZH) == "README.md"
    assert tr.counterpart_link("docs/events.md", EN, ZH) == "docs/events.md", "English only: linked as it is"
    with pytest.raises(AssertionError, match="does not have"):
        tr.counterpart_link("docs/deployment.md#no-such-section", EN, ZH)


@pytest.mark.parametrize("path", [EN, ZH], ids=lambda p: p.name)
def test_relative_links_resolve_to_existing_files_and_sections(path):
    for target in tr.links(text(path)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        path_part, _, fragment = target.partition("#")
        linked = (path.parent / path_part) if path_part else path
        assert linked.exists(), f"{path.name} links to {target}: no such file"
        if fragment:
            assert linked.suffix == ".md", f"{path.name} links to {target}: an anchor in a file that is not Markdown"
            assert fragment in tr.anchors(text(linked)), f"{path.name} links to {target}: {linked.name} has no such section"


def test_the_slug_follows_github_for_chinese_headings():
    assert tr.slug("## 本地调试流程") == "本地调试流程"
    assert tr.slug("## macOS：Lima 虚拟机") == "macoslima-虚拟机"
    assert tr.slug("## 配置项（deploy/.env）") == "配置项deployenv"
    assert tr.slug("### 2. 在本机运行 API、worker 与 consumer") == "2-在本机运行-apiworker-与-consumer"
    assert tr.slug("### `unknown shorthand flag: 'f' in -f`") == "unknown-shorthand-flag-f-in--f"
    assert tr.anchors("# A\n\n## A\n\n```\n# not a heading\n```\n") == ["a", "a-1"]


def test_the_prose_is_in_chinese():
    """Every paragraph, list item and table row with words outside code and links has Chinese in it,
    so text pasted from README.md is not mistaken for a translation."""
    for block in tr.blocks(text(ZH)):
        if block.kind == "code" or block.kind == "heading":
            continue
        rows = block.text.splitlines() if block.kind == "table" else [block.text]
        for row in rows:
            words = re.sub(r"https?://\S+", " ", tr._LINK.sub(" ", tr.without_code_spans(row)))
            if re.search(r"[A-Za-z]{3,}", words):
                assert tr.han_characters(words) > 0, f"README.zh-CN.md line {block.line}: not translated: {row!r}"


@pytest.mark.parametrize("path", [ZH, ZH.parent / "docs" / "deployment.zh-CN.md"], ids=lambda p: p.name)
def test_the_chinese_docs_render_as_written_on_github(path):
    zh = text(path)
    breaks = tr.soft_breaks_between_wide_characters(zh)
    assert not breaks, (f"{path.name} lines {breaks} break between two Chinese characters, which shows as a "
                        "space; break next to a Latin word or `code`, or not at all")
    assert not tr.urls_running_into_text(zh), (
        f"these URLs run into the Chinese text after them (GitHub would link it too); put a space after the URL: "
        f"{tr.urls_running_into_text(zh)}")
    assert not tr.unclosed_emphasis(zh), f"emphasis GitHub will not render: {tr.unclosed_emphasis(zh)}"


def test_the_rendering_checks_catch_what_they_are_for():
    assert tr.soft_breaks_between_wide_characters("中文\n中文\n") == [1]
    assert tr.soft_breaks_between_wide_characters("中文 `code`\n中文\n") == []
    assert tr.urls_running_into_text("打开 http://localhost:8080，登录\n") == ["http://localhost:8080，登录"]
    assert tr.urls_running_into_text("打开 http://localhost:8080 后登录\n") == []
    assert tr.unclosed_emphasis("**说明。**后文\n") and not tr.unclosed_emphasis("**说明**。后文\n")
    assert not tr.unclosed_emphasis("用户任务 **Manager Approval**（经理审批）\n")
