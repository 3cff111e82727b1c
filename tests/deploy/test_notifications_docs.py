"""docs/notifications.md and its Chinese twin say the same (sections, tables, commands, names), render as written
on GitHub, and say what the code does: the event kinds, the demo users' addresses, the webhook headers and replay
window, the receiver examples (the very files in examples/webhook-receivers/), a users file PFlow loads, and every
setting of e-mail and webhooks."""

from __future__ import annotations

import re

import pytest

from pflow.adapters.users import DEMO_USERS, ConfiguredUserDirectory
from pflow.config import REPO_ROOT
from pflow.domain import outbound
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "notifications.md"
ZH = REPO_ROOT / "docs" / "notifications.zh-CN.md"
EXAMPLES = REPO_ROOT / "examples" / "webhook-receivers"
SETTINGS = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_TIMEOUT_S",
            "PFLOW_PUBLIC_URL", "PFLOW_EMAIL_LINK_TTL", "PFLOW_DIGEST_HOUR", "PFLOW_WEBHOOK_DISABLE_AFTER",
            "PFLOW_DELIVERY_RETRY_BASE_S", "PFLOW_DELIVERY_RETRY_MAX_S", "PFLOW_DELIVERY_MAX_ATTEMPTS")


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_both_languages_have_the_same_sections_tables_and_commands():
    tr.assert_says_the_same(text(EN), text(ZH), min_han=2000)


def test_the_chinese_page_renders_as_written_on_github():
    zh = text(ZH)
    assert not tr.soft_breaks_between_wide_characters(zh)
    assert not tr.urls_running_into_text(zh)
    assert not tr.unclosed_emphasis(zh)


@pytest.mark.parametrize("path", [EN, ZH], ids=lambda p: p.name)
def test_links_resolve(path):
    for target in tr.links(text(path)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        path_part, _, fragment = target.partition("#")
        linked = (path.parent / path_part) if path_part else path
        assert linked.exists(), f"{path.name} links to {target}: no such file"
        if fragment:
            assert fragment in tr.anchors(text(linked)), f"{path.name} links to {target}: no such section"


def test_every_setting_of_email_and_webhooks_is_named_and_read_by_pflow():
    assert set(SETTINGS) <= files.config_variables()
    assert {name for name in files.config_variables() if name.startswith("SMTP_")} <= set(SETTINGS)
    for name in SETTINGS:
        assert f"`{name}`" in text(EN), name


def test_the_who_table_gives_each_event_its_preference_kind():
    rows = files.table_with_header(text(EN), "event")
    documented = {}
    for row in rows:
        kind = files.code_spans(row[2])
        for event in files.code_spans(row[0]):
            documented[event] = kind[0]
    assert documented == outbound.KIND_OF_EVENT


def test_the_demo_users_table_is_the_demo_users():
    rows = files.table_with_header(text(EN), "user")
    documented = {files.code_spans(r[0])[0]: (files.code_spans(r[1])[0], files.code_spans(r[2])[0]) for r in rows}
    assert documented == {u["username"]: (u["email"], u.get("language", "en")) for u in DEMO_USERS}


def test_the_webhook_headers_and_replay_window_are_pflows():
    rows = files.table_with_header(text(EN), "header")
    headers = {files.code_spans(r[0])[0] for r in rows}
    assert {outbound.SIGNATURE_HEADER, outbound.TIMESTAMP_HEADER, outbound.EVENT_HEADER,
            outbound.DELIVERY_HEADER} <= headers
    assert f"more than {outbound.REPLAY_WINDOW_S} seconds" in text(EN)
    assert outbound.signature("k", "1", b"{}").startswith("sha256=") and "`sha256=<hex>`" in text(EN)
    for name in ("verify.py", "verify.mjs"):
        assert f"REPLAY_WINDOW_S = {outbound.REPLAY_WINDOW_S}" in text(EXAMPLES / name)


@pytest.mark.parametrize("path", [EN, ZH], ids=lambda p: p.name)
def test_the_receiver_examples_are_the_files_in_examples(path):
    blocks = dict(tr.fences(text(path)))
    assert blocks["python"] == text(EXAMPLES / "verify.py")
    assert blocks["javascript"] == text(EXAMPLES / "verify.mjs")


def test_the_users_file_example_is_one_pflow_loads(tmp_path):
    example = next(content for info, content in tr.fences(text(EN)) if info == "json" and "username" in content)
    path = tmp_path / "users.json"
    path.write_text(example, encoding="utf-8")
    users = {u.username: u for u in ConfiguredUserDirectory.from_file(path).list_users()}
    assert (users["anna"].email, users["anna"].language) == ("anna@example.com", "en")
    assert (users["wei"].email, users["wei"].language) == ("wei@example.com", "zh")


def test_the_local_try_out_uses_the_settings_pflow_reads():
    commands = [c for info, c in tr.fences(text(EN)) if info == "bash"][0]
    assert "-m aiosmtpd -n -c aiosmtpd.handlers.Debugging -l 127.0.0.1:1025" in commands
    run = next(line for line in commands.splitlines() if "make run" in line)
    env = dict(item.split("=", 1) for item in run.split() if "=" in item)
    from pflow.config import Settings

    settings = Settings.from_env(env)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == ("127.0.0.1", 1025, "none")
