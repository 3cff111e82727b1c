"""A users file may mix hash methods (old pbkdf2 hashes next to scrypt ones): a login must cost the same whether
the name exists or not, whatever method its hash uses, or its time tells which names exist. Counted by the hash
checks made (their kind and number), not by the clock."""

from __future__ import annotations

from collections import Counter

import pytest
from werkzeug.security import generate_password_hash

import pflow.adapters.users as users_module
from pflow.adapters.users import ConfiguredUserDirectory, hash_method

PBKDF2 = "pbkdf2:sha256:1000"
SCRYPT = "scrypt:1024:8:1"


@pytest.fixture
def directory():
    return ConfiguredUserDirectory([
        {"username": "old", "password_hash": generate_password_hash("old-password-1", method=PBKDF2)},
        {"username": "old2", "password_hash": generate_password_hash("old-password-2", method=PBKDF2)},
        {"username": "new", "password_hash": generate_password_hash("new-password-1", method=SCRYPT)},
    ])


@pytest.fixture
def checks(monkeypatch):
    """The methods of the hashes each login checked."""
    seen: list[str] = []
    real = users_module.check_password_hash
    monkeypatch.setattr(users_module, "check_password_hash", lambda h, p: seen.append(hash_method(h)) or real(h, p))
    return seen


def cost(directory, checks, username, password="wrong"):
    checks.clear()
    directory.authenticate(username, password)
    return Counter(checks)


def test_every_login_checks_one_hash_of_each_method_whoever_it_names(directory, checks):
    unknown = cost(directory, checks, "nobody")
    assert unknown == Counter({PBKDF2: 1, SCRYPT: 1})
    for name in ("old", "new", "old2"):
        assert cost(directory, checks, name) == unknown, name
    assert cost(directory, checks, "new", "new-password-1") == unknown  # a right password too


def test_the_right_password_still_logs_in_and_only_with_the_users_own_hash(directory):
    assert directory.authenticate("old", "old-password-1").username == "old"
    assert directory.authenticate("new", "new-password-1").username == "new"
    assert directory.authenticate("old", "new-password-1") is None
    assert directory.authenticate("new", "old-password-1") is None
    assert directory.authenticate("nobody", "pflow-dummy-password") is None  # the dummies' password opens nothing


def test_a_file_of_one_method_checks_one_hash(checks):
    one = ConfiguredUserDirectory([{"username": "a", "password_hash": generate_password_hash("a" * 12, method=PBKDF2)}])
    assert cost(one, checks, "a") == cost(one, checks, "zz") == Counter({PBKDF2: 1})
