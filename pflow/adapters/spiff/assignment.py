"""Who holds an open user task on the embedded engine: claim, unclaim and reassignment.

The assignee is the one column of ``wf_user_tasks`` that changes while a task stays open; the
SpiffWorkflow state does not know it (Camunda keeps it on its task row too), so each change is one
conditional ``UPDATE`` of that row. Of two concurrent claims exactly one updates the row: the
other finds the assignee set and is refused, as Camunda refuses a second claim.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select as sql_select, update

from pflow.adapters.spiff import tables as t
from pflow.ports.process import TaskClaimedByOther, TaskNotFound

_U = t.user_tasks


class TaskAssignment:
    """``claim``, ``unclaim`` and ``set_assignee`` of ``ProcessEngine`` (mixed into the embedded engine,
    which provides ``_write``)."""

    def claim(self, task_id: str, user: str) -> None:
        if not user:
            raise ValueError("claim needs a user")
        with self._write() as tx:
            done = tx.conn.execute(update(_U).where(and_(_U.c.id == task_id, or_(
                _U.c.assignee.is_(None), _U.c.assignee == user))).values(assignee=user))
            if done.rowcount == 1:
                return
            holder = tx.conn.execute(sql_select(_U.c.assignee).where(_U.c.id == task_id)).first()
        if holder is None:
            raise TaskNotFound(f"user task {task_id} does not exist or is completed")
        raise TaskClaimedByOther(f"user task {task_id} is claimed by {holder.assignee}", assignee=holder.assignee)

    def unclaim(self, task_id: str) -> None:
        self.set_assignee(task_id, None)

    def set_assignee(self, task_id: str, user: str | None) -> None:
        with self._write() as tx:
            done = tx.conn.execute(update(_U).where(_U.c.id == task_id).values(assignee=user or None))
            if done.rowcount != 1:
                raise TaskNotFound(f"user task {task_id} does not exist or is completed")
