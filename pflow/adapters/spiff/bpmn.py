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
conditions outside the supported JUEL subset (see ``expressions``).
"""

from __future__ import annotations

import re
import time
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.helpers.spec import TaskSpecConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import NoneTask, ServiceTask
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
from pflow.adapters.spiff.expressions import (
    ExpressionFailed,
    ExpressionRejected,
    check_value_expression,
    evaluate_value,
    is_expression,
    parse_condition,
)
from pflow.ports.process import DeploymentRejected

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_B = "{" + BPMN_NS + "}"
_C = "{" + CAMUNDA_MODEL_NS + "}"

# Flow elements the embedded engine runs, and elements that only annotate the diagram.
RUNNABLE = {"startEvent", "endEvent", "userTask", "serviceTask", "exclusiveGateway", "parallelGateway",
            "sequenceFlow", "task", "manualTask"}
DECORATION = {"documentation", "extensionElements", "laneSet", "textAnnotation", "association", "group"}
# Children a runnable element may have (anything else, e.g. loop characteristics, is refused).
_ALLOWED_CHILDREN = {"incoming", "outgoing", "documentation", "extensionElements", "conditionExpression"}
# Camunda extension elements that only describe (forms, properties); the rest change behaviour.
_ALLOWED_EXTENSIONS = {"properties", "formData", "property"}


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


class PFlowCamundaParser(CamundaParser):
    """SpiffWorkflow's Camunda parser, keeping topics and candidate groups."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("userTask"): (_UserTaskParser, ApprovalUserTaskSpec),
        full_tag("serviceTask"): (_ExternalTaskParser, ExternalTaskSpec),
        full_tag("task"): (CamundaTaskParser, PassThroughTaskSpec),
        full_tag("manualTask"): (CamundaTaskParser, PassThroughTaskSpec),
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
        text = (expression or "").strip()
        try:
            if not is_expression(text):
                return int(text) if text.lstrip("-").isdigit() else text  # a literal cardinality
            value = evaluate_value(text, self.variables(task))
        except (ExpressionRejected, ExpressionFailed) as exc:
            raise ConditionError(f"element {task.task_spec.bpmn_id!r}: cannot evaluate {expression!r}: {exc}") from None
        if isinstance(value, str):  # a condition: EL coerces text to a boolean as Boolean.valueOf does
            return value.strip().lower() == "true"
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
    it the text with each replaced, plain text itself."""
    stripped = (text or "").strip()
    if not is_expression(stripped):
        return stripped
    if _ONE_EXPRESSION.match(stripped):
        return evaluate_value("${" + stripped[2:], variables)
    return _EMBEDDED.sub(lambda m: str(evaluate_value("${" + m.group(0)[2:], variables)), stripped)


_ONE_EXPRESSION = re.compile(r"^[$#]\{[^}]*\}$")
_EMBEDDED = re.compile(r"[$#]\{[^}]*\}")


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
    kinds: dict[str, str] = {}
    reserved = {"Start", "End", f"{process_key}.EndJoin"}  # names of SpiffWorkflow's own task specs
    for el in process:
        kind = _local(el.tag)
        el_id = el.get("id")
        if kind is None:
            if isinstance(el.tag, str):
                raise _reject(source, el_id, f"the element {el.tag} is not part of BPMN and cannot be run")
            continue  # comments, processing instructions
        if kind in DECORATION:
            if kind == "extensionElements":
                _check_extensions(el, source, process_key)
            continue
        if kind not in RUNNABLE:
            raise _reject(source, el_id, f"a {kind} is not supported by the embedded engine")
        if not el_id:
            raise _reject(source, None, f"a {kind} has no id")
        if el_id in reserved:
            raise _reject(source, el_id, f"the id {el_id!r} is reserved by the embedded engine; rename the {kind}")
        kinds[el_id] = kind
        _check_element(el, kind, source)
    for el in process:
        if _local(el.tag) == "sequenceFlow":
            _check_flow(el, kinds, source)
    starts = [i for i, k in kinds.items() if k == "startEvent"]
    if len(starts) != 1:
        raise _reject(source, process_key, f"the process needs exactly one start event, it has {len(starts)}")
    return process


def _check_element(el: etree._Element, kind: str, source: str) -> None:
    el_id = el.get("id")
    for child in el:
        child_kind = _local(child.tag)
        if child_kind is None:
            if isinstance(child.tag, str):
                raise _reject(source, el_id, f"the child element {child.tag} is not supported")
            continue
        if child_kind.endswith("EventDefinition"):
            raise _reject(source, el_id, f"a {kind} with a {child_kind} is not supported by the embedded engine")
        if child_kind not in _ALLOWED_CHILDREN:
            raise _reject(source, el_id, f"{child_kind} on a {kind} is not supported by the embedded engine")
        if child_kind == "extensionElements":
            _check_extensions(child, source, el_id)
    for name, value in el.attrib.items():
        if kind == "userTask" and name[len(_C):] in _RESOLVED_ATTRIBUTES and name.startswith(_C):
            _check_resolved(el_id, name[len(_C):], value, source)
            continue
        if name.startswith(_C) and _has_expression(value):
            attr = "camunda:" + name[len(_C):]
            raise _reject(source, el_id, f"unsupported expression '{value}' in {attr}: the embedded engine "
                                         "evaluates expressions only in sequence-flow conditions")
    if kind == "serviceTask":
        for attr in ("class", "expression", "delegateExpression"):
            if el.get(_C + attr):
                raise _reject(source, el_id, f"a service task with camunda:{attr} is not supported; "
                                             "use camunda:type=\"external\" with a camunda:topic")
        if el.get(_C + "type") != "external" or not el.get(_C + "topic"):
            raise _reject(source, el_id, "a service task must be camunda:type=\"external\" with a camunda:topic")
    if kind == "userTask" and el.get(_C + "candidateGroups") is not None:
        raw = el.get(_C + "candidateGroups")
        groups = [raw] if raw.strip().startswith("${") and raw.strip().endswith("}") else \
            [g.strip() for g in raw.split(",")]
        if not all(groups):
            raise _reject(source, el_id, "camunda:candidateGroups has an empty group name")


# User-task attributes the engine resolves per instance, as Camunda does: literals or one ${...} each.
_RESOLVED_ATTRIBUTES = {"assignee", "candidateUsers", "candidateGroups", "dueDate"}


def _check_resolved(el_id: str | None, attr: str, value: str, source: str) -> None:
    stripped = value.strip()
    whole = stripped.startswith("${") and stripped.endswith("}") and stripped.count("${") == 1
    parts = [stripped] if whole or attr in ("assignee", "dueDate") else [p.strip() for p in value.split(",")]
    for part in parts:
        try:
            check_value_expression(part)
        except ExpressionRejected as exc:
            raise _reject(source, el_id, f"unsupported expression '{value}' in camunda:{attr}: {exc}") from None


def _check_extensions(ext: etree._Element, source: str, el_id: str | None) -> None:
    for item in ext:
        if not isinstance(item.tag, str):
            continue
        if item.tag.startswith(_C):
            name = item.tag[len(_C):]
            if name not in _ALLOWED_EXTENSIONS:
                raise _reject(source, el_id, f"camunda:{name} is not supported by the embedded engine")
            for node in item.iter():
                for value in node.attrib.values():
                    if _has_expression(value):
                        raise _reject(source, el_id, f"unsupported expression '{value}' in camunda:{name}")
        # extensions of other tools (bpmn.io colours, zeebe…) do not change how Camunda runs the process


def _check_flow(el: etree._Element, kinds: dict[str, str], source: str) -> None:
    flow_id = el.get("id")
    src, dst = el.get("sourceRef"), el.get("targetRef")
    if src not in kinds or dst not in kinds:
        raise _reject(source, flow_id, "the sequence flow connects unknown elements")
    condition = el.find(_B + "conditionExpression")
    if condition is None:
        return
    text = (condition.text or "").strip()
    language = condition.get("language")
    if language:
        raise _reject(source, flow_id, f"unsupported expression '{text}': script conditions ({language}) are "
                                       "not supported, only ${...} expressions")
    if kinds[src] != "exclusiveGateway":
        raise _reject(source, flow_id, f"unsupported expression '{text}': conditions are supported only on "
                                       "flows leaving an exclusive gateway")
    try:
        parse_condition(text)
    except ExpressionRejected as exc:
        raise _reject(source, flow_id, f"unsupported expression '{text}': {exc}") from None


def load_definition(xml: str, source: str, process_key: str) -> ParsedDefinition:
    """Check and parse a BPMN file into the specs of ``process_key``; raise ``DeploymentRejected``."""
    root = parse_xml(xml, source)
    process = check_definition(root, source, process_key)
    parser = PFlowCamundaParser()
    try:
        parser.add_bpmn_xml(root, source)
        spec = parser.get_spec(process_key)
        subprocess_specs = parser.get_subprocess_specs(process_key)
        BpmnWorkflow(spec, subprocess_specs)  # SpiffWorkflow checks the graph when an instance is created
    except (ValidationException, SpiffWorkflowException) as exc:
        element = getattr(exc, "id", None) or getattr(getattr(exc, "task_spec", None), "bpmn_id", None)
        raise _reject(source, str(element) if element else None, str(exc).splitlines()[0]) from None
    names = {el.get("id"): el.get("name") or el.get("id") for el in process if el.get("id")}
    return ParsedDefinition(spec, subprocess_specs, names)
