"""Brute force and revocation: failed logins lock a username (and an address) out for a while, a locked login
is refused with 429 before any hashing, logout and an admin's revoke end every token of a user, and password
hashing runs at most a few at once so other requests stay fast during a burst of logins."""

from __future__ import annotations

import os
import threading
import time

from pflow.entrypoints.http import create_app
from tests.conftest import ApiClient


def login(api, username, password, address="10.0.0.1"):
    return api.client.post("/api/auth/login", json={"username": username, "password": password},
                           environ_base={"REMOTE_ADDR": address})


def me(api, token):
    return api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})


def test_the_right_password_is_refused_after_five_wrong_ones_and_without_hashing(api, stack, monkeypatch):
    for _ in range(5):
        r = login(api, "alice", "wrong")
        assert r.status_code == 401, r.json
    hashed = []
    directory = stack.container.users()
    real = directory.authenticate
    monkeypatch.setattr(directory, "authenticate", lambda u, p: hashed.append(u) or real(u, p))
    r = login(api, "alice", "alice")
    assert r.status_code == 429, r.json
    assert r.json["error"]["key"] == "auth.locked"
    assert r.json["error"]["params"] == {"minutes": 15}
    assert 14 * 60 < int(r.headers["Retry-After"]) <= 15 * 60
    assert hashed == []  # a locked login never reaches the password hash
    # the lockout is per username: another user from another address still logs in
    assert login(api, "bob", "bob", address="10.0.0.2").status_code == 200


def test_an_address_is_locked_after_too_many_failures_across_usernames(api):
    for i in range(20):
        assert login(api, f"nobody{i}", "wrong", address="10.9.9.9").status_code == 401
    r = login(api, "bob", "bob", address="10.9.9.9")
    assert r.status_code == 429 and r.json["error"]["key"] == "auth.locked"
    assert login(api, "bob", "bob", address="10.9.9.8").status_code == 200


def test_the_lockout_is_shared_by_every_api_process(stack):
    """Two apps over the same store (two processes of one deployment): one's failures lock the other."""
    first, second = ApiClient(create_app(stack.container)), ApiClient(create_app(stack.container))
    if stack.kind == "sqlite":  # a second container on the same database file: nothing shared in memory
        from pflow.container import build_container, shutdown
        from tests.support import TEST_USERS

        other = build_container(stack.settings)
        other.users.override(TEST_USERS)
        second = ApiClient(create_app(other))
    try:
        for _ in range(5):
            assert login(first, "erin", "wrong").status_code == 401
        assert login(second, "erin", "erin").status_code == 429
    finally:
        if stack.kind == "sqlite":
            shutdown(other)


def test_a_successful_login_clears_the_username_s_failures(api):
    for _ in range(4):
        assert login(api, "dave", "wrong").status_code == 401
    assert login(api, "dave", "dave").status_code == 200
    for _ in range(4):
        assert login(api, "dave", "wrong", address="10.0.0.3").status_code == 401
    assert login(api, "dave", "dave", address="10.0.0.3").status_code == 200


def test_an_unknown_username_is_hashed_like_a_known_one(memory_stack, monkeypatch):
    """The unknown name is checked against a dummy hash, so its answer takes as long as a wrong password."""
    import pflow.adapters.users as users_module

    seen = []
    real = users_module.check_password_hash
    monkeypatch.setattr(users_module, "check_password_hash", lambda h, p: seen.append(h) or real(h, p))
    api = ApiClient(create_app(memory_stack.container))
    assert login(api, "no-such-user", "x").status_code == 401
    directory = memory_stack.container.users()
    own = {h for _, h in directory._users.values()}
    (checked,) = seen
    assert checked not in own  # a dummy, of the method the users' hashes use
    assert users_module.hash_method(checked) in {users_module.hash_method(h) for h in own}


def test_logout_revokes_the_caller_s_tokens(api):
    token = login(api, "alice", "alice").json["token"]
    other_device = login(api, "alice", "alice", address="10.0.0.9").json["token"]
    assert me(api, token).status_code == 200
    r = api.client.post("/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    for t in (token, other_device):
        r = me(api, t)
        assert r.status_code == 401 and r.json["error"]["key"] == "auth.session_revoked"
    fresh = login(api, "alice", "alice").json["token"]
    assert me(api, fresh).status_code == 200


def test_logout_needs_a_token(api):
    assert api.client.post("/api/auth/logout").status_code == 401


def test_an_admin_revokes_a_user_s_tokens(api):
    token = login(api, "bob", "bob").json["token"]
    assert api.post("/api/users/bob/revoke", as_user="alice").status_code == 403
    assert me(api, token).status_code == 200
    r = api.post("/api/users/bob/revoke", as_user="carol")
    assert r.status_code == 204, r.json
    assert me(api, token).json["error"]["key"] == "auth.session_revoked"
    assert api.post("/api/users/nobody/revoke", as_user="carol").status_code == 404


def test_a_revocation_by_another_process_takes_effect_within_the_cache_time(memory_stack):
    guard = memory_stack.container.login_guard()
    assert guard.token_generation("alice") == 0
    memory_stack.container.auth_state().bump_token_generation("alice")  # as another process would
    deadline = time.monotonic() + 3
    while guard.token_generation("alice") == 0:
        assert time.monotonic() < deadline, "the cached generation was never refreshed"
        time.sleep(0.05)
    assert guard.token_generation("alice") == 1


def test_password_hashing_runs_at_most_hash_slots_at_once(memory_stack, monkeypatch):
    from pflow.service.login import LoginGuard

    directory = memory_stack.container.users()
    shipped = memory_stack.container.login_guard()
    assert shipped.hash_slots == max(1, (os.cpu_count() or 2) - 1)
    # every one of the 8 waits for a slot here (none refused as busy), so the peak counts the slots alone
    guard = LoginGuard(directory, memory_stack.container.auth_state(), hash_slots=shipped.hash_slots, max_waiting=8)
    running, peak, lock = [0], [0], threading.Lock()
    real = directory.authenticate

    def slow(username, password):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return real(username, password)

    monkeypatch.setattr(directory, "authenticate", slow)
    threads = [threading.Thread(target=guard.login, args=("bob", "bob", f"10.1.0.{i}")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert 1 <= peak[0] <= guard.hash_slots < 8


def test_me_stays_answered_during_a_burst_of_logins(memory_stack, monkeypatch):
    """8 logins whose hashing blocks: /api/me does not wait for them (a generous bound, not a benchmark)."""
    app = create_app(memory_stack.container)
    api = ApiClient(app)
    token = login(api, "alice", "alice").json["token"]
    directory = memory_stack.container.users()
    release = threading.Event()
    real = directory.authenticate
    monkeypatch.setattr(directory, "authenticate", lambda u, p: release.wait(10) and real(u, p))
    results = []

    def log_in(i):
        results.append(app.test_client(use_cookies=False).post("/api/auth/login", json={"username": "bob", "password": "bob"},
                                              environ_base={"REMOTE_ADDR": f"10.2.0.{i}"}).status_code)

    threads = [threading.Thread(target=log_in, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        started = time.monotonic()
        assert me(api, token).status_code == 200
        assert time.monotonic() - started < 5
    finally:
        release.set()
        for t in threads:
            t.join(10)
    guard = memory_stack.container.login_guard()
    assert sorted(results) == [200] * (guard.hash_slots + guard.max_waiting) + [503] * (8 - guard.hash_slots - guard.max_waiting)


def test_behind_a_proxy_the_address_it_saw_is_counted_not_one_the_client_chose(tmp_path):
    from tests.support import build_stack

    stack = build_stack("memory", tmp_path, proxy_hops=1)
    try:
        api = ApiClient(create_app(stack.container))

        def attempt(password, forwarded):
            return api.client.post("/api/auth/login", json={"username": f"u{forwarded}", "password": password},
                                   headers={"X-Forwarded-For": forwarded}, environ_base={"REMOTE_ADDR": "172.18.0.5"})

        for i in range(20):  # the client puts a new address first each time; nginx appends the real one
            assert attempt("wrong", f"1.2.3.{i}, 203.0.113.7").status_code == 401
        r = api.client.post("/api/auth/login", json={"username": "bob", "password": "bob"},
                            headers={"X-Forwarded-For": "203.0.113.7"}, environ_base={"REMOTE_ADDR": "172.18.0.5"})
        assert r.status_code == 429
        r = api.client.post("/api/auth/login", json={"username": "bob", "password": "bob"},
                            headers={"X-Forwarded-For": "203.0.113.8"}, environ_base={"REMOTE_ADDR": "172.18.0.5"})
        assert r.status_code == 200  # another client behind the same proxy is not locked out
    finally:
        stack.close()


def test_a_burst_of_logins_holds_only_a_few_request_threads(memory_stack, monkeypatch):
    """While hashing is stuck, logins beyond the slots and the short queue are refused at once (503 auth.busy)
    instead of each holding a request thread that /api/me would then wait for."""
    app = create_app(memory_stack.container)
    guard = memory_stack.container.login_guard()
    directory = memory_stack.container.users()
    release = threading.Event()
    real = directory.authenticate
    monkeypatch.setattr(directory, "authenticate", lambda u, p: release.wait(10) and real(u, p))
    results, lock = [], threading.Lock()

    def log_in(i):
        r = app.test_client(use_cookies=False).post("/api/auth/login", json={"username": "bob", "password": "bob"},
                                   environ_base={"REMOTE_ADDR": f"10.3.0.{i}"})
        with lock:
            results.append((r.status_code, r.json["error"]["key"] if r.status_code != 200 else None,
                            r.headers.get("Retry-After")))

    threads = [threading.Thread(target=log_in, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    admitted = guard.hash_slots + guard.max_waiting
    try:
        deadline = time.monotonic() + 10
        while len(results) < 8 - admitted:  # the refused ones answer while hashing is still stuck
            assert time.monotonic() < deadline, f"logins waited for the stuck hashing: {results}"
            time.sleep(0.01)
        assert all(r == (503, "auth.busy", "5") for r in results)
    finally:
        release.set()
        for t in threads:
            t.join(10)
    assert sorted(r[0] for r in results) == [200] * admitted + [503] * (8 - admitted)


def test_a_password_change_ends_the_sessions_opened_with_the_old_password(memory_stack):
    from werkzeug.security import generate_password_hash

    from pflow.adapters.users import ConfiguredUserDirectory

    def directory(password):
        return ConfiguredUserDirectory([{"username": "alice", "roles": ["requester"],
                                         "password_hash": generate_password_hash(password, "pbkdf2:sha256:1000")}])

    def restart_with(users):  # the users file is read at start: a new password means a restart
        memory_stack.container.users.override(users)
        memory_stack.container.login_guard.reset()

    restart_with(directory("first-password-1"))
    api = ApiClient(create_app(memory_stack.container))
    old = login(api, "alice", "first-password-1").json["token"]
    assert me(api, old).status_code == 200
    # the users file gets a new hash for alice (an admin reset her password) and PFlow reloads it
    restart_with(directory("second-password-2"))
    r = me(api, old)
    assert r.status_code == 401 and r.json["error"]["key"] == "auth.session_revoked"
    new = login(api, "alice", "second-password-2").json["token"]
    assert me(api, new).status_code == 200
    # nothing in the token gives the hash away
    import base64
    import json as json_

    payload = json_.loads(base64.urlsafe_b64decode(new.split(".")[0] + "=="))
    assert "pbkdf2" not in json_.dumps(payload) and len(payload["c"]) == 32
