from __future__ import annotations

import pytest

from pflow.entrypoints.http import create_app
from tests.support import STACKS, TEST_USERS, build_stack


@pytest.fixture(params=STACKS)
def stack(request, tmp_path):
    """A full set of adapters (memory by default; real engines and stores under their marks)."""
    s = build_stack(request.param, tmp_path)
    yield s
    s.close()


@pytest.fixture
def memory_stack(tmp_path):
    s = build_stack("memory", tmp_path)
    yield s
    s.close()


class ApiClient:
    """The Flask test client as an API client: bearer tokens, logged in as one user at a time (no cookies: a
    browser's session cookie is tested on its own, tests/api/test_session_cookies.py)."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client(use_cookies=False)
        self._tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self._tokens:
            r = self.client.post("/api/auth/login", json={"username": username, "password": username})
            assert r.status_code == 200, r.json
            self._tokens[username] = r.json["token"]
        return self._tokens[username]

    def call(self, method: str, path: str, as_user: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if as_user:
            headers["Authorization"] = f"Bearer {self.token(as_user)}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, as_user=None, **kw):
        return self.call("GET", path, as_user, **kw)

    def post(self, path, as_user=None, **kw):
        return self.call("POST", path, as_user, **kw)

    def patch(self, path, as_user=None, **kw):
        return self.call("PATCH", path, as_user, **kw)

    def put(self, path, as_user=None, **kw):
        return self.call("PUT", path, as_user, **kw)

    def delete(self, path, as_user=None, **kw):
        return self.call("DELETE", path, as_user, **kw)


@pytest.fixture
def api(stack):
    return ApiClient(create_app(stack.container))


@pytest.fixture
def users():
    return TEST_USERS


def pytest_sessionfinish(session, exitstatus):
    """Remove what the session deployed on a shared Camunda (its own process key only)."""
    from tests.camunda.stack import cleanup_session

    cleanup_session()
