"""Reading a Camunda BPMN file into SpiffWorkflow specs the embedded engine can run.

SpiffWorkflow's Camunda parser keeps forms but drops what the approval flow
relies on: ``camunda:type="external"``/``camunda:topic`` on service tasks and
``camunda:candidateGroups`` on user tasks. The small parser and task-spec
subclasses here keep them, with serializer converters so they survive a
round trip through the database.

Before SpiffWorkflow sees the file, :func:`check_definition` walks it and
refuses, naming the file and element, everything the embedded engine would not
run the way Camunda does: other element types (timers, script tasks, boundary
events…), listeners and input/output mappings, expressions in attributes, and
expressions outside the JUEL the embedded engine evaluates (see ``expressions``).
"""

from __future__ import annotations

import re
import time
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.task_parsers import CallActivityParser, SubprocessParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.helpers.spec import TaskSpecConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import CallActivity, ExclusiveGateway, InclusiveGateway, NoneTask, ServiceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS, CamundaTaskParser, UserTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.task_spec import UserTaskConverter
from SpiffWorkflow.camunda.specs.user_task import UserTask as CamundaUserTask
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, ParallelMultiInstanceTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from pflow.adapters.bpmn import reader as bpmn_reader
from pflow.adapters.spiff.timers import CLOCKED, use_engine_clock
from pflow.adapters.spiff.expressions import (
    ExpressionFailed,
    ExpressionRejected,
    check_value_expression,
    evaluate_value,
    is_expression,
    parse_condition,
    require_boolean,
    split_names,
)
from pflow.ports.process import DeploymentRejected

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_B = "{" + BPMN_NS + "}"
_C = "{" + CAMUNDA_MODEL_NS + "}"

# Flow elements the embedded engine runs, and elements that only annotate the diagram.
RUNNABLE = {"startEvent", "endEvent", "userTask", "serviceTask", "exclusiveGateway", "parallelGateway",
            "inclusiveGateway", "eventBasedGateway", "sequenceFlow", "task", "manualTask", "subProcess",
            "callActivity", "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent"}
DECORATION = {"documentation", "extensionElements", "laneSet", "textAnnotation", "association", "group"}
# Children a runnable element may have (anything else is refused).
_ALLOWED_CHILDREN = {"incoming", "outgoing", "documentation", "extensionElements", "conditionExpression",
                     "multiInstanceLoopCharacteristics"}
# Event definitions per kind of event, as the embedded engine runs them.
_EVENTS = {
    "startEvent": set(),
    "endEvent": {"terminateEventDefinition", "errorEventDefinition", "escalationEventDefinition"},
    "boundaryEvent": {"timerEventDefinition", "errorEventDefinition", "escalationEventDefinition"},
    "intermediateCatchEvent": {"timerEventDefinition"},
    "intermediateThrowEvent": {"escalationEventDefinition"},
}
_LOOPS = {"userTask", "serviceTask", "task", "manualTask", "subProcess", "callActivity"}
# Camunda extension elements that only describe (forms, properties) or that the engine maps (in/out).
_ALLOWED_EXTENSIONS = {"properties", "formData", "property"}
_CALL_EXTENSIONS = {"in", "out"}
# Names SpiffWorkflow gives its own task specs: elements with these ids are renamed inside the engine.
_SPIFF_NAMES = {"Start", "End"}


# ------------------------------------------------------------------------ task specs

class ExternalTaskSpec(ServiceTask):
    """A ``camunda:type="external"`` service task: it waits (STARTED) until a worker completes it."""

    def __init__(self, wf_spec, bpmn_id, topic: str, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic

    def _run_hook(self, task):
        return None  # stay STARTED; complete_external_task() completes it


class PassThroughTaskSpec(NoneTask):
    """A plain ``bpmn:task`` or a ``bpmn:manualTask``: work done outside the engine, which Camunda 7 passes straight
    through. (SpiffWorkflow would wait for someone to complete either by hand.)"""

    def __init__(self, wf_spec, bpmn_id, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.manual = False


class ApprovalUserTaskSpec(CamundaUserTask):
    """A Camunda user task that remembers its candidate groups."""

    def __init__(self, wf_spec, bpmn_id, form, candidate_groups=(), **kwargs):
        super().__init__(wf_spec, bpmn_id, form=form, **kwargs)
        self.candidate_groups = tuple(candidate_groups)


class _UserTaskParser(UserTaskParser):
    def create_task(self):
        raw = self.node.get(_C + "candidateGroups") or ""
        # Literal groups only: expressions are resolved per instance by the engine (from the shared reader).
        groups = tuple(g.strip() for g in raw.split(",") if g.strip() and "{" not in g)
        return self.spec_class(self.spec, self.bpmn_id, form=self.get_form(), candidate_groups=groups,
                               **self.bpmn_attributes)


class _ExternalTaskParser(CamundaTaskParser):
    def create_task(self):
        return self.spec_class(self.spec, self.bpmn_id, topic=self.node.get(_C + "topic"), **self.bpmn_attributes)


class MappedCallActivity(CallActivity):
    """A call activity applying its ``camunda:in``/``camunda:out`` mappings by source or sourceExpression.

    The called process runs in the caller's instance and shares its variables (Camunda gives it a scope
    of its own; docs/embedded-engine.md): each ``in`` sets its target when the call starts, each ``out``
    sets its target in the caller when the called process ends. ``variables="all"`` and ``businessKey``
    need nothing more here: the variables and the business key are the caller's already."""

    def __init__(self, wf_spec, bpmn_id, subworkflow_spec, in_mappings=(), out_mappings=(), **kwargs):
        super().__init__(wf_spec, bpmn_id, subworkflow_spec, **kwargs)
        self.in_mappings = tuple(in_mappings)
        self.out_mappings = tuple(out_mappings)

    @staticmethod
    def _apply(mappings, source_task, target_data: dict) -> None:
        if not mappings:
            return
        engine = source_task.workflow.script_engine
        variables = engine.variables(source_task)
        shared = source_task.workflow.top_workflow
        for source, expression, target in mappings:
            if expression is not None:
                value = evaluate_text(expression, variables)
            elif source in variables:
                value = variables[source]
            else:
                continue  # Camunda maps a missing source to nothing as well
            target_data[target] = value
            if getattr(shared, "pflow_variables", None) is not None:
                shared.pflow_variables[target] = value

    def copy_data(self, my_task, subworkflow):
        super().copy_data(my_task, subworkflow)
        start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
        self._apply(self.in_mappings, my_task, start.data)

    def update_data(self, my_task, subworkflow):
        super().update_data(my_task, subworkflow)
        if self.out_mappings and subworkflow.last_task is not None:
            self._apply(self.out_mappings, subworkflow.last_task, my_task.data)


def _mappings(node, name: str) -> list[tuple[str | None, str | None, str]]:
    ext = node.find(_B + "extensionElements")
    found = []
    for item in ext if ext is not None else ():
        if item.tag == _C + name and item.get("target") and (item.get("source") or item.get("sourceExpression")):
            found.append((item.get("source"), item.get("sourceExpression"), item.get("target")))
    return found


class _CallActivityParser(CallActivityParser):
    def create_task(self):
        subworkflow_spec = SubprocessParser.get_call_activity_spec(self)
        return self.spec_class(self.spec, self.bpmn_id, subworkflow_spec=subworkflow_spec,
                               in_mappings=_mappings(self.node, "in"), out_mappings=_mappings(self.node, "out"),
                               **self.bpmn_attributes)


class PFlowCamundaParser(CamundaParser):
    """SpiffWorkflow's Camunda parser, keeping topics and candidate groups."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_UserTaskParser, ApprovalUserTaskSpec),
        full_tag("serviceTask"): (_ExternalTaskParser, ExternalTaskSpec),
        full_tag("task"): (CamundaTaskParser, PassThroughTaskSpec),
        full_tag("manualTask"): (CamundaTaskParser, PassThroughTaskSpec),
        full_tag("callActivity"): (_CallActivityParser, MappedCallActivity),
    }


class _ApprovalUserTaskConverter(UserTaskConverter):
    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct["candidate_groups"] = list(spec.candidate_groups)
        return dct


class _ExternalTaskConverter(TaskSpecConverter):
    def to_dict(self, spec):
        dct = self.get_default_attributes(spec)
        dct["topic"] = spec.topic
        return dct

    def from_dict(self, dct):
        return self.task_spec_from_dict(dct)


def make_serializer() -> BpmnWorkflowSerializer:
    config = deepcopy(CAMUNDA_CONFIG)
    config[ApprovalUserTaskSpec] = _ApprovalUserTaskConverter
    config[ExternalTaskSpec] = _ExternalTaskConverter
    config[PassThroughTaskSpec] = config[NoneTask]
    config[MappedCallActivity] = config[CallActivity]
    for timer, clocked in CLOCKED.items():  # an event-based gateway keeps the timers it saw in its task's data
        config[clocked] = config[timer]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


# ----------------------------------------------------------------------- conditions

class ConditionError(ValueError):
    """A gateway condition could not be evaluated on the instance's variables."""


class ConditionEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine slot, filled with the JUEL-subset interpreter and the engine's clock.

    It never runs Python: script tasks are refused at deploy time, and conditions, multi-instance
    cardinalities and completion conditions are interpreted by ``expressions``. Expressions see the
    process variables (``workflow.pflow_variables``, kept by the engine, as Camunda's process scope)
    over the task's own data, and inside a multi-instance activity also ``nrOfInstances``,
    ``nrOfCompletedInstances``, ``nrOfActiveInstances``, ``loopCounter`` and the element variable.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), timezone.utc)

    def validate(self, expression):
        parse_condition(expression)

    def variables(self, task) -> dict[str, Any]:
        top = task.workflow.top_workflow
        values = {**task.data, **(getattr(top, "pflow_variables", None) or {})}
        values.update(_loop_variables(task))
        return values

    def evaluate(self, task, expression, external_context=None):
        """SpiffWorkflow asks for flow conditions, completion conditions and loop cardinalities here. A
        condition must give a real boolean and a cardinality a number (or numeric text), as in Camunda."""
        text = (expression or "").strip()
        try:
            if not is_expression(text):
                return int(text) if text.lstrip("-").isdigit() else text  # a literal cardinality
            value = evaluate_value(text, self.variables(task))
            role = _role(task, expression)
            if role == "condition":
                return require_boolean(value)
            if role == "cardinality":
                return _cardinality(value)
        except (ExpressionRejected, ExpressionFailed) as exc:
            raise ConditionError(f"element {task.task_spec.bpmn_id!r}: cannot evaluate {expression!r}: {exc}") from None
        return value

    def timer_text(self, task, expression):
        """The text of a timer definition with its ``${...}`` parts resolved."""
        try:
            return evaluate_text(expression, self.variables(task))
        except (ExpressionRejected, ExpressionFailed) as exc:
            raise ConditionError(f"element {task.task_spec.bpmn_id!r}: cannot evaluate {expression!r}: {exc}") from None

    def execute(self, task, script, external_context=None):
        raise ConditionError(f"element {task.task_spec.bpmn_id!r}: the embedded engine does not run scripts")

    def call_service(self, task, **kwargs):
        raise ConditionError(f"element {task.task_spec.bpmn_id!r}: the embedded engine does not call services")


def evaluate_text(text: str, variables: dict[str, Any]) -> Any:
    """A value as Camunda reads attribute text: one expression gives its value, text with expressions in
    it the text with each replaced (EL's coercion to text), plain text itself."""
    stripped = (text or "").strip()
    if not is_expression(stripped):
        return stripped
    return evaluate_value(stripped, variables)


def _role(task, expression: str) -> str:
    """What SpiffWorkflow evaluates: a flow or completion condition, a loop cardinality, or a value."""
    spec = task.task_spec
    for owner in (spec, getattr(task.parent, "task_spec", None)):
        if isinstance(owner, MultiInstanceTask):
            if expression == getattr(owner, "condition", None):
                return "condition"
            if expression == getattr(owner, "cardinality", None) and owner is spec:
                return "cardinality"
    if isinstance(spec, (ExclusiveGateway, InclusiveGateway)):
        return "condition"
    return "value"


def _cardinality(value: Any) -> int:
    """Camunda's loopCardinality: a number, or text holding an integer."""
    if isinstance(value, bool) or value is None:
        raise ExpressionFailed(f"the loop cardinality is {value!r}, not a number")
    if isinstance(value, (int, float, Decimal)):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ExpressionFailed(f"the loop cardinality is {value!r}, not a number")


def _loop_variables(task) -> dict[str, Any]:
    """Camunda's multi-instance variables for a task that is, or runs inside, a multi-instance activity."""
    node = task
    while node is not None and not isinstance(node.task_spec, MultiInstanceTask):
        if node.parent is not None and isinstance(node.parent.task_spec, MultiInstanceTask):
            node = node.parent
            break
        node = None
    if node is None:
        return {}
    spec = node.task_spec
    children = [c for c in node.children if c.task_spec.name == spec.task_spec]
    done = sum(1 for c in children if c.state == TaskState.COMPLETED)
    active = sum(1 for c in children if not c.has_state(TaskState.FINISHED_MASK))
    total = len(children)
    if not isinstance(spec, ParallelMultiInstanceTask):  # sequential: one child at a time
        cardinality = node.internal_data.get("cardinality")
        remaining = node.internal_data.get("remaining")
        if cardinality is not None:
            total = int(cardinality)
        elif remaining is not None:
            total = done + active + len(remaining)
    values: dict[str, Any] = {"nrOfInstances": total, "nrOfCompletedInstances": done, "nrOfActiveInstances": active}
    if task is not node:
        index = task.internal_data.get("key_or_index")
        if isinstance(index, int):
            values["loopCounter"] = index
        item = getattr(spec, "input_item", None)
        if item is not None and item.bpmn_id in task.data:  # the element variable is local to the instance
            values[item.bpmn_id] = task.data[item.bpmn_id]
    return values


# ------------------------------------------------------------------ deploy checks

@dataclass(frozen=True)
class ParsedDefinition:
    spec: Any
    subprocess_specs: dict
    activity_names: dict[str, str]


def _local(tag: Any) -> str | None:
    if not isinstance(tag, str) or not tag.startswith(_B):
        return None
    return tag[len(_B):]


def _reject(source: str, element_id: str | None, why: str) -> DeploymentRejected:
    where = f"element {element_id}" if element_id else "the file"
    return DeploymentRejected(f"{source}: {where}: {why}")


def _a(word: str) -> str:
    """``a userTask``, ``an intermediateCatchEvent``: element names in messages read as English."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _has_expression(value: str) -> bool:
    return "${" in value or "#{" in value


def parse_xml(xml: str, source: str) -> etree._Element:
    """Parse without resolving entities or reaching the network; refuse DOCTYPEs (the shared reader's rules)."""
    try:
        return bpmn_reader.parse(xml, source)
    except bpmn_reader.BpmnReadError as exc:
        raise DeploymentRejected(str(exc)) from None


def check_definition(root: etree._Element, source: str, process_key: str) -> etree._Element:
    """Refuse what the embedded engine cannot run the way Camunda does; return the process element."""
    process = next((p for p in root.iter(_B + "process") if p.get("id") == process_key), None)
    if process is None:
        raise DeploymentRejected(f"{source}: no process with id {process_key!r}")
    _check_scope(process, source, process_key, top=True)
    return process


def _check_scope(scope: etree._Element, source: str, scope_id: str, *, top: bool) -> None:
    """The flow elements of a process or an embedded subprocess."""
    kinds: dict[str, str] = {}
    if scope.get("triggeredByEvent") == "true":
        raise _reject(source, scope_id, "event subprocesses are not supported by the embedded engine")
    for el in scope:
        kind = _local(el.tag)
        el_id = el.get("id")
        if kind is None:
            if isinstance(el.tag, str):
                raise _reject(source, el_id, f"the element {el.tag} is not part of BPMN and cannot be run")
            continue  # comments, processing instructions
        if kind in DECORATION:
            if kind == "extensionElements":
                _check_extensions(el, source, scope_id)
            continue
        if kind not in RUNNABLE:
            raise _reject(source, el_id, f"{_a(kind)} is not supported by the embedded engine"
                          + (_SERVICE_HINT if kind in ("scriptTask", "sendTask", "businessRuleTask") else ""))
        if not el_id and kind != "sequenceFlow":
            raise _reject(source, None, f"{_a(kind)} has no id")
        if el_id:
            kinds[el_id] = kind
        _check_element(el, kind, source)
        if kind == "subProcess":
            _check_scope(el, source, el_id, top=False)
    for el in scope:
        if _local(el.tag) == "sequenceFlow":
            _check_flow(el, kinds, source)
        elif _local(el.tag) == "boundaryEvent" and el.get("attachedToRef") not in kinds:
            raise _reject(source, el.get("id"), "the boundary event is attached to no activity of its scope")
    starts = [i for i, k in kinds.items() if k == "startEvent"]
    if len(starts) != 1:
        raise _reject(source, scope_id, f"the {'process' if top else 'subprocess'} needs exactly one start event, "
                                        f"it has {len(starts)}")


_SERVICE_HINT = "; use a service task with camunda:type=\"external\" and a camunda:topic, done by a worker"


def _check_element(el: etree._Element, kind: str, source: str) -> None:
    el_id = el.get("id")
    events = _EVENTS.get(kind, set())
    found_events = []
    for child in el:
        child_kind = _local(child.tag)
        if child_kind is None:
            if isinstance(child.tag, str):
                raise _reject(source, el_id, f"the child element {child.tag} is not supported")
            continue
        if kind == "subProcess" and (child_kind in RUNNABLE or child_kind in DECORATION):
            continue  # its own flow, checked as a scope
        if child_kind.endswith("EventDefinition"):
            if child_kind not in events:
                raise _reject(source, el_id, f"{_a(kind)} with {_a(child_kind)} is not supported by the embedded engine")
            found_events.append(child)
            if child_kind == "timerEventDefinition":
                _check_timer(child, el_id, source)
            continue
        if child_kind == "multiInstanceLoopCharacteristics":
            if kind not in _LOOPS:
                raise _reject(source, el_id, f"multi-instance on a {kind} is not supported")
            _check_loop(child, el_id, source)
            continue
        if child_kind == "standardLoopCharacteristics":
            raise _reject(source, el_id, "standard loops are not supported by the embedded engine (Camunda 7 "
                                         "does not run them either); use multi-instance")
        if child_kind not in _ALLOWED_CHILDREN:
            raise _reject(source, el_id, f"{child_kind} on a {kind} is not supported by the embedded engine")
        if child_kind == "extensionElements":
            _check_extensions(child, source, el_id, call=kind == "callActivity")
    if len(found_events) > 1:
        raise _reject(source, el_id, "an event with several event definitions is not supported")
    if kind == "boundaryEvent" and found_events and _local(found_events[0].tag) == "errorEventDefinition" \
            and el.get("cancelActivity") == "false":
        raise _reject(source, el_id, "an error boundary event always interrupts (cancelActivity=\"false\" is not "
                                     "valid BPMN)")
    if kind == "serviceTask":  # Java code first: a delegate expression is refused as code, not as an expression
        for attr in ("class", "expression", "delegateExpression"):
            if el.get(_C + attr):
                raise _reject(source, el_id, f"a service task with camunda:{attr} (Java code) is not supported by "
                                             f"the embedded engine{_SERVICE_HINT}")
    for name, value in el.attrib.items():
        if kind == "userTask" and name[len(_C):] in _RESOLVED_ATTRIBUTES and name.startswith(_C):
            _check_resolved(el_id, name[len(_C):], value, source)
            continue
        if name.startswith(_C) and _has_expression(value):
            attr = "camunda:" + name[len(_C):]
            raise _reject(source, el_id, f"unsupported expression '{value}' in {attr}: the embedded engine "
                                         "evaluates expressions only in conditions, timers, multi-instance and "
                                         "user task assignment")
    if kind == "serviceTask":
        if el.get(_C + "type") != "external" or not el.get(_C + "topic"):
            raise _reject(source, el_id, "a service task must be camunda:type=\"external\" with a camunda:topic")
    if kind == "callActivity":
        if not el.get("calledElement"):
            raise _reject(source, el_id, "a call activity needs a calledElement (the key of the called process)")
        binding = el.get(_C + "calledElementBinding") or "latest"
        if binding not in ("latest", "deployment", "version"):
            raise _reject(source, el_id, f"camunda:calledElementBinding={binding!r} is not supported "
                                         "(latest, deployment or version)")
    if kind == "userTask" and el.get(_C + "candidateGroups") is not None:
        raw = el.get(_C + "candidateGroups")
        try:
            groups = split_names(raw)
        except ExpressionRejected:
            groups = [raw]  # refused with its reason by _check_resolved
        if not all(groups):
            raise _reject(source, el_id, "camunda:candidateGroups has an empty group name")


def _check_timer(definition: etree._Element, el_id: str | None, source: str) -> None:
    values = [c for c in definition if _local(c.tag) in ("timeDate", "timeDuration", "timeCycle")]
    if len(values) != 1:
        raise _reject(source, el_id, "a timer needs exactly one of timeDate, timeDuration or timeCycle")
    text = (values[0].text or "").strip()
    if not text:
        raise _reject(source, el_id, f"the timer's {_local(values[0].tag)} is empty")
    _check_text(text, el_id, f"the timer's {_local(values[0].tag)}", source)


def _check_text(text: str, el_id: str | None, what: str, source: str) -> None:
    if is_expression(text):
        try:
            check_value_expression(text)
        except ExpressionRejected as exc:
            raise _reject(source, el_id, f"unsupported expression '{text}' in {what}: {exc}") from None


def _check_loop(loop: etree._Element, el_id: str | None, source: str) -> None:
    collection = loop.get(_C + "collection")
    cardinality = loop.find(_B + "loopCardinality")
    if collection is None and cardinality is None:
        raise _reject(source, el_id, "a multi-instance activity needs camunda:collection or a loopCardinality")
    if collection is not None and is_expression(collection) and not _VARIABLE.match(collection.strip()):
        raise _reject(source, el_id, f"camunda:collection {collection!r}: only a variable name or ${{variable}} "
                                     "is supported")
    for child in loop:
        child_kind = _local(child.tag)
        if child_kind == "completionCondition":
            text = (child.text or "").strip()
            try:
                parse_condition(text)
            except ExpressionRejected as exc:
                raise _reject(source, el_id, f"unsupported expression '{text}' in completionCondition: {exc}") from None
        elif child_kind == "loopCardinality":
            _check_text((child.text or "").strip(), el_id, child_kind, source)
        elif child_kind not in (None, "extensionElements", "documentation"):
            raise _reject(source, el_id, f"{child_kind} in multi-instance is not supported; use camunda:collection "
                                         "and camunda:elementVariable")


_EXPRESSION_TEXTS = {"conditionExpression", "completionCondition", "loopCardinality", "timeDate", "timeDuration",
                     "timeCycle"}
_VARIABLE = re.compile(r"^[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}$")


# User-task attributes the engine resolves per instance, as Camunda does: literals or one ${...} each.
_RESOLVED_ATTRIBUTES = {"assignee", "candidateUsers", "candidateGroups", "dueDate"}


def _check_resolved(el_id: str | None, attr: str, value: str, source: str) -> None:
    try:
        parts = [value] if attr in ("assignee", "dueDate") else split_names(value)
        for part in parts:
            check_value_expression(part)
    except ExpressionRejected as exc:
        raise _reject(source, el_id, f"unsupported expression '{value}' in camunda:{attr}: {exc}") from None


def _check_extensions(ext: etree._Element, source: str, el_id: str | None, *, call: bool = False) -> None:
    for item in ext:
        if not isinstance(item.tag, str):
            continue
        if item.tag.startswith(_C):
            name = item.tag[len(_C):]
            if call and name in _CALL_EXTENSIONS:
                _check_mapping(item, name, source, el_id)
                continue
            if name not in _ALLOWED_EXTENSIONS:
                raise _reject(source, el_id, f"camunda:{name} is not supported by the embedded engine")
            for node in item.iter():
                for value in node.attrib.values():
                    if _has_expression(value):
                        raise _reject(source, el_id, f"unsupported expression '{value}' in camunda:{name}")
        # extensions of other tools (bpmn.io colours, zeebe…) do not change how Camunda runs the process


def _check_mapping(item: etree._Element, name: str, source: str, el_id: str | None) -> None:
    if item.get("variables") == "all" or item.get("businessKey") is not None:
        return
    if item.get("sourceExpression") is not None:
        _check_text(item.get("sourceExpression"), el_id, f"camunda:{name} sourceExpression", source)
    elif not item.get("source"):
        raise _reject(source, el_id, f"camunda:{name} needs source, sourceExpression, variables=\"all\" or "
                                     "businessKey")
    if not item.get("target") and item.get("businessKey") is None:
        raise _reject(source, el_id, f"camunda:{name} needs a target")


def _check_flow(el: etree._Element, kinds: dict[str, str], source: str) -> None:
    flow_id = el.get("id")
    src, dst = el.get("sourceRef"), el.get("targetRef")
    if src not in kinds or dst not in kinds:
        raise _reject(source, flow_id, f"the sequence flow {src!r} -> {dst!r} connects unknown elements")
    condition = el.find(_B + "conditionExpression")
    if condition is None:
        return
    text = (condition.text or "").strip()
    language = condition.get("language")
    if language:
        raise _reject(source, flow_id, f"unsupported expression '{text}': script conditions ({language}) are "
                                       "not supported, only ${...} expressions")
    if kinds[src] not in ("exclusiveGateway", "inclusiveGateway"):
        raise _reject(source, flow_id, f"unsupported expression '{text}': conditions are supported only on "
                                       "flows leaving an exclusive or inclusive gateway")
    try:
        parse_condition(text)
    except ExpressionRejected as exc:
        raise _reject(source, flow_id, f"unsupported expression '{text}': {exc}") from None


def prepare_tree(root: etree._Element) -> dict[str, str]:
    """Make the file what SpiffWorkflow can parse without changing how it runs, in place: sequence flows
    without an id get one, elements named like SpiffWorkflow's own specs are renamed (returned: new id ->
    the id in the file, to report the file's ids), ``#{...}`` is read as ``${...}``, and a collection
    written as ``${variable}`` becomes the variable's name."""
    renamed: dict[str, str] = {}
    for process in root.iter(_B + "process"):
        taken = {el.get("id") for el in process.iter() if el.get("id")}
        for el in process.iter():
            if not isinstance(el.tag, str):
                continue
            el_id = el.get("id")
            if el_id in _SPIFF_NAMES or (el_id and el_id.endswith(".EndJoin")):
                new_id = f"{el_id}__pflow"
                renamed[new_id] = el_id
                el.set("id", new_id)
        if renamed:
            for el in process.iter():
                for attr in ("sourceRef", "targetRef", "attachedToRef", "default"):
                    if el.get(attr) in _SPIFF_NAMES or (el.get(attr) or "").endswith(".EndJoin"):
                        el.set(attr, f"{el.get(attr)}__pflow")
                if _local(el.tag) in ("incoming", "outgoing") and el.text and el.text.strip() in _SPIFF_NAMES:
                    el.text = f"{el.text.strip()}__pflow"
        count = 0
        for flow in process.iter(_B + "sequenceFlow"):
            if not flow.get("id"):
                count += 1
                new_id = f"flow_{flow.get('sourceRef')}_{flow.get('targetRef')}_{count}"
                while new_id in taken:
                    new_id += "_"
                taken.add(new_id)
                flow.set("id", new_id)
        for el in process.iter():
            if _local(el.tag) in _EXPRESSION_TEXTS and el.text and "#{" in el.text:
                el.text = el.text.replace("#{", "${")
            if _local(el.tag) == "multiInstanceLoopCharacteristics" and el.get(_C + "collection"):
                match = _VARIABLE.match(el.get(_C + "collection").strip())
                if match:
                    el.set(_C + "collection", match.group(1))
    return renamed


def called_elements(root: etree._Element, process_key: str) -> list[tuple[str, str, str | None]]:
    """(calledElement, binding, version) of every call activity of a process, nested ones included."""
    process = next((p for p in root.iter(_B + "process") if p.get("id") == process_key), None)
    if process is None:
        return []
    return [(el.get("calledElement"), el.get(_C + "calledElementBinding") or "latest", el.get(_C + "calledElementVersion"))
            for el in process.iter(_B + "callActivity") if el.get("calledElement")]


def load_definition(xml: str, source: str, process_key: str,
                    called: dict[str, str] | None = None) -> ParsedDefinition:
    """Check and parse a BPMN file into the specs of ``process_key``; raise ``DeploymentRejected``.

    ``called``: the XML of processes that call activities name and this file does not hold, by key (the
    engine resolves them from its deployed definitions)."""
    root = parse_xml(xml, source)
    process = check_definition(root, source, process_key)
    names = {el.get("id"): el.get("name") or el.get("id") for el in process.iter() if el.get("id")}
    in_file = {p.get("id") for p in root.iter(_B + "process")}
    parser = PFlowCamundaParser()
    try:
        renamed = prepare_tree(root)
        parser.add_bpmn_xml(root, source)
        for key, other in sorted((called or {}).items()):
            if key in in_file:
                continue
            other_root = parse_xml(other, f"the deployed process {key!r}")
            check_definition(other_root, f"the deployed process {key!r}", key)
            for process in list(other_root.iter(_B + "process")):
                if process.get("id") in in_file:  # the parser holds it already
                    process.getparent().remove(process)
            in_file |= {p.get("id") for p in other_root.iter(_B + "process")}
            renamed.update(prepare_tree(other_root))
            parser.add_bpmn_xml(other_root, f"{key}.bpmn")
        spec = parser.get_spec(process_key)
        subprocess_specs = parser.get_subprocess_specs(process_key)
        BpmnWorkflow(spec, subprocess_specs)  # SpiffWorkflow checks the graph when an instance is created
    except (ValidationException, SpiffWorkflowException) as exc:
        element = getattr(exc, "id", None) or getattr(getattr(exc, "task_spec", None), "bpmn_id", None)
        raise _reject(source, str(element) if element else None, str(exc).splitlines()[0]) from None
    except KeyError as exc:  # a called element SpiffWorkflow could not find
        raise _reject(source, None, f"the called process {exc.args[0]!r} is not deployed; deploy it first or in "
                                    "the same file") from None
    specs = [spec, *subprocess_specs.values()]
    use_engine_clock(specs)
    for one in specs:
        for task_spec in one.task_specs.values():
            original = renamed.get(getattr(task_spec, "bpmn_id", None))
            if original is not None:
                task_spec.bpmn_id = original
    return ParsedDefinition(spec, subprocess_specs, names)
