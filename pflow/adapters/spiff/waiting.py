"""Long polling for the embedded engine's external tasks.

Waiting fetches sleep on a condition variable that this process wakes when a task may have become
fetchable; other processes' changes arrive through PostgreSQL ``LISTEN/NOTIFY`` (a listener thread,
started by the first waiting fetch) or, on SQLite, through a short re-check interval. Tasks a
caller's open unit of work is about to record on its ticket are *held* away from this process's
fetches until that unit of work ends.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from typing import Callable

from sqlalchemy import Engine

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "pflow_external_tasks"


class Waiters:
    """The waiting fetches of one engine object: wake-ups, interrupts, held tasks and the listener."""

    def __init__(self, db: Engine, *, listen: bool, poll_interval_s: float, notified_recheck_s: float,
                 hold_s: float) -> None:
        self._db = db
        self._cv = threading.Condition()
        self._generation = 0  # bumped whenever a task may have become fetchable
        self.interrupts = 0
        self._held: dict[str, float] = {}  # external task id -> monotonic time its hold ends at the latest
        self._hold_s = hold_s
        # Without a notification channel (SQLite, or before the listener runs) waits re-check this often,
        # to see tasks other processes created; with LISTEN/NOTIFY only as a safety net.
        self._poll_interval_s = poll_interval_s
        self._notified_recheck_s = notified_recheck_s
        self._listen = listen
        self._listener: _PgListener | None = None
        self.closed = False

    # ------------------------------------------------------------ wake-ups

    def generation(self) -> int:
        with self._cv:
            return self._generation

    def wake(self) -> None:
        with self._cv:
            self._generation += 1
            self._cv.notify_all()

    def interrupt(self) -> None:
        with self._cv:
            self.interrupts += 1
            self._cv.notify_all()

    def wait(self, generation: int, interrupts: int, seconds: float) -> None:
        """Sleep up to ``seconds`` unless a wake-up or an interrupt came since ``generation``/``interrupts``."""
        with self._cv:
            if self._generation == generation and self.interrupts == interrupts:
                self._cv.wait(max(seconds, 0.001))

    def recheck_interval(self) -> float:
        listener = self._listener
        if listener is not None and listener.listening:
            return self._notified_recheck_s  # notifications wake us; this only guards against a lost one
        return self._poll_interval_s

    # ------------------------------------------------------------ held tasks

    def hold(self, task_ids: tuple[str, ...]) -> None:
        with self._cv:
            deadline = time.monotonic() + self._hold_s
            for task_id in task_ids:
                self._held[task_id] = deadline

    def release(self, task_ids: tuple[str, ...], *, wake: bool = True) -> None:
        with self._cv:
            for task_id in task_ids:
                self._held.pop(task_id, None)
        if wake:
            self.wake()

    def held_ids(self) -> list[str]:
        if not self._held:
            return []
        now = time.monotonic()
        with self._cv:
            for task_id in [t for t, deadline in self._held.items() if deadline <= now]:
                del self._held[task_id]
            return list(self._held)

    # ------------------------------------------------------------ listener

    def ensure_listener(self) -> None:
        if not self._listen or self.closed:
            return
        with self._cv:
            if self._listener is None or not self._listener.is_alive():
                self._listener = _PgListener(self._db, NOTIFY_CHANNEL, self.wake)
                self._listener.start()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.interrupt()
        listener = self._listener
        if listener is not None:
            listener.stop()


class _PgListener(threading.Thread):
    """LISTENs on PostgreSQL and calls ``on_notify`` for every notification (and after each reconnect)."""

    def __init__(self, db: Engine, channel: str, on_notify: Callable[[], None]) -> None:
        super().__init__(name="pflow-wf-listen", daemon=True)
        self._db = db
        self._channel = channel
        self._on_notify = on_notify
        self._stop = threading.Event()
        self.listening = False

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        import psycopg2
        import psycopg2.extensions

        backoff = 0.5
        while not self._stop.is_set():
            conn = None
            try:
                cargs, cparams = self._db.dialect.create_connect_args(self._db.url)
                conn = psycopg2.connect(*cargs, **cparams)
                conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {self._channel}")
                self.listening = True
                backoff = 0.5
                self._on_notify()  # anything that happened while we were not listening
                while not self._stop.is_set():
                    ready, _, _ = select.select([conn], [], [], 1.0)
                    if ready:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self._on_notify()
            except Exception as exc:  # reconnect: the database may be restarting
                self.listening = False
                log.warning("embedded engine: LISTEN connection lost (%s); retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                self.listening = False
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
