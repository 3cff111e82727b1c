"""Periodic reconciliation: every ticket that is not final is compared with its process instance
now and then, so a divergence left by an outage heals without anyone asking.

Each pass looks at one page per in-flight status, oldest first, and moves on to the next page at
the next pass (wrapping around), so the cost of a pass is bounded whatever the number of tickets.
Tickets changed within the grace period are skipped: their own command may still be under way
(a submit between starting the instance and its commit looks like a divergence for a moment).
Several processes may run passes at once: reconciliation writes only a ticket version it has seen.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

from pflow.domain.errors import ServiceUnavailable
from pflow.domain.model import TicketStatus
from pflow.domain.users import SYSTEM
from pflow.ports.repository import TicketQuery
from pflow.service.tickets import TicketService

log = logging.getLogger(__name__)

IN_FLIGHT = (TicketStatus.DRAFT, TicketStatus.IN_PROGRESS, TicketStatus.NEEDS_ATTENTION)


class Reconciler:
    def __init__(self, tickets: TicketService, *, interval_s: float = 60.0, grace_s: float = 10.0,
                 batch: int = 50, now: Callable[[], datetime] | None = None) -> None:
        self._tickets = tickets
        self.interval_s = interval_s
        self.grace_s = grace_s
        self.batch = batch
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._pages: dict[TicketStatus, int] = {}

    def run_pass(self) -> int:
        """One bounded pass; returns how many tickets it changed."""
        cutoff = self._now() - timedelta(seconds=self.grace_s)
        changed = 0
        for status in IN_FLIGHT:
            page = self._pages.get(status, 1)
            found = self._tickets.list(SYSTEM, TicketQuery(status=status.value, page=page, page_size=self.batch,
                                                           oldest_first=True))
            self._pages[status] = page + 1 if len(found.items) == self.batch else 1
            for ticket in found.items:
                if ticket.updated_at and ticket.updated_at > cutoff:
                    continue
                after = self._tickets.sync(ticket.id)
                if after.version != ticket.version:
                    changed += 1
                    log.info("reconciliation: ticket %s %s -> %s", ticket.id, ticket.status, after.status)
        return changed

    def run_all(self) -> tuple[int, int]:
        """Every in-flight ticket once (on demand: ``pflow reconcile``); returns (looked at, changed)."""
        cutoff = self._now() - timedelta(seconds=self.grace_s)
        seen = changed = 0
        for status in IN_FLIGHT:
            ids: list[str] = []
            page = 1
            while True:  # collect first: reconciling moves tickets between the statuses being paged
                found = self._tickets.list(SYSTEM, TicketQuery(status=status.value, page=page, page_size=100,
                                                               oldest_first=True))
                ids += [t.id for t in found.items if not (t.updated_at and t.updated_at > cutoff)]
                if len(found.items) < 100:
                    break
                page += 1
            for ticket_id in ids:
                before = self._tickets.get(SYSTEM, ticket_id)
                seen += 1
                if self._tickets.sync(ticket_id).version != before.version:
                    changed += 1
        return seen, changed

    def run(self, stop: threading.Event) -> None:
        """Run passes every ``interval_s`` until ``stop`` is set."""
        if self.interval_s <= 0:
            return
        while not stop.wait(self.interval_s):
            try:
                self.run_pass()
            except ServiceUnavailable as exc:
                log.warning("reconciliation pass skipped: %s", exc.message)
            except Exception:  # a pass must never end the loop; the next one tries again
                log.exception("reconciliation pass failed")
