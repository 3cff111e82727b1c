"""Where users, their passwords and roles come from."""

from __future__ import annotations

import abc

from pflow.domain.users import User


class UserDirectory(abc.ABC):
    @abc.abstractmethod
    def get(self, username: str) -> User | None:
        """The user, or None when there is no such user."""

    @abc.abstractmethod
    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the password matches, else None (never says which part was wrong)."""

    @abc.abstractmethod
    def list_users(self) -> list[User]:
        """Every known user, sorted by username."""

    def credential_version(self, username: str) -> str | None:
        """Something that changes whenever the user's password changes (tokens issued before are then
        refused); None when the directory cannot tell."""
        return None
