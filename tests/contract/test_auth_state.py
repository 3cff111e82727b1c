"""The login-state store contract, for the in-memory and the SQLAlchemy adapter (SQLite here; PostgreSQL
under the integration mark): failure counting with windows and lockouts, and token generations."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from pflow.ports.auth_state import LoginPolicy
from tests.support import build_stack

POLICY = LoginPolicy(max_failures=3, window=timedelta(minutes=10), lockout=timedelta(minutes=5))
T0 = datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def store(request, tmp_path):
    stack = build_stack(request.param, tmp_path)
    yield stack.container.auth_state()
    stack.close()


def test_failures_lock_a_key_at_the_limit_until_the_lockout_ends(store):
    assert store.locked_until("user:a", T0) is None
    assert store.record_failure("user:a", T0, POLICY).failures == 1
    assert store.record_failure("user:a", T0 + timedelta(minutes=1), POLICY).locked_until is None
    state = store.record_failure("user:a", T0 + timedelta(minutes=2), POLICY)
    assert (state.failures, state.locked_until) == (3, T0 + timedelta(minutes=7))
    assert store.locked_until("user:a", T0 + timedelta(minutes=6)) == T0 + timedelta(minutes=7)
    assert store.locked_until("user:a", T0 + timedelta(minutes=7)) is None
    assert store.locked_until("user:b", T0 + timedelta(minutes=6)) is None  # keys are separate


def test_failures_outside_the_window_start_a_new_count(store):
    store.record_failure("ip:1", T0, POLICY)
    store.record_failure("ip:1", T0 + timedelta(minutes=1), POLICY)
    state = store.record_failure("ip:1", T0 + timedelta(minutes=11), POLICY)
    assert (state.failures, state.locked_until) == (1, None)


def test_a_failure_after_a_lockout_ended_starts_over(store):
    for i in range(3):
        store.record_failure("user:c", T0 + timedelta(seconds=i), POLICY)
    state = store.record_failure("user:c", T0 + timedelta(minutes=6), POLICY)
    assert (state.failures, state.locked_until) == (1, None)


def test_clear_forgets_the_failures(store):
    store.record_failure("user:d", T0, POLICY)
    store.record_failure("user:d", T0, POLICY)
    store.clear("user:d")
    store.clear("user:never-seen")
    assert store.record_failure("user:d", T0, POLICY).failures == 1


def test_concurrent_failures_are_all_counted(store):
    threads = [threading.Thread(target=store.record_failure, args=("user:e", T0, POLICY)) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert store.record_failure("user:e", T0, POLICY).failures == 13


def test_token_generations_start_at_zero_and_bump_per_user(store):
    assert store.token_generation("alice") == 0
    assert store.bump_token_generation("alice") == 1
    assert store.bump_token_generation("alice") == 2
    assert store.token_generation("alice") == 2
    assert store.token_generation("bob") == 0


def test_the_login_guard_says_which_failure_locked_and_what(store):
    """The failure that reaches the limit says so (for the audit trail); the ones before and the refusals after
    do not."""
    from pflow.service.login import LoginGuard, LoginLocked
    from tests.support import TEST_USERS

    now = [T0]
    guard = LoginGuard(TEST_USERS, store, POLICY, LoginPolicy(max_failures=5, window=timedelta(minutes=10),
                                                              lockout=timedelta(minutes=5)), clock=lambda: now[0])
    first = guard.attempt("alice", "wrong", "10.1.1.1")
    assert (first.user, first.locked, first.locked_until) == (None, (), None)
    guard.attempt("alice", "wrong", "10.1.1.1")
    third = guard.attempt("alice", "wrong", "10.1.1.1")
    assert (third.user, third.locked, third.locked_until) == (None, ("username",), T0 + timedelta(minutes=5))
    with pytest.raises(LoginLocked):
        guard.attempt("alice", "alice", "10.1.1.1")
    guard.attempt("bob", "wrong", "10.1.1.1")
    both = guard.attempt("bob", "wrong", "10.1.1.1")  # the address's fifth failure
    assert both.locked == ("address",)
    now[0] = T0 + timedelta(minutes=6)
    assert guard.attempt("alice", "alice", "10.1.1.2").user.username == "alice"
