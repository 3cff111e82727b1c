"""docs/production-server.md and its Chinese twin say the same, start gunicorn the way the image, Compose and the
Helm chart do, and document every gunicorn and pool setting PFlow reads, with README's defaults."""

from __future__ import annotations

import re

import yaml

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "production-server.md"
ZH = REPO_ROOT / "docs" / "production-server.zh-CN.md"
COMMAND = "gunicorn -c python:pflow.entrypoints.http.gunicorn_conf pflow.entrypoints.http.wsgi:app"
SERVER_SETTINGS = re.compile(r"PFLOW_WEB_\w+|PFLOW_DB_POOL_SIZE|PFLOW_DB_MAX_OVERFLOW")


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def settings_table(doc: str) -> dict[str, str]:
    """variable -> default, from the table whose first row names PFLOW_WEB_WORKERS."""
    for table in files.markdown_tables(doc):
        rows = {row[0].strip("`"): row[1] for row in table[1:] if row and row[0].startswith("`")}
        if "PFLOW_WEB_WORKERS" in rows:
            return rows
    raise AssertionError("no settings table naming PFLOW_WEB_WORKERS")


def test_both_languages_have_the_same_sections_tables_and_commands():
    tr.assert_says_the_same(text(EN), text(ZH), min_han=800)


def test_the_documented_command_is_the_one_compose_and_helm_run():
    assert COMMAND in text(EN)
    compose = yaml.safe_load((REPO_ROOT / "deploy" / "docker-compose.yml").read_text())
    assert compose["services"]["api"]["command"][-1].endswith("exec " + COMMAND)
    values = yaml.safe_load((REPO_ROOT / "deploy" / "helm" / "pflow" / "values.yaml").read_text())
    assert " ".join(values["api"]["command"]) == COMMAND


def test_every_server_setting_is_documented_with_readmes_default():
    read = {name for name in files.config_variables() if SERVER_SETTINGS.fullmatch(name)}
    documented = settings_table(text(EN))
    assert read and set(documented) == read
    readme = {row[0].strip("`"): row[1] for table in files.markdown_tables(text(REPO_ROOT / "README.md"))
              for row in table[1:] if row and row[0].startswith("`")}
    for name in read:
        assert documented[name] == readme[name], name
