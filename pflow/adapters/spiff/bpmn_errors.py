"""BPMN errors a worker reports on an external task (Camunda 7's ``bpmnError``), with Camunda's semantics on
SpiffWorkflow's task tree.

The error is caught by a waiting error boundary event whose code matches (one without a code catches every
error), first on the task itself, then on each enclosing subprocess or call activity, innermost first; an
exact code wins over a catch-all on the same activity. Caught, the boundary event fires and interrupts the
activity it is attached to. Caught nowhere, the execution that threw ends, as Camunda 7 ends it: the
process or subprocess it ran in ends where nothing else still runs in it (a subprocess then goes on after
itself), and otherwise the other paths go on.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

_LIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING


def _scopes(task):
    """The task, then the subprocess or call-activity task of each enclosing scope, innermost first."""
    current = task
    while current is not None:
        yield current
        workflow = current.workflow
        parent_id = getattr(workflow, "parent_task_id", None)
        current = workflow.top_workflow.get_task_from_id(parent_id) if parent_id is not None else None


def _catcher_on(activity, code: str):
    """The waiting error boundary event on ``activity`` that catches ``code`` (exact code before catch-all)."""
    split = activity.parent
    if split is None or not isinstance(split.task_spec, BoundaryEventSplit):
        return None
    catch_all = None
    for event in split.children:
        spec = event.task_spec
        if not isinstance(spec, BoundaryEvent) or event.state != TaskState.WAITING:
            continue
        definition = spec.event_definition
        if not isinstance(definition, ErrorEventDefinition):
            continue
        if definition.code == code:
            return event
        if definition.code is None and catch_all is None:
            catch_all = event
    return catch_all


def catching_boundary(task, code: str):
    """The error boundary event that catches ``code`` thrown at ``task``, or None when nothing does."""
    for activity in _scopes(task):
        event = _catcher_on(activity, code)
        if event is not None:
            return event
    return None


def catch(boundary, code: str, payload: dict[str, Any]) -> None:
    """Fire ``boundary`` with the error; its path starts with ``payload`` as data."""
    definition = boundary.task_spec.event_definition
    event = BpmnEvent(ErrorEventDefinition(definition.name, code=code), payload=dict(payload))
    boundary.task_spec.catch(boundary, event)
    boundary.task_spec._update(boundary)


def end_execution(task) -> None:
    """End the execution of ``task`` with nothing catching its error (Camunda 7's default)."""
    split = task.parent if task.parent is not None and isinstance(task.parent.task_spec, BoundaryEventSplit) else None
    # The task's own path: the task, its boundary events and whatever was predicted after them.
    for path in (split.children if split is not None else [task]):
        if not path.has_state(TaskState.FINISHED_MASK):
            path.cancel()
    workflow = task.workflow
    if workflow.get_tasks(state=_LIVE):
        return  # other paths of this scope still run: they go on
    top = workflow.top_workflow
    if getattr(workflow, "parent_task_id", None) is None:
        top.cancel()  # the process itself: the instance ends here, at no end event
        return
    # A subprocess or called process with nothing left in it ends, and its activity completes in the parent.
    top.cancel(workflow)
    workflow.completed_event(workflow)
