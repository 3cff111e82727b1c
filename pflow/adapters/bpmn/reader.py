"""What PFlow reads from a BPMN file besides running it: per process, its user tasks (name, form
fields, candidate groups and users, assignee, due date, extension properties), its external task
topics and the outcome of each end event.

Safe on untrusted files: no DTDs, no entities, no network.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from pflow.domain.steps import FormField

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
OPERATON = "{http://operaton.org/schema/1.0/bpmn}"
OUTCOME_PROPERTY = "pflow.outcome"
DEFAULT_OUTCOME = "completed"
FORM_FIELD_TYPES = ("string", "long", "boolean", "date", "enum")


class BpmnReadError(ValueError):
    """The file cannot be read; the message names the file and the element."""


@dataclass(frozen=True)
class TaskInfo:
    id: str
    name: str
    candidate_groups: str | None = None  # as written: a list or an expression (resolved per instance)
    candidate_users: str | None = None
    assignee: str | None = None
    due_date: str | None = None
    form: tuple[FormField, ...] = ()
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def literal_candidate_groups(self) -> tuple[str, ...]:
        """The groups written as names; ``${...}`` items are resolved per instance and left out."""
        value = (self.candidate_groups or "").strip()
        if value.startswith("${") and value.endswith("}"):
            return ()  # one expression, which may itself yield a comma-separated list
        return tuple(g for g in split_names(value) if "{" not in g)


@dataclass(frozen=True)
class ProcessDefinitionInfo:
    key: str
    name: str
    user_tasks: dict[str, TaskInfo]
    topics: dict[str, str]  # external task id -> topic
    outcomes: dict[str, str]  # end event id -> outcome
    properties: dict[str, str]
    names: dict[str, str]  # every flow node id -> its name (or id)
    #: error boundary event id -> the variables its camunda:errorCodeVariable / errorMessageVariable name
    error_variables: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    #: the process has call activities (their called instances' steps belong to the same business key)
    calls: bool = False

    @property
    def candidate_groups(self) -> tuple[str, ...]:
        return tuple(sorted({g for t in self.user_tasks.values() for g in t.literal_candidate_groups}))


def split_names(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _attr(el, name: str) -> str | None:
    """A camunda: attribute, or its operaton: spelling."""
    value = el.get(CAMUNDA + name)
    return value if value is not None else el.get(OPERATON + name)


def _ext(el, name: str):
    """camunda:/operaton: children of the element's extensionElements."""
    ext = el.find(BPMN + "extensionElements")
    if ext is None:
        return []
    return [c for c in ext if isinstance(c.tag, str) and c.tag in (CAMUNDA + name, OPERATON + name)]


def _properties(el) -> dict[str, str]:
    props: dict[str, str] = {}
    for holder in _ext(el, "properties"):
        for prop in holder:
            if isinstance(prop.tag, str) and prop.tag.endswith("}property") and prop.get("name"):
                props[prop.get("name")] = prop.get("value") or ""
    return props


def _default(kind: str, raw: str | None, where: str):
    if raw is None or raw == "":
        return None
    if kind == "boolean":
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise BpmnReadError(f"{where}: defaultValue {raw!r} is not true or false")
    if kind == "long":
        try:
            return int(raw)
        except ValueError:
            raise BpmnReadError(f"{where}: defaultValue {raw!r} is not a whole number") from None
    return raw


def _form(task, source: str) -> tuple[FormField, ...]:
    fields: list[FormField] = []
    for data in _ext(task, "formData"):
        for ff in data:
            if not isinstance(ff.tag, str) or not ff.tag.endswith("}formField"):
                continue
            fid = ff.get("id")
            where = f"{source}: user task {task.get('id')!r}, form field {fid!r}"
            if not fid:
                raise BpmnReadError(f"{source}: user task {task.get('id')!r} has a form field without an id")
            kind = ff.get("type") or "string"
            if kind not in FORM_FIELD_TYPES:
                raise BpmnReadError(f"{where}: type {kind!r} is not supported (supported: "
                                    f"{', '.join(FORM_FIELD_TYPES)})")
            values = tuple((v.get("id"), v.get("name") or v.get("id")) for v in ff
                           if isinstance(v.tag, str) and v.tag.endswith("}value") and v.get("id"))
            if kind == "enum" and not values:
                raise BpmnReadError(f"{where}: an enum field needs at least one value")
            required = any(c.get("name") == "required" for v in ff if isinstance(v.tag, str)
                           and v.tag.endswith("}validation") for c in v)
            fields.append(FormField(id=fid, label=ff.get("label") or fid, type=kind, required=required,
                                    default=_default(kind, ff.get("defaultValue"), where), values=values))
    return tuple(fields)


def parse(xml: bytes | str, source: str):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BpmnReadError(f"{source}: not a valid BPMN XML file ({exc})") from None
    if root.getroottree().docinfo.doctype:
        raise BpmnReadError(f"{source}: a DOCTYPE is not allowed in a BPMN file")
    if root.tag != BPMN + "definitions":
        raise BpmnReadError(f"{source}: the root element is not bpmn:definitions")
    return root


def read_processes(xml: bytes | str, source: str = "the BPMN file") -> dict[str, ProcessDefinitionInfo]:
    """Every executable process of the file, by key."""
    root = parse(xml, source)
    found: dict[str, ProcessDefinitionInfo] = {}
    for process in root.iter(BPMN + "process"):
        if (process.get("isExecutable") or "false").lower() != "true" or not process.get("id"):
            continue
        tasks: dict[str, TaskInfo] = {}
        topics: dict[str, str] = {}
        outcomes: dict[str, str] = {}
        names: dict[str, str] = {}
        error_variables: dict[str, tuple[str | None, str | None]] = {}
        calls = False
        for el in process.iter():
            if not isinstance(el.tag, str) or not el.tag.startswith(BPMN) or not el.get("id"):
                continue
            kind = el.tag[len(BPMN):]
            el_id = el.get("id")
            if kind not in ("sequenceFlow", "documentation", "extensionElements", "conditionExpression"):
                names[el_id] = el.get("name") or el_id
            if kind == "userTask":
                tasks[el_id] = TaskInfo(
                    id=el_id, name=el.get("name") or el_id,
                    candidate_groups=_attr(el, "candidateGroups"), candidate_users=_attr(el, "candidateUsers"),
                    assignee=_attr(el, "assignee"), due_date=_attr(el, "dueDate"),
                    form=_form(el, source), properties=_properties(el))
            elif kind in ("serviceTask", "sendTask") and _attr(el, "type") == "external" and _attr(el, "topic"):
                topics[el_id] = _attr(el, "topic")
            elif kind == "endEvent":
                outcomes[el_id] = _properties(el).get(OUTCOME_PROPERTY) or DEFAULT_OUTCOME
            elif kind == "callActivity":
                calls = True
            elif kind == "boundaryEvent":
                error = el.find(BPMN + "errorEventDefinition")
                if error is not None and (_attr(error, "errorCodeVariable") or _attr(error, "errorMessageVariable")):
                    error_variables[el_id] = (_attr(error, "errorCodeVariable"), _attr(error, "errorMessageVariable"))
        found[process.get("id")] = ProcessDefinitionInfo(
            key=process.get("id"), name=process.get("name") or process.get("id"), user_tasks=tasks,
            topics=topics, outcomes=outcomes, properties=_properties(process), names=names,
            error_variables=error_variables, calls=calls)
    return found


BUSINESS_KEY_DOWN = "#{execution.processBusinessKey}"


def pass_business_key_down(content: bytes, source: str = "the BPMN file") -> bytes:
    """The file with ``<camunda:in businessKey="#{execution.processBusinessKey}"/>`` on every call activity
    that passes no business key: Camunda starts a called instance without one otherwise, and PFlow finds a
    ticket's steps by its business key (the embedded engine runs called processes under it anyway).
    Unchanged bytes when there is nothing to add."""
    if b"callActivity" not in content:
        return content
    root = parse(content, source)
    changed = False
    for call in root.iter(BPMN + "callActivity"):
        ext = call.find(BPMN + "extensionElements")
        if ext is not None and any(c.get("businessKey") is not None for c in _ext(call, "in")):
            continue
        if ext is None:
            ext = etree.Element(BPMN + "extensionElements")
            first = next((i for i, c in enumerate(call) if isinstance(c.tag, str)
                          and c.tag != BPMN + "documentation"), len(call))
            call.insert(first, ext)
        mapping = etree.SubElement(ext, CAMUNDA + "in", nsmap={"camunda": CAMUNDA[1:-1]})
        mapping.set("businessKey", BUSINESS_KEY_DOWN)
        changed = True
    if not changed:
        return content
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
