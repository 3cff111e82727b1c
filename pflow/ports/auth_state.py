"""Login state shared by every API process: failed-login counters with lockouts, and each user's token
generation (a token names the generation it was issued in; bumping it revokes every older token)."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class AttemptState:
    failures: int
    window_start: datetime
    locked_until: datetime | None = None


def after_failure(state: AttemptState | None, now: datetime, policy: LoginPolicy) -> AttemptState:
    """The counter after one more failure: a new window once the old one is over; locked at the limit."""
    if state is None or now - state.window_start >= policy.window or \
            (state.locked_until is not None and state.locked_until <= now):
        state = AttemptState(0, now)
    failures = state.failures + 1
    locked = now + policy.lockout if failures >= policy.max_failures else None
    return AttemptState(failures, state.window_start, locked)


class AuthStateStore(abc.ABC):
    @abc.abstractmethod
    def record_failure(self, key: str, now: datetime, policy: LoginPolicy) -> AttemptState:
        """Count one failed login for ``key`` (atomically per store) and return the new state."""

    @abc.abstractmethod
    def locked_until(self, key: str, now: datetime) -> datetime | None:
        """When ``key``'s lockout ends, or None when it is not locked."""

    @abc.abstractmethod
    def clear(self, key: str) -> None:
        """Forget ``key``'s failures (after a successful login)."""

    @abc.abstractmethod
    def token_generation(self, username: str) -> int:
        """The user's current token generation (0 until first bumped)."""

    @abc.abstractmethod
    def bump_token_generation(self, username: str) -> int:
        """Revoke every token issued so far for the user; returns the new generation."""
