"""Compare a Markdown document with its translation, and check what GitHub makes of Chinese Markdown.

Shared by the tests that keep README.md / README.zh-CN.md (and docs/X.md / docs/X.zh-CN.md) saying the
same thing: the structure, tables, commands, names and links of a translation must be those of the
original; only the prose (and comments in code blocks) is translated."""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from tests.deploy import files

TRANSLATION_SUFFIX = ".zh-CN.md"

_FENCE = re.compile(r"^([ \t]*)```([^\n]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)
_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_URL = re.compile(r"https?://[!-~]+")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_SHELL = {"bash", "sh", "shell", "console", "zsh"}


# --- reading Markdown ------------------------------------------------------------------------------

@dataclass
class Block:
    kind: str        # "heading", "code", "table", "li" (list item), "p" (paragraph)
    text: str
    line: int        # 1-based line of the block's first line


def blocks(text: str) -> list[Block]:
    """The top-level blocks of a Markdown document, in order. List items are one block each; a fenced
    block inside a list item is its own "code" block."""
    result: list[Block] = []
    current: Block | None = None
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is not None:
            current.text += "\n" + line  # type: ignore[union-attr]
            if stripped == "```" and line[:len(line) - len(line.lstrip())] == fence:
                fence, current = None, None
            continue
        if stripped.startswith("```"):
            fence = line[:len(line) - len(line.lstrip())]
            current = Block("code", line, number)
            result.append(current)
        elif not stripped:
            current = None
        elif re.match(r"#{1,6} ", line):
            result.append(Block("heading", stripped, number))
            current = None
        elif stripped.startswith("|"):
            if current is not None and current.kind == "table":
                current.text += "\n" + line
            else:
                current = Block("table", line, number)
                result.append(current)
        elif re.match(r"(?:[-*+]|\d+[.)]) ", stripped):
            current = Block("li", line, number)
            result.append(current)
        elif current is not None and current.kind in ("p", "li"):
            current.text += "\n" + line
        else:
            current = Block("p", line, number)
            result.append(current)
    return result


def headings(text: str) -> list[tuple[int, str]]:
    """(level, heading text) of every heading outside code blocks."""
    found = []
    for block in blocks(text):
        if block.kind == "heading":
            hashes = len(block.text) - len(block.text.lstrip("#"))
            found.append((hashes, block.text[hashes:].strip()))
    return found


def sections(text: str) -> list[tuple[str, list[Block]]]:
    """The document cut at every heading: [(heading line or "" for the text before the first one,
    the blocks under it up to the next heading)]."""
    result: list[tuple[str, list[Block]]] = [("", [])]
    for block in blocks(text):
        if block.kind == "heading":
            result.append((block.text, []))
        else:
            result[-1][1].append(block)
    return result


def without_fences(text: str) -> str:
    return _FENCE.sub("", text)


def without_code_spans(text: str) -> str:
    return _CODE_SPAN.sub(" ", text)


def fences(text: str) -> list[tuple[str, str]]:
    """(info string, dedented content) of every fenced code block, including those in list items."""
    return [(m.group(2).strip(), files.fenced_blocks(m.group(0))[0]) for m in _FENCE.finditer(text)]


def code_spans(text: str) -> list[str]:
    """Every inline code span outside code blocks, whitespace-normalised (a span may be wrapped
    across lines), sorted: the names and values a text mentions."""
    return sorted(" ".join(m.group(2).split()) for m in _CODE_SPAN.finditer(without_fences(text)))


def links(text: str) -> list[str]:
    """Targets of Markdown links and images outside code, in order."""
    return [m.group(2) for m in _LINK.finditer(without_code_spans(without_fences(text)))]


def bare_urls(text: str) -> list[str]:
    """http(s) URLs written as plain text (GitHub makes them links), without trailing punctuation."""
    prose = _LINK.sub(" ", without_code_spans(without_fences(text)))
    return [m.group(0).rstrip(".,:;!?*_~'\"") for m in _URL.finditer(prose)]


# --- anchors ---------------------------------------------------------------------------------------

def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lowercase, punctuation removed (letters of any
    script, digits, '_' and '-' kept), spaces turned into '-'."""
    text = _LINK.sub(r"\1", heading.lstrip("#").strip()).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> list[str]:
    """The anchor of every heading, in order; a repeated one gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    result = []
    for _, title in headings(text):
        base = slug(title)
        if base in seen:
            seen[base] += 1
            result.append(f"{base}-{seen[base]}")
        else:
            seen[base] = 0
            result.append(base)
    return result


# --- comparing an original with its translation ----------------------------------------------------

def translation_of(path: Path) -> Path:
    return path.with_name(path.name[:-len(".md")] + TRANSLATION_SUFFIX)


def original_of(path: Path) -> Path:
    return path.with_name(path.name[:-len(TRANSLATION_SUFFIX)] + ".md")


def counterpart_link(target: str, source: Path, translated_source: Path) -> str:
    """What the translation should link to where the original (source) links to target: a document that
    has a translation is linked in that language, with the anchor of the same section there (sections
    correspond by position); the original's link to its own translation becomes the link back."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target):
        return target
    path_part, _, fragment = target.partition("#")
    linked = (source.parent / path_part).resolve() if path_part else source.resolve()
    if linked == translated_source.resolve():
        new_path, new_doc = original_of(linked), original_of(linked)
    elif linked == source.resolve():
        new_path, new_doc = translated_source, translated_source
    elif linked.suffix == ".md" and translation_of(linked).exists():
        new_path, new_doc = translation_of(linked), translation_of(linked)
    else:
        return target
    new_target = _relative(new_path, translated_source.parent) if path_part else ""
    if fragment:
        old = anchors(linked.read_text(encoding="utf-8"))
        new = anchors(new_doc.read_text(encoding="utf-8"))
        assert fragment in old, f"{source.name} links to {target}, a section {linked.name} does not have"
        assert len(old) == len(new), f"{linked.name} and {new_doc.name} have different sections"
        new_target += "#" + new[old.index(fragment)]
    return new_target


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def without_comments(block: str) -> str:
    """Shell comments may be translated; the commands themselves must match."""
    lines = [re.sub(r"(^|\s+)#(?!!).*$", "", line).rstrip() for line in block.splitlines()]
    return "\n".join(lines)


def listing_signature(block: str) -> list[tuple[str, list[str]]]:
    """A plain (info-less) block such as a directory listing: per line, the first column (up to the
    first run of two spaces) exactly, and in the translatable rest only the code-like words (paths,
    file names, identifiers in CamelCase or with '_', '.', '/' or '`')."""
    signature = []
    for line in block.splitlines():
        line = line.rstrip()
        if line[:1].isspace():  # a continuation of the description above
            name, rest = "", line
        else:
            name, _, rest = (re.split(r"( {2,}|\t)", line, maxsplit=1) + ["", ""])[:3]
        words = re.findall(r"[A-Za-z0-9_./`+:-]+", rest)
        signature.append((name, [w.strip(".,:;") for w in words if re.search(r"[/_`]|\w\.\w|[a-z][A-Z]", w)]))
    return signature


def code_signature(info: str, content: str):
    """What must be equal in a code block and its translation: shell blocks without their comments,
    plain blocks by listing_signature, any other block (JSON, YAML, ...) byte for byte."""
    if info in _SHELL:
        return info, without_comments(content)
    if not info:
        return info, listing_signature(content)
    return info, content


def table_signature(table: list[list[str]]) -> list[tuple[int, list[list[str]]]]:
    """Per row (header included): the number of cells and the code spans of each cell."""
    return [(len(row), [files.code_spans(cell) for cell in row]) for row in table]


# --- how GitHub renders Chinese Markdown ---------------------------------------------------------

def is_wide(char: str) -> bool:
    """A Chinese character or full-width punctuation mark."""
    return unicodedata.east_asian_width(char) in "WF"


def is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith(("P", "S"))


def soft_breaks_between_wide_characters(text: str) -> list[int]:
    """Lines (1-based) that end a paragraph line between two Chinese characters: GitHub keeps the line
    break, and browsers show it as a space in the middle of the Chinese text."""
    bad = []
    for block in blocks(text):
        if block.kind not in ("p", "li"):
            continue
        lines = block.text.splitlines()
        for offset, (this, following) in enumerate(zip(lines, lines[1:])):
            this, following = this.rstrip(), following.strip()
            if this and following and is_wide(this[-1]) and is_wide(following[0]):
                bad.append(block.line + offset)
    return bad


def urls_running_into_text(text: str) -> list[str]:
    """Bare URLs directly followed by a Chinese character or full-width punctuation: GitHub's autolink
    only ends at a space, so the Chinese text would become part of the link."""
    prose = _LINK.sub(" ", without_code_spans(without_fences(text)))
    return [m.group(0) for m in re.finditer(r"https?://[!-~]+[^\s!-~]\S*", prose)]


def unclosed_emphasis(text: str) -> list[str]:
    """Emphasis that CommonMark will not render: an opening * or ** must be left-flanking and a closing
    one right-flanking; next to Chinese text that fails when the delimiter sits inside punctuation,
    e.g. **说明。**后文 (write **说明**。后文)."""
    bad = []
    for block in blocks(text):
        if block.kind not in ("p", "li", "table"):
            continue
        prose = without_code_spans(_LINK.sub(r"\1", block.text))
        if block.kind == "li":
            prose = re.sub(r"^\s*[-*+]\s", "", prose)
        runs = list(re.finditer(r"\*+", prose))
        for index, run in enumerate(runs):
            before = prose[run.start() - 1] if run.start() else " "
            after = prose[run.end()] if run.end() < len(prose) else " "
            opening = index % 2 == 0
            if opening:
                ok = not after.isspace() and (not is_punctuation(after) or before.isspace() or is_punctuation(before))
            else:
                ok = not before.isspace() and (not is_punctuation(before) or after.isspace() or is_punctuation(after))
            if not ok:
                bad.append(prose[max(0, run.start() - 12):run.end() + 12].replace("\n", " "))
    return bad


def han_characters(text: str) -> int:
    return len(re.findall(r"[\u4e00-\u9fff]", text))


def assert_says_the_same(en: str, zh: str, *, min_han: int = 1000) -> None:
    """A document and its Chinese twin have the same sections, tables, code blocks and code spans, and the
    twin is in Chinese (at least ``min_han`` Han characters)."""
    assert [level for level, _ in headings(en)] == [level for level, _ in headings(zh)]
    en_tables, zh_tables = files.markdown_tables(en), files.markdown_tables(zh)
    assert [table_signature(t) for t in en_tables] == [table_signature(t) for t in zh_tables]
    assert [code_signature(*f) for f in fences(en)] == [code_signature(*f) for f in fences(zh)]
    assert sorted(set(code_spans(en))) == sorted(set(code_spans(zh)))
    assert han_characters(zh) > min_han
