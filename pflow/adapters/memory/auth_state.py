"""Login state in memory (one process)."""

from __future__ import annotations

import threading
from datetime import datetime

from pflow.ports.auth_state import AttemptState, AuthStateStore, LoginPolicy, after_failure


class InMemoryAuthState(AuthStateStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[str, AttemptState] = {}
        self._generations: dict[str, int] = {}

    def record_failure(self, key: str, now: datetime, policy: LoginPolicy) -> AttemptState:
        with self._lock:
            state = self._attempts[key] = after_failure(self._attempts.get(key), now, policy)
            return state

    def locked_until(self, key: str, now: datetime) -> datetime | None:
        with self._lock:
            state = self._attempts.get(key)
        if state is None or state.locked_until is None or state.locked_until <= now:
            return None
        return state.locked_until

    def clear(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)

    def token_generation(self, username: str) -> int:
        with self._lock:
            return self._generations.get(username, 0)

    def bump_token_generation(self, username: str) -> int:
        with self._lock:
            value = self._generations[username] = self._generations.get(username, 0) + 1
            return value
