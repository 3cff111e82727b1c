"""The e-mails PFlow writes: ``templates/`` (Jinja2, plain text and HTML) filled with ``phrases``, in the
recipient's language. HTML is autoescaped: a ticket title or comment cannot add markup to a mail."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from pflow.adapters.mail.phrases import PHRASES, WORDS
from pflow.service.outbound import MailComposer

TEMPLATES = Path(__file__).parent / "templates"


def _fields(pattern: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name}


def _fill(pattern: str, values: dict[str, str]) -> str | None:
    """The pattern with the values, or None when it names a value there is none of (its line is left out)."""
    if not _fields(pattern) <= set(values):
        return None
    return pattern.format(**values)


def phrase(kind: str, language: str, params: dict[str, Any]) -> tuple[str, str, list[str]]:
    """(subject, headline, lines) of one notification."""
    words = WORDS[language]
    texts = PHRASES.get(kind, PHRASES["ticket.needs_attention"])[language]
    values = {k: str(v) for k, v in params.items() if v not in (None, "")}
    values.setdefault("title", words["untitled"])
    values.setdefault("actor", words["someone"])
    values.setdefault("step", words["a_step"])
    values.setdefault("requester", words["someone"])
    subject = _fill(str(texts["subject"]), values) or _fill(str(texts["headline"]), values) or kind
    headline = _fill(str(texts["headline"]), values) or subject
    lines = [line for line in (_fill(p, values) for p in texts["lines"]) if line]  # type: ignore[union-attr]
    return subject, headline, lines


class JinjaMailComposer(MailComposer):
    def __init__(self, link_days: int = 3) -> None:
        self.link_days = link_days
        self._env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                                autoescape=select_autoescape(["html"]), keep_trailing_newline=True)

    def compose(self, kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
        language = language if language in WORDS else "en"
        words = WORDS[language]
        values: dict[str, Any] = {"words": words, "language": language, "user": context["user"],
                                  "preferences_url": context["preferences_url"], "link_days": self.link_days}
        if kind == "digest":
            items = []
            for item in context["items"]:
                _, headline, lines = phrase(item["kind"], language, item["params"])
                items.append({"headline": headline, "lines": lines, "ticket_url": item["ticket_url"]})
            subject = words["digest_subject"].format(count=len(items))
            values.update(subject=subject, items=items)
            names = ("digest.txt", "digest.html")
        else:
            subject, headline, lines = phrase(kind, language, context["params"])
            values.update(subject=subject, headline=headline, lines=lines, ticket_url=context["ticket_url"],
                          task_url=context.get("task_url"), approve_url=context.get("approve_url"),
                          reject_url=context.get("reject_url"))
            names = ("message.txt", "message.html")
        text, html = (self._env.get_template(n).render(**values) for n in names)
        return subject, text, html
