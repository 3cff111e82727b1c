"""Who acts on a ticket."""

from __future__ import annotations

from dataclasses import dataclass, field

REQUESTER = "requester"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (REQUESTER, MANAGER, ADMIN)


@dataclass(frozen=True)
class User:
    username: str
    display_name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_manager(self) -> bool:
        return MANAGER in self.roles


# The automated side of the flow (provisioning worker, reconciliation) acts as this user.
SYSTEM = User("system", "PFlow", frozenset({"system"}))
