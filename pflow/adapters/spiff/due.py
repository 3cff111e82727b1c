"""Due times of open user tasks on the embedded engine: ``ProcessEngine.set_due``.

A task's due time is a column of ``wf_user_tasks`` (``due_ms``), resolved from ``camunda:dueDate`` when the
task is created; the instance's SpiffWorkflow state does not hold it, so setting it later changes that one
row and no instance has to be restored. A later save of the instance keeps the row of a task still open.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import update

from pflow.adapters.spiff import tables as t
from pflow.adapters.spiff.values import ms_of
from pflow.ports.process import TaskNotFound


class TaskDueDates:
    """Mixed into the embedded engine (it provides ``_write``)."""

    def set_due(self, task_id: str, due: datetime) -> None:
        if due.tzinfo is None:
            due = due.replace(tzinfo=timezone.utc)
        with self._write() as tx:  # type: ignore[attr-defined]
            changed = tx.conn.execute(update(t.user_tasks).where(t.user_tasks.c.id == task_id)
                                      .values(due_ms=ms_of(due.timestamp()))).rowcount
            if not changed:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
