"""Reminders about due steps, from ``pflow serve`` and every ``pflow worker``.

A step with a due time (its BPMN's ``camunda:dueDate``, or its ticket type's ``due``) gets two events while it
stays open: ``task.reminder`` once it is due within ``remind_before`` (``PFLOW_REMIND_BEFORE``), and
``task.overdue`` once its due time has passed. Each goes out through the outbox, committed together with the
record that it was sent (``TaskReminders``); that record's key refuses a second commit of the same one, so
however many processes scan at once, each step has each event once. The notification consumer then tells the
people who may act on the step, as it does for ``task.created``.

A step that is already past its due time when first seen (created so, or after downtime) gets only the
overdue notice: a reminder that it is due soon would come too late to be true. The scanner reads the inbox
rows, so it works the same over every engine; it asks the clock it is given, so tests move time instead of
sleeping.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from pflow.domain.durations import add_duration
from pflow.domain.errors import ConcurrencyConflict, NotFound, ServiceUnavailable
from pflow.ports.repository import OVERDUE, REMINDER, DueStep, UnitOfWork

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class TaskReminderScanner:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], *, remind_before: str = "PT4H",
                 interval_s: float = 60, clock: Callable[[], datetime] = utc_now, batch: int = 100) -> None:
        self._uow = uow_factory
        self.remind_before = remind_before
        self.interval_s = interval_s
        self._clock = clock
        self.batch = batch

    @property
    def active(self) -> bool:
        return self.interval_s > 0

    def run_once(self) -> list[tuple[str, str]]:
        """Send what is due by now; returns the (task id, kind) pairs this call sent."""
        now = self._clock()
        sent: list[tuple[str, str]] = []
        # Overdue notices first: a step past its due time is told so, not that it is due soon.
        for kind, due_by, due_after in ((OVERDUE, now, None), (REMINDER, add_duration(now, self.remind_before), now)):
            while True:
                with self._uow() as uow:
                    found = uow.reminders.pending(kind, due_by, due_after=due_after, limit=self.batch)
                fresh = [step for step in found if self._send(step, kind, now)]
                sent += [(step.task_id, kind) for step in fresh]
                if len(found) < self.batch or not fresh:
                    break  # all seen (or only ones others are sending right now: the next round looks again)
        return sent

    def _send(self, due: DueStep, kind: str, now: datetime) -> bool:
        """One reminder in its own transaction, so a lost race costs only that one."""
        with self._uow() as uow:
            try:
                ticket = uow.tickets.get(due.ticket_id)
            except NotFound:
                return False  # deleted meanwhile
            step = ticket.step(due.task_id)
            if step is None or step.due is None:
                return False  # completed (or moved on) since the scan
            uow.outbox.add(ticket.due_notice(step, kind == OVERDUE, now))
            uow.reminders.add(due.task_id, due.ticket_id, kind, now)
            try:
                uow.commit()
            except ConcurrencyConflict:
                log.debug("the %s of step %s was sent by another process", kind, due.task_id)
                return False
        log.info("ticket %s: sent the %s of step %s (due %s)", due.ticket_id, kind, step.definition_key,
                 step.due.isoformat())
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                self.run_once()
            except ServiceUnavailable as exc:
                log.warning("no reminders sent this round: %s", exc.message)
            except Exception:  # a round must never end the loop; the next one tries again
                log.exception("sending reminders failed")
