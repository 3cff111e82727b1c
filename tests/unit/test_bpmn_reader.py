"""The shared BPMN reader: forms, candidates, topics and outcomes as Camunda Modeler writes them."""

from __future__ import annotations

import pytest

from pflow.adapters.bpmn.reader import BpmnReadError, read_processes
from pflow.config import REPO_ROOT

WORKFLOWS = REPO_ROOT / "deploy" / "workflows"


def _read(name):
    return read_processes((WORKFLOWS / name).read_bytes(), name)


def test_the_purchase_request_has_two_decision_steps_and_one_automated_step():
    process = _read("purchase-request.bpmn")["purchase_request"]
    assert set(process.user_tasks) == {"ManagerApproval", "FinanceApproval"}
    finance = process.user_tasks["FinanceApproval"]
    assert finance.name == "Finance Approval" and finance.literal_candidate_groups == ("finance",)
    (decision,) = finance.form
    assert decision.id == "finance_decision" and decision.type == "enum" and decision.required
    assert decision.values == (("approve", "Approve"), ("reject", "Reject")) and decision.is_decision
    assert process.topics == {"PlaceOrder": "ticket-processing"}
    # a worker's BPMN error ORDER_REFUSED on Place Order ends it at "Order refused", rejected
    assert process.outcomes == {"Completed": "completed", "Rejected": "rejected", "OrderRefused": "rejected"}
    assert process.names["OrderRefused"] == "Order refused"
    assert process.candidate_groups == ("finance", "managers")


def test_the_seed_process_has_its_decision_as_a_form_field_and_a_rejected_outcome():
    process = _read("ticket-process.bpmn")["ticket_approval"]
    (approved,) = process.user_tasks["ManagerApproval"].form
    assert (approved.id, approved.type, approved.required, approved.is_decision) == ("approved", "boolean", True, True)
    assert process.outcomes == {"Completed": "completed", "Rejected": "rejected"}


XML = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:extensionElements><camunda:properties><camunda:property name="pflow.fourEyes" value="false"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:userTask id="t" name="Check" camunda:assignee="${requester}" camunda:candidateUsers="ann, ben"
                   camunda:dueDate="P3D">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="n" label="Count" type="long" defaultValue="3"/>
        <camunda:formField id="ok" type="boolean" defaultValue="TRUE"/>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
  </bpmn:process>
  <bpmn:process id="hidden" isExecutable="false"/>
</bpmn:definitions>"""


def test_assignee_candidates_due_date_defaults_and_properties():
    processes = read_processes(XML, "x.bpmn")
    assert list(processes) == ["p"]
    task = processes["p"].user_tasks["t"]
    assert task.assignee == "${requester}" and task.candidate_users == "ann, ben" and task.due_date == "P3D"
    assert [(f.id, f.type, f.default) for f in task.form] == [("n", "long", 3), ("ok", "boolean", True)]
    assert processes["p"].properties == {"pflow.fourEyes": "false"}


@pytest.mark.parametrize("bad, says", [
    (XML.replace('type="long"', 'type="color"'), "type 'color' is not supported"),
    (XML.replace('defaultValue="3"', 'defaultValue="three"'), "not a whole number"),
    ('<!DOCTYPE x [<!ENTITY e "x">]>' + XML.split("?>", 1)[1], "DOCTYPE"),
    ("<nope/>", "root element"),
])
def test_what_cannot_be_read_is_refused_naming_file_and_element(bad, says):
    with pytest.raises(BpmnReadError, match=says) as caught:
        read_processes(bad, "x.bpmn")
    assert "x.bpmn" in str(caught.value)
