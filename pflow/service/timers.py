"""Firing the embedded engine's timers from ``pflow serve`` and every ``pflow worker``.

The engine keeps its waiting timers in the database and fires each exactly once whichever process asks
(``TimerJobs.fire_due_timers``); this loop asks every ``interval_s`` and then brings the tickets whose
process moved up to date at once (a timer that opens an escalation step shows on the ticket without
waiting for reconciliation). Camunda and Operaton fire timers themselves; their tickets follow by
reconciliation.
"""

from __future__ import annotations

import logging
import threading

from pflow.domain.errors import DomainError, ServiceUnavailable
from pflow.ports.process import TimerJobs
from pflow.ports.telemetry import NO_TELEMETRY, Telemetry
from pflow.service.tickets import TicketService

log = logging.getLogger(__name__)


class TimerFiring:
    def __init__(self, engine: object, tickets: TicketService, *, interval_s: float = 1.0,
                 telemetry: Telemetry = NO_TELEMETRY) -> None:
        self._telemetry = telemetry
        self._engine = engine if isinstance(engine, TimerJobs) else None
        self._tickets = tickets
        self.interval_s = interval_s

    @property
    def active(self) -> bool:
        return self._engine is not None and self.interval_s > 0

    def run_once(self) -> list[str]:
        """Fire what is due; returns the business keys of the tickets whose process moved."""
        if self._engine is None:
            return []
        keys = self._engine.fire_due_timers()
        if keys:
            self._telemetry.timers_fired(len(keys))
        for key in keys:
            try:
                self._tickets.sync(key)
            except DomainError as exc:  # e.g. no ticket for a key started outside PFlow: reconciliation decides
                log.info("timer fired for %s; its ticket follows later (%s)", key, exc)
        return keys

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                self.run_once()
            except ServiceUnavailable as exc:
                log.warning("timers not fired this round: %s", exc.message)
            except Exception:  # a round must never end the loop; the next one tries again
                log.exception("firing timers failed")
