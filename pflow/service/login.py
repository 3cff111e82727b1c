"""Login throttling, lockout and token revocation on top of the shared login state.

- A failed login counts against the username and against the client address; ``max_failures`` failures within
  ``window`` lock that key for ``lockout`` (each with its own policy). A locked login is refused before the password is looked at (no hash).
- Password hashing is deliberately slow: at most ``hash_slots`` hashes run at once per process (by default one
  fewer than the CPUs, at least one), so a burst of logins cannot starve other requests of CPU; and at most
  ``max_waiting`` more logins wait for a slot (by default as many as there are slots): a login beyond that is
  refused at once (503 ``auth.busy``) instead of holding one more of the server's request threads.
- Token generations are cached per process for ``generation_cache_s`` (one second by default): a revocation
  made by another API process takes effect there within that time, one made by this process at once.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pflow.domain.errors import ServiceUnavailable
from pflow.domain.users import User
from pflow.ports.auth_state import AuthStateStore, LoginPolicy
from pflow.ports.users import UserDirectory


def default_hash_slots() -> int:
    return max(1, (os.cpu_count() or 2) - 1)


class LoginLocked(Exception):
    def __init__(self, until: datetime, now: datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until
        self.retry_after_s = max(1, int((until - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class LoginAttempt:
    """How one login went: the user for a right password, else None; ``locked``: what this failure locked
    (``username``, ``address``: it reached the limit), until ``locked_until``."""

    user: User | None
    locked: tuple[str, ...] = ()
    locked_until: datetime | None = None


class LoginGuard:
    def __init__(self, users: UserDirectory, state: AuthStateStore, policy: LoginPolicy | None = None,
                 address_policy: LoginPolicy | None = None, hash_slots: int | None = None,
                 max_waiting: int | None = None, generation_cache_s: float = 1.0, clock=None) -> None:
        self._users = users
        self._state = state
        self.policy = policy or LoginPolicy()  # per username
        self.address_policy = address_policy or self.policy  # per client address
        self.hash_slots = hash_slots or default_hash_slots()
        self.hashing = threading.BoundedSemaphore(self.hash_slots)
        self.max_waiting = self.hash_slots if max_waiting is None else max_waiting
        self._admitted = threading.BoundedSemaphore(self.hash_slots + self.max_waiting)
        self._cache_s = generation_cache_s
        self._cache: dict[str, tuple[float, int]] = {}
        self._cache_lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    @staticmethod
    def keys(username: str, address: str | None) -> list[str]:
        return [f"user:{username}", f"ip:{address or 'unknown'}"]

    def login(self, username: str, password: str, address: str | None) -> User | None:
        """The user for a right password; None for a wrong one (counted); LoginLocked while locked."""
        return self.attempt(username, password, address).user

    def attempt(self, username: str, password: str, address: str | None) -> LoginAttempt:
        """``login``, saying also whether this failure locked the username or the address (for the audit trail)."""
        now = self._clock()
        keys = self.keys(username, address)
        untils = [u for u in (self._state.locked_until(k, now) for k in keys) if u is not None]
        if untils:
            raise LoginLocked(max(untils), now)
        if not self._admitted.acquire(blocking=False):
            raise ServiceUnavailable("login", "too many logins at once", key="auth.busy",
                                     public_message="Many logins are being checked right now; try again in a moment.")
        try:
            with self.hashing:
                user = self._users.authenticate(username, password)  # unknown names hash against a dummy hash
        finally:
            self._admitted.release()
        if user is None:
            states = (self._state.record_failure(keys[0], now, self.policy),
                      self._state.record_failure(keys[1], now, self.address_policy))
            # locked by this very failure: the limit was reached now (a later failure in a lockout counts anew)
            locked = [(kind, s.locked_until) for kind, s in zip(("username", "address"), states)
                      if s.locked_until is not None and s.locked_until > now]
            # this answer says "wrong"; the next attempt meets the lockout
            return LoginAttempt(None, tuple(k for k, _ in locked), max((u for _, u in locked), default=None))
        self._state.clear(keys[0])
        return LoginAttempt(user)

    def token_generation(self, username: str) -> int:
        mono = time.monotonic()
        with self._cache_lock:
            hit = self._cache.get(username)
            if hit is not None and mono - hit[0] < self._cache_s:
                return hit[1]
        value = self._state.token_generation(username)
        with self._cache_lock:
            self._cache[username] = (mono, value)
        return value

    def revoke(self, username: str) -> int:
        """Revoke every token issued so far for the user (logout, admin action)."""
        value = self._state.bump_token_generation(username)
        with self._cache_lock:
            self._cache[username] = (time.monotonic(), value)
        return value
