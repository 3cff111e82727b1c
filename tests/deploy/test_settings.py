"""Every setting is listed where a reader looks for it, and nothing is listed that PFlow does not read.

The variables PFlow reads are taken from pflow/config.py's source at test time, so a variable added
there is caught here until the Compose file (or .env.example) and the README's configuration table
mention it."""

from __future__ import annotations

import re

import pytest

from tests.deploy import files
from tests.deploy.files import DOCS, README, environment, pflow_services

# .env.example may deliberately differ from the Compose file's own fallback.
DIFFERENT_DEFAULTS: set[str] = set()
# The Camunda REST client's credentials (basic authentication, service camunda): wired in the Compose
# file together with the client settings that read them in pflow/config.py, which land separately.
ENGINE_CREDENTIALS = {"CAMUNDA_USERNAME", "CAMUNDA_PASSWORD"}


def compose_pflow_environment() -> set[str]:
    names: set[str] = set()
    for service in pflow_services().values():
        names |= set(environment(service))
    return names


def readme_configuration_variables() -> set[str]:
    section = files.markdown_section(README.read_text(encoding="utf-8"), "## Configuration")
    rows = files.table_with_header(section, "variable")
    return {files.code_spans(row[0])[0] for row in rows if files.code_spans(row[0])}


def test_the_source_scan_finds_the_settings():
    found = files.config_variables()
    # A sanity check of the scanner itself: these are read in several different ways.
    assert {"DATABASE_URL", "WORKFLOW_ENGINE", "PFLOW_TOKEN_TTL", "PFLOW_DEMO_USERS", "API_HTTP_PORT"} <= found


def test_every_setting_pflow_reads_is_in_the_compose_file_or_env_example():
    missing = files.config_variables() - compose_pflow_environment() - set(files.env_example())
    assert not missing, f"add to deploy/docker-compose.yml (x-pflow-environment) or .env.example: {sorted(missing)}"


def test_every_setting_pflow_reads_is_in_the_readme_configuration_table():
    missing = files.config_variables() - readme_configuration_variables()
    assert not missing, f"add to the table under '## Configuration' in README.md: {sorted(missing)}"


def test_the_readme_configuration_table_lists_only_settings_pflow_reads():
    unknown = readme_configuration_variables() - files.config_variables()
    assert not unknown, f"README.md lists variables pflow/config.py does not read: {sorted(unknown)}"


def test_the_compose_file_gives_pflow_only_settings_it_reads():
    unknown = compose_pflow_environment() - files.config_variables() - ENGINE_CREDENTIALS
    assert not unknown, f"deploy/docker-compose.yml sets variables PFlow does not read: {sorted(unknown)}"


def test_env_example_lists_every_value_the_compose_file_interpolates():
    missing = set(files.interpolations()) - set(files.env_example())
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_every_value_in_env_example_is_used_by_the_compose_file():
    unused = set(files.env_example()) - set(files.interpolations())
    assert not unused, f".env.example sets values deploy/docker-compose.yml never reads: {sorted(unused)}"


def test_env_example_values_are_plain():
    for name, value in files.env_example().items():
        # Compose v1 keeps quotes as part of the value, Compose v2 strips them: avoid both.
        assert not re.search(r"[\"'\s]", value), f"{name}={value!r}: no quotes or spaces"


def test_env_example_agrees_with_the_compose_fallbacks():
    example = files.env_example()
    for name, uses in files.interpolations().items():
        for operator, argument in uses:
            if operator == ":-" and name not in DIFFERENT_DEFAULTS:
                assert example[name] == argument, \
                    f"{name}: .env.example says {example[name]!r}, the compose file falls back to {argument!r}"


@pytest.mark.parametrize("language", DOCS)
def test_the_deployment_guide_explains_every_value_in_env_example(language):
    text = DOCS[language].read_text(encoding="utf-8")
    rows = files.table_with_header(text, {"en": "variable", "zh-CN": "变量"}[language])
    documented = {files.code_spans(row[0])[0] for row in rows if files.code_spans(row[0])}
    assert documented == set(files.env_example()), \
        f"{DOCS[language].name}: missing {sorted(set(files.env_example()) - documented)}, " \
        f"extra {sorted(documented - set(files.env_example()))}"


def test_the_secret_is_required_and_empty_in_the_example():
    assert files.env_example()["PFLOW_SECRET_KEY"] == ""
    assert [op for op, _ in files.interpolations()["PFLOW_SECRET_KEY"]] == [":?"]


def test_env_example_does_not_enable_the_demo_users():
    """The finding: .env.example set PFLOW_DEMO_USERS=1, so the Compose stack had alice/bob/carol, password = name."""
    text = files.ENV_EXAMPLE.read_text(encoding="utf-8")
    assert files.env_example()["PFLOW_DEMO_USERS"] == "0"
    explanation = text[:text.index("PFLOW_DEMO_USERS=0")]
    assert "OFF" in explanation and "PFLOW_USERS_FILE=/etc/pflow/users.json" in explanation
