"""Users have groups (what processes name) apart from PFlow's own permissions (admin)."""

from __future__ import annotations

import pytest

from pflow.adapters.users import ConfiguredUserDirectory, UserConfigError
from pflow.domain.users import User


def _directory(**user):
    return ConfiguredUserDirectory([{"username": "fiona", "password_hash": "x", **user}])


def test_groups_load_from_the_users_file():
    fiona = _directory(groups=["finance", "purchasing"]).get("fiona")
    assert fiona.groups == {"finance", "purchasing"} and not fiona.is_admin and not fiona.is_manager


def test_a_role_pflow_does_not_know_is_a_group_not_a_crash():
    fiona = _directory(roles=["finance", "requester"]).get("fiona")
    assert fiona.in_group("finance") and fiona.roles == {"requester"}


def test_the_manager_role_and_the_managers_group_are_one():
    assert User("bob", roles=frozenset({"manager"})).groups == {"managers"}
    assert User("bob", groups=frozenset({"managers"})).is_manager


@pytest.mark.parametrize("bad", [{"groups": "finance"}, {"groups": [""]}, {"roles": [3]}])
def test_groups_that_are_not_a_list_of_names_are_refused_naming_the_user(bad):
    with pytest.raises(UserConfigError, match="user 'fiona'"):
        _directory(**bad)
