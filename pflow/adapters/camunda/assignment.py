"""Who holds an open user task on Camunda 7: claim, unclaim and reassignment, with Camunda's own task
API (``POST /task/{id}/claim``, ``/unclaim``, ``/assignee``).

Camunda's claim is atomic: a second claim of a task someone holds fails with
``TaskAlreadyClaimedException`` (a 500), which becomes ``TaskClaimedByOther`` naming the holder. A
task of a process outside the adapter's scope (``process_keys``) is not found, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from pflow.ports.process import TaskClaimedByOther, TaskNotFound

from .client import CamundaHttpError


def _missing(error: CamundaHttpError) -> bool:
    return (error.status == 404 or "Cannot find task" in error.message or "does not exist" in error.message
            or error.type in ("NotFoundException", "NullValueException"))


def _already_claimed(error: CamundaHttpError) -> bool:
    # Two claims at the same moment: the later one fails on the task's claim check, or on its version
    # (an OptimisticLockingException) when both read the task unclaimed.
    return (error.type in ("TaskAlreadyClaimedException", "OptimisticLockingException")
            or "already claimed" in error.message)


class CamundaTaskAssignment:
    """``claim``, ``unclaim`` and ``set_assignee`` of ``ProcessEngine`` (mixed into the Camunda adapter,
    which provides ``_client`` and ``_in_scope``)."""

    def _open_task_dto(self, task_id: str) -> dict[str, Any]:
        try:
            dto = self._client.get(f"/task/{task_id}")
        except CamundaHttpError as exc:
            if _missing(exc):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            raise
        definition_id = dto.get("processDefinitionId") or ""
        key = definition_id.split(":", 1)[0] if definition_id.count(":") >= 2 else None
        if key is not None and not self._in_scope(key):
            raise TaskNotFound(f"user task {task_id} does not exist or is completed")
        return dto

    def _post_task(self, task_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        try:
            self._client.post(f"/task/{task_id}/{action}", body)
        except CamundaHttpError as exc:
            if _missing(exc):
                raise TaskNotFound(f"user task {task_id} does not exist or is completed") from None
            raise

    def claim(self, task_id: str, user: str) -> None:
        if not user:
            raise ValueError("claim needs a user")
        with self._client.call_budget():
            holder = self._open_task_dto(task_id).get("assignee")
            if holder == user:
                return
            if holder:
                raise TaskClaimedByOther(f"user task {task_id} is claimed by {holder}", assignee=holder)
            for attempt in (1, 2):
                try:
                    self._post_task(task_id, "claim", {"userId": user})
                    return
                except CamundaHttpError as exc:
                    if not _already_claimed(exc):
                        raise
                holder = self._open_task_dto(task_id).get("assignee")  # who won the race
                if holder == user:
                    return
                if holder:
                    raise TaskClaimedByOther(f"user task {task_id} is claimed by {holder}", assignee=holder)
                # The other claim was given back meanwhile: try once more.
            raise TaskClaimedByOther(f"user task {task_id} is being claimed by someone else", assignee=None)

    def unclaim(self, task_id: str) -> None:
        with self._client.call_budget():
            self._open_task_dto(task_id)
            self._post_task(task_id, "unclaim")

    def set_assignee(self, task_id: str, user: str | None) -> None:
        with self._client.call_budget():
            self._open_task_dto(task_id)
            self._post_task(task_id, "assignee", {"userId": user or None})
