"""What the embedded engine refuses at deploy time, and how it says so (file, element, reason)."""

from __future__ import annotations

import pytest

from pflow.adapters.spiff.bpmn import load_definition
from pflow.ports.process import DeploymentRejected
from tests.support import BPMN

ORIGINAL = BPMN.read_text(encoding="utf-8")


def variant(old: str, new: str) -> str:
    assert old in ORIGINAL, old
    return ORIGINAL.replace(old, new, 1)


def rejected(xml: str, name: str = "changed.bpmn") -> str:
    with pytest.raises(DeploymentRejected) as err:
        load_definition(xml, name, "ticket_approval")
    return err.value.message


APPROVED_FLOW = "${approved}</bpmn:conditionExpression>"
PROVISION = ('<bpmn:serviceTask id="ProvisionService" name="Provision Service" camunda:type="external" '
             'camunda:topic="ticket-processing">')
APPROVAL = '<bpmn:userTask id="ManagerApproval" name="Manager Approval" camunda:candidateGroups="managers">'


def test_the_shipped_process_is_accepted_with_topic_and_candidate_groups():
    parsed = load_definition(ORIGINAL, "ticket-process.bpmn", "ticket_approval")
    specs = parsed.spec.task_specs
    assert specs["ProvisionService"].topic == "ticket-processing"
    assert specs["ManagerApproval"].candidate_groups == ("managers",)
    assert parsed.activity_names["ManagerApproval"] == "Manager Approval"


@pytest.mark.parametrize("condition, why", [
    ("${__import__('os').system('rm -rf /')}", "function calls are not supported (__import__(...))"),
    ("${execution.setVariable('approved', true)}", "execution.setVariable() is not supported (execution."
                                                   "getVariable and execution.hasVariable are)"),
    ("${approved.foo()}", "the method foo() is not supported (supported: contains, containsKey, endsWith, equals, "
                          "equalsIgnoreCase, get, indexOf, isEmpty, length, size, startsWith, substring, toLowerCase, "
                          "toString, toUpperCase, trim)"),
    ("${approved} and more", "a condition must be one '${...}' expression (text around it makes the result "
                             "text, not a boolean)"),
    ("${approved +}", "the expression ends where a value was expected"),
])
def test_an_unsupported_condition_names_file_element_and_expression(condition, why):
    message = rejected(variant(APPROVED_FLOW, condition.replace("'", "&apos;") + "</bpmn:conditionExpression>"),
                       "ticket-bad.bpmn")
    assert message == f"ticket-bad.bpmn: element Flow_Approved: unsupported expression '{condition}': {why}"


def test_a_script_condition_is_refused():
    xml = variant('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${approved}',
                  '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="javascript">approved')
    assert "element Flow_Approved: unsupported expression 'approved': script conditions (javascript)" in rejected(xml)


@pytest.mark.parametrize("old, new, expected", [
    (PROVISION, PROVISION.replace(' camunda:type="external" camunda:topic="ticket-processing"', ""),
     "element ProvisionService: a service task must be camunda:type=\"external\" with a camunda:topic"),
    (PROVISION, PROVISION.replace('camunda:type="external"', 'camunda:class="com.example.Provision"'),
     "element ProvisionService: a service task with camunda:class (Java code) is not supported"),
    (PROVISION, PROVISION.replace('camunda:topic="ticket-processing"', 'camunda:topic="${topic}"'),
     "element ProvisionService: unsupported expression '${topic}' in camunda:topic"),
    (APPROVAL, APPROVAL.replace('camunda:candidateGroups="managers"', 'camunda:candidateGroups="team-${dept.x()}"'),
     "element ManagerApproval: unsupported expression 'team-${dept.x()}' in camunda:candidateGroups: the method x() "
     "is not supported"),
    (APPROVAL, APPROVAL.replace('camunda:candidateGroups="managers"', 'camunda:assignee="${ticket.requester"'),
     "element ManagerApproval: unsupported expression '${ticket.requester' in camunda:assignee: a '${' is not "
     "closed by '}'"),
    (APPROVAL, APPROVAL.replace('camunda:candidateGroups="managers"', 'camunda:dueDate="${now() + 3}"'),
     "element ManagerApproval: unsupported expression '${now() + 3}' in camunda:dueDate"),
    (APPROVAL, APPROVAL.replace('camunda:candidateGroups="managers"', 'camunda:formKey="${form}"'),
     "element ManagerApproval: unsupported expression '${form}' in camunda:formKey"),
    (APPROVAL, APPROVAL + '<bpmn:standardLoopCharacteristics />',
     "element ManagerApproval: standard loops are not supported by the embedded engine"),
    (APPROVAL, APPROVAL + '<bpmn:extensionElements><camunda:taskListener class="x.Y" event="create" />'
                          '</bpmn:extensionElements>',
     "element ManagerApproval: camunda:taskListener is not supported"),
    (APPROVAL, APPROVAL + '<bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="a">1'
                          '</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>',
     "element ManagerApproval: camunda:inputOutput is not supported"),
    ('<bpmn:startEvent id="TicketSubmitted" name="Ticket submitted">',
     '<bpmn:startEvent id="TicketSubmitted" name="Ticket submitted"><bpmn:timerEventDefinition '
     'id="T1"><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>',
     "element TicketSubmitted: a startEvent with a timerEventDefinition is not supported"),
    ('<bpmn:endEvent id="Rejected" name="Rejected">',
     '<bpmn:endEvent id="Rejected" name="Rejected"><bpmn:messageEventDefinition id="Term" />',
     "element Rejected: an endEvent with a messageEventDefinition is not supported"),
    ('<bpmn:endEvent id="Completed" name="Completed">',
     '<bpmn:scriptTask id="Notify" scriptFormat="python"><bpmn:script>print(1)</bpmn:script></bpmn:scriptTask>'
     '<bpmn:endEvent id="Completed" name="Completed">',
     "element Notify: a scriptTask is not supported by the embedded engine"),
    ('<bpmn:endEvent id="Completed" name="Completed">',
     '<bpmn:boundaryEvent id="Timeout" attachedToRef="ManagerApproval"><bpmn:messageEventDefinition id="T2" />'
     '</bpmn:boundaryEvent>'
     '<bpmn:endEvent id="Completed" name="Completed">',
     "element Timeout: a boundaryEvent with a messageEventDefinition is not supported by the embedded engine"),
    ('<bpmn:endEvent id="Completed" name="Completed">',
     '<bpmn:intermediateCatchEvent id="Wait"><bpmn:signalEventDefinition id="T3" />'
     '</bpmn:intermediateCatchEvent>'
     '<bpmn:endEvent id="Completed" name="Completed">',
     "element Wait: an intermediateCatchEvent with a signalEventDefinition is not supported by the embedded engine"),
    ('sourceRef="ProvisionService" targetRef="Completed" />',
     'sourceRef="ProvisionService" targetRef="Completed"><bpmn:conditionExpression '
     'xsi:type="bpmn:tFormalExpression">${approved}</bpmn:conditionExpression></bpmn:sequenceFlow>',
     "element Flow_Provisioned_To_Completed: unsupported expression '${approved}': conditions are supported only "
     "on flows leaving an exclusive or inclusive gateway"),
    ('targetRef="Completed" />', 'targetRef="Nowhere" />',
     "element Flow_Provisioned_To_Completed: the sequence flow 'ProvisionService' -> 'Nowhere' connects unknown "
     "elements"),
])
def test_unsupported_elements_are_refused_naming_the_element(old, new, expected):
    assert rejected(variant(old, new)).startswith(f"changed.bpmn: {expected}")


def test_broken_or_foreign_files_are_refused():
    assert "not a valid BPMN XML file" in rejected("<bpmn:definitions this is not xml")
    assert "no process with id 'ticket_approval'" in rejected(ORIGINAL.replace('id="ticket_approval"', 'id="other"'))
    assert "the root element is not bpmn:definitions" in rejected("<html><body/></html>")


def test_entities_are_never_expanded():
    xml = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
           + ORIGINAL.split("?>", 1)[1].replace('name="Manager Approval"', 'name="&secret;"'))
    message = rejected(xml)
    assert "external entity 'secret'" in message and "root:" not in message
    harmless = ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY who "managers">]>'
                + ORIGINAL.split("?>", 1)[1].replace('name="Manager Approval"', 'name="&who;"'))
    assert "a DOCTYPE is not allowed" in rejected(harmless)


def test_diagram_only_elements_and_descriptive_extensions_are_accepted():
    xml = variant('<bpmn:endEvent id="Completed" name="Completed">',
                  '<bpmn:textAnnotation id="Note"><bpmn:text>Provisioning is idempotent</bpmn:text>'
                  '</bpmn:textAnnotation><bpmn:association id="Assoc" sourceRef="ProvisionService" targetRef="Note" />'
                  '<bpmn:endEvent id="Completed" name="Completed">')
    xml = xml.replace(APPROVAL, APPROVAL + '<bpmn:documentation>Decide</bpmn:documentation><bpmn:extensionElements>'
                      '<camunda:formData><camunda:formField id="comment" label="Comment" type="string" />'
                      '</camunda:formData><camunda:properties><camunda:property name="sla" value="2d" />'
                      '</camunda:properties></bpmn:extensionElements>')
    parsed = load_definition(xml, "annotated.bpmn", "ticket_approval")
    assert parsed.spec.task_specs["ManagerApproval"].form.fields[0].id == "comment"


@pytest.mark.parametrize("attributes", [
    'camunda:assignee="${requester}"',
    'camunda:candidateGroups="${reviewers}"',
    'camunda:candidateGroups="managers, ${department}"',
    'camunda:candidateUsers="alice,${deputy}" camunda:dueDate="P3D"',
    'camunda:dueDate="${deadline}"',
    'camunda:dueDate="2030-01-02T03:04:05"',
])
def test_who_and_when_may_be_expressions_as_in_camunda(attributes):
    """Resolved per instance by the engine with the gateways' evaluator (see the contract suite)."""
    xml = variant(APPROVAL, APPROVAL.replace('camunda:candidateGroups="managers"', attributes))
    assert load_definition(xml, "who.bpmn", "ticket_approval").spec.task_specs["ManagerApproval"]
