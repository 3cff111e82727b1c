"""docs/sso.md and its Chinese twin say the same (sections, tables, commands, names), every OIDC_* setting PFlow
reads is documented there, and the Keycloak steps match the realm file the Compose profile imports."""

from __future__ import annotations

import json
import re

from pflow.config import REPO_ROOT
from tests.deploy import files
from tests.deploy import translations as tr

EN = REPO_ROOT / "docs" / "sso.md"
ZH = REPO_ROOT / "docs" / "sso.zh-CN.md"
CONFIG = REPO_ROOT / "pflow" / "config.py"
REALM = REPO_ROOT / "deploy" / "keycloak" / "pflow-realm.json"


def text(path) -> str:
    return path.read_text(encoding="utf-8")


def test_both_languages_have_the_same_sections_tables_and_commands():
    tr.assert_says_the_same(text(EN), text(ZH))


def test_every_oidc_setting_pflow_reads_is_in_the_table():
    read = set(re.findall(r'"(OIDC_[A-Z_]+)"', text(CONFIG)))
    rows = {files.code_spans(row[0])[0] for row in files.table_with_header(text(EN), "variable")}
    assert read and read == {name for name in rows if name.startswith("OIDC_")}


def test_the_realm_file_holds_what_the_keycloak_steps_say():
    realm = json.loads(text(REALM))
    client = realm["clients"][0]
    assert client["clientId"] == "pflow" and client["standardFlowEnabled"] and not client["directAccessGrantsEnabled"]
    assert not client["publicClient"] and client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["redirectUris"] == ["${PFLOW_PUBLIC_URL}/api/auth/oidc/callback"]
    assert client["attributes"]["post.logout.redirect.uris"] == "${PFLOW_PUBLIC_URL}/login"
    assert client["secret"] == "${OIDC_CLIENT_SECRET}"  # from the environment, never in the file
    mappers = {m["protocolMapper"]: m["config"] for m in client["protocolMappers"]}
    groups = mappers["oidc-group-membership-mapper"]
    assert groups["claim.name"] == "groups" and groups["full.path"] == "false"
    assert groups["id.token.claim"] == groups["access.token.claim"] == "true"
    assert mappers["oidc-audience-mapper"]["included.client.audience"] == "pflow"
    assert {"managers", "admins"} <= {g["name"] for g in realm["groups"]}
    assert "users" not in realm  # test users live in deploy/keycloak-dev only
