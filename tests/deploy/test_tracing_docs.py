"""docs/tracing.md and its Chinese twin say the same, and name the spans PFlow makes and the settings it reads."""

from __future__ import annotations

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "tracing.md"
ZH = REPO_ROOT / "docs" / "tracing.zh-CN.md"


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_both_languages_have_the_same_sections_tables_and_commands():
    tr.assert_says_the_same(text(EN), text(ZH), min_han=400)


def test_every_tracing_setting_pflow_reads_is_documented():
    read = {name for name in files.config_variables() if name.startswith("OTEL_")}
    assert read and read <= set(files.code_spans(text(EN)))


def test_the_spans_and_the_variable_named_are_the_ones_the_code_makes():
    from pflow import tracing

    source = "".join(text(REPO_ROOT / "pflow" / p) for p in ("adapters/guarded.py", "runtime/worker.py",
                                                              "runtime/consumer.py", "service/relay.py"))
    for made in ('"engine start"', '"engine complete_task"', '} task"', '} publish"', '} process"'):
        assert made in source, made
    doc = text(EN)
    assert f"`{tracing.TRACEPARENT_VARIABLE}`" in doc and "`traceparent`" in doc
    assert f"`{tracing.TICKET_ID}`" in doc and f"`{tracing.PROCESS_INSTANCE_ID}`" in doc
