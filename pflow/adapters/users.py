"""Users from configuration: a JSON file of users with werkzeug password hashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from werkzeug.security import check_password_hash, generate_password_hash

from pflow.domain.outbound import LANGUAGES
from pflow.domain.users import ROLES, User
from pflow.ports.users import UserDirectory

DEMO_USERS = (
    {"username": "alice", "display_name": "Alice (requester)", "roles": ["requester"], "email": "alice@example.com"},
    {"username": "bob", "display_name": "Bob (manager)", "roles": ["manager"], "groups": ["managers"],
     "email": "bob@example.com"},
    {"username": "dave", "display_name": "Dave (manager)", "roles": ["manager"], "groups": ["managers"],
     "email": "dave@example.com", "language": "zh"},
    {"username": "fiona", "display_name": "Fiona (finance)", "groups": ["finance"], "email": "fiona@example.com"},
    {"username": "sam", "display_name": "Sam (security)", "groups": ["security"], "email": "sam@example.com"},
    {"username": "lena", "display_name": "Lena (team lead)", "groups": ["leads"], "email": "lena@example.com",
     "language": "zh"},
    {"username": "carol", "display_name": "Carol (admin)", "roles": ["admin"], "email": "carol@example.com"},
)

# A dummy hash to compare against for unknown users, so timing does not reveal which names exist.
_DUMMY_PASSWORD = "pflow-dummy-password"
_DUMMY_HASH = generate_password_hash(_DUMMY_PASSWORD)


def hash_method(password_hash: str) -> str:
    """The werkzeug method a hash was made with, with its cost (``pbkdf2:sha256:600000``, ``scrypt:32768:8:1``)."""
    return password_hash.split("$", 1)[0]


_demo: "ConfiguredUserDirectory | None" = None


def _dummy_hashes(hashes: Iterable[str]) -> dict[str, str]:
    """A dummy hash of each method among ``hashes`` (the default method's when there are none)."""
    dummies: dict[str, str] = {}
    for password_hash in hashes:
        method = hash_method(password_hash)
        if method not in dummies:
            try:
                dummies[method] = generate_password_hash(_DUMMY_PASSWORD, method=method)
            except (ValueError, TypeError):
                continue  # not a method werkzeug knows: that user's check fails anyway
    return dummies or {hash_method(_DUMMY_HASH): _DUMMY_HASH}


class UserConfigError(ValueError):
    pass


class ConfiguredUserDirectory(UserDirectory):
    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self._users: dict[str, tuple[User, str]] = {}
        for i, rec in enumerate(records):
            try:
                username, password_hash = rec["username"], rec["password_hash"]
            except KeyError as missing:
                raise UserConfigError(f"user #{i + 1} has no {missing.args[0]!r}") from None
            listed = {"roles": rec.get("roles", []), "groups": rec.get("groups", [])}
            for key, values in listed.items():
                if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                    raise UserConfigError(f"user {username!r}: {key} must be a list of names")
            # A role PFlow does not know is a group (older files listed groups as roles).
            roles = frozenset(r for r in listed["roles"] if r in ROLES)
            groups = frozenset(g.strip() for g in listed["groups"]) | frozenset(r for r in listed["roles"]
                                                                                if r not in ROLES)
            email = rec.get("email") or ""
            if not isinstance(email, str) or (email and ("@" not in email or any(c in email for c in " \r\n<>,"))):
                raise UserConfigError(f"user {username!r}: email {email!r} is not an e-mail address")
            language = rec.get("language") or "en"
            if language not in LANGUAGES:
                raise UserConfigError(f"user {username!r}: language {language!r} is not one of "
                                      f"{', '.join(LANGUAGES)}")
            user = User(username, rec.get("display_name") or username, roles, groups, email.strip(), language)
            self._users[username] = (user, password_hash)
        self._dummies = _dummy_hashes(h for _, h in self._users.values())

    @classmethod
    def from_file(cls, path: str | Path) -> "ConfiguredUserDirectory":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserConfigError(f"users file {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise UserConfigError(f"users file {path} is not valid JSON: {exc}") from None
        records = data.get("users") if isinstance(data, dict) else data
        if not isinstance(records, list):
            raise UserConfigError(f"users file {path} must hold a list of users (or {{'users': [...]}})")
        return cls(records)

    @classmethod
    def demo(cls) -> "ConfiguredUserDirectory":
        """alice / bob / carol, each with their own name as password. Never for production."""
        global _demo
        if _demo is None:  # hashing is deliberately slow; the directory is immutable, so share it
            _demo = cls({**u, "password_hash": generate_password_hash(u["username"])} for u in DEMO_USERS)
        return _demo

    def get(self, username: str) -> User | None:
        entry = self._users.get(username)
        return entry[0] if entry else None

    def authenticate(self, username: str, password: str) -> User | None:
        """Every login costs the same, known name or not: one check per hash method the file uses (the user's own
        hash for their method, a dummy hash of each other one). With one dummy for unknown names only, a file
        that mixes methods (old pbkdf2 hashes next to new scrypt ones) told names apart by how long they took."""
        entry = self._users.get(username)
        method = hash_method(entry[1]) if entry is not None else None
        right = False
        for dummy_method, dummy in self._dummies.items():
            if dummy_method == method:
                right = check_password_hash(entry[1], password)
            else:
                check_password_hash(dummy, password)
        if entry is not None and method not in self._dummies:  # a hash werkzeug could not make again
            right = check_password_hash(entry[1], password)
        return entry[0] if entry is not None and right else None

    def list_users(self) -> list[User]:
        return sorted((u for u, _ in self._users.values()), key=lambda u: u.username)

    def credential_version(self, username: str) -> str | None:
        entry = self._users.get(username)
        return entry[1] if entry is not None else None  # the hash: a new password has a new one
