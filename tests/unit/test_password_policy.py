"""`pflow hash-password` refuses weak passwords: shorter than 12 characters, or the username itself."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from werkzeug.security import check_password_hash

from pflow.domain.users import MIN_PASSWORD_LENGTH, password_problem
from pflow.entrypoints.cli import main


@pytest.mark.parametrize("password, username, why", [
    ("short", None, "at least 12 characters long (it has 5)"),
    ("x" * 11, "alice", "at least 12 characters long (it has 11)"),
    ("", None, "at least 12 characters long (it has 0)"),
    ("alice.wonder", "alice.wonder", "must not be the username"),
    ("Alice.Wonder ", "alice.wonder", "must not be the username"),
])
def test_weak_passwords_are_refused_saying_why(password, username, why):
    assert why in password_problem(password, username)
    args = ["hash-password", "--password", password] + (["--username", username] if username else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and why in result.output
    assert "$" not in result.output  # no hash printed


def test_a_good_password_is_hashed():
    assert MIN_PASSWORD_LENGTH == 12 and password_problem("correct horse", "alice") is None
    result = CliRunner().invoke(main, ["hash-password", "--password", "correct horse", "--username", "alice"])
    assert result.exit_code == 0, result.output
    assert check_password_hash(result.output.strip(), "correct horse")


def test_the_prompt_asks_whose_password_it_is(monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "bob.the.builder")
    result = CliRunner().invoke(main, ["hash-password"], input="bob.the.builder\n")
    assert result.exit_code != 0 and "must not be the username" in result.output
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a much longer secret")
    result = CliRunner().invoke(main, ["hash-password"], input="bob\n")
    assert result.exit_code == 0, result.output
    assert check_password_hash(result.output.strip().splitlines()[-1], "a much longer secret")
