"""Who acts on a ticket."""

from __future__ import annotations

from dataclasses import dataclass, field

REQUESTER = "requester"
MANAGER = "manager"
ADMIN = "admin"
ROLES = (REQUESTER, MANAGER, ADMIN)


#: the group the manager role stands for (processes name groups, not roles)
MANAGERS_GROUP = "managers"


@dataclass(frozen=True)
class User:
    """Someone who signs in. ``groups`` decide which process steps they may act on (a BPMN task's
    candidate groups); ``roles`` are PFlow's own permissions (``admin``). The ``manager`` role is the
    ``managers`` group under its older name."""

    username: str
    display_name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    email: str = ""  # where PFlow's e-mails to them go; none: in-app notifications only
    language: str = "en"  # the language of those e-mails: "en" or "zh"

    def __post_init__(self) -> None:
        if MANAGER in self.roles and MANAGERS_GROUP not in self.groups:
            object.__setattr__(self, "groups", self.groups | {MANAGERS_GROUP})
        if MANAGERS_GROUP in self.groups and MANAGER not in self.roles:
            object.__setattr__(self, "roles", self.roles | {MANAGER})

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def in_group(self, group: str) -> bool:
        return group in self.groups

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def is_manager(self) -> bool:
        return MANAGER in self.roles


# The automated side of the flow (provisioning worker, reconciliation) acts as this user.
SYSTEM = User("system", "PFlow", frozenset({"system"}))


#: the shortest password PFlow hashes for a users file
MIN_PASSWORD_LENGTH = 12


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why PFlow refuses to set ``password`` (for ``username``), or None: shorter than ``MIN_PASSWORD_LENGTH``
    characters, or the username itself (in any case, spaces around it ignored)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters long (it has {len(password)})."
    if username and password.strip().casefold() == username.strip().casefold():
        return "The password must not be the username."
    return None
