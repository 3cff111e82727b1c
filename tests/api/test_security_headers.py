"""Security headers on every answer (the finding: no CSP, nosniff, frame-ancestors or Referrer-Policy on the
API or the UI, and API answers were cacheable): the API, its errors, Swagger UI and the built UI."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from pflow.entrypoints.http import create_app
from tests.api.test_ui_serving import IMMUTABLE, ui  # noqa: F401  (the built-UI fixture)
from tests.support import build_stack


@pytest.fixture
def client(tmp_path):
    stack = build_stack("memory", tmp_path)
    yield create_app(stack.container).test_client(use_cookies=False)
    stack.close()


def directives(response) -> dict[str, str]:
    csp = response.headers["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in csp.split(";") if part.strip()}


def assert_secured(response):
    csp = directives(response)
    assert csp["default-src"] == "'self'" and csp["script-src"].startswith("'self'")
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert (csp["frame-ancestors"], csp["object-src"], csp["base-uri"]) == ("'none'", "'none'", "'none'")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


def login(client, user="alice"):
    r = client.post("/api/auth/login", json={"username": user, "password": user})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['token']}"}


def test_api_answers_carry_the_headers_and_are_never_stored(client):
    headers = login(client)
    answers = [client.get("/api/tickets", headers=headers), client.get("/api/me", headers=headers),
               client.get("/api/tickets"),  # 401
               client.get("/api/tickets/00000000-0000-0000-0000-000000000000", headers=headers),  # 404
               client.post("/api/tickets", headers=headers, json={"title": ""}),  # 422
               client.get("/api/no-such-route"), client.get("/api/openapi.json")]
    assert [r.status_code for r in answers][:3] == [200, 200, 401]
    for r in answers:
        assert_secured(r)
        assert r.headers["Cache-Control"] == "no-store", (r.request.path, r.status_code)


def test_the_login_answer_with_its_token_is_never_stored(client):
    r = client.post("/api/auth/login", json={"username": "alice", "password": "alice"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert_secured(r)


def test_the_health_probes_and_the_no_ui_page_carry_the_headers(client):
    for path in ("/healthz", "/"):
        assert_secured(client.get(path))


def test_swagger_ui_runs_under_its_policy(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert_secured(page)
    body = page.get_data()
    inline = re.findall(rb"<script>(.*?)</script>", body, re.S)
    assert len(inline) == 1  # the bootstrap script: allowed by its hash, nothing else inline
    digest = "'sha256-" + base64.b64encode(hashlib.sha256(inline[0]).digest()).decode() + "'"
    assert directives(page)["script-src"] == f"'self' {digest}"
    # Its bundles and stylesheet come from this server (the package's files), with their own cache header.
    sources = [s.decode() for s in re.findall(rb'(?:src|href)="([^"]+)"', body)]
    assert sources and all(s.startswith("/api/docs/assets/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and asset.headers["X-Content-Type-Options"] == "nosniff"
        assert asset.headers["Cache-Control"] != "no-store" and "max-age=86400" in asset.headers["Cache-Control"]
    assert client.get("/api/docs/assets/swagger-ui-bundle.js").mimetype in ("text/javascript",
                                                                            "application/javascript")


def test_the_built_ui_carries_the_headers_and_keeps_its_cache_headers(ui):  # noqa: F811
    index = ui.get("/tickets/42")
    assert index.status_code == 200 and index.headers["Cache-Control"] == "no-cache"
    assert_secured(index)
    csp = directives(index)
    # bpmn-js and diagram-js set style attributes and <style> elements while drawing; scripts stay 'self'.
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self' 'unsafe-inline'"
    bundle = ui.get("/assets/index-3f2a9c.js")
    assert bundle.status_code == 200 and bundle.headers["Cache-Control"] == IMMUTABLE
    assert_secured(bundle)
