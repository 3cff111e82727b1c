"""Camunda's JUEL on every engine: one BPMN whose task attributes and conditions use the expression
language beyond plain variables (contract/bpmn/juel.bpmn) takes the same path, with the same assignees and
candidates, on the embedded engine, the in-memory fake and Camunda 7; an expression that fails on the
variables (a condition giving text, a variable nobody set) refuses the step on each.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pflow.domain.errors import ValidationError
from pflow.ports.process import InstanceState
from tests.support import ENGINES, make_engine

BPMN = Path(__file__).parent / "bpmn" / "juel.bpmn"


@pytest.fixture(params=ENGINES)
def engine(request, tmp_path):
    e = make_engine(request.param, tmp_path)
    yield e
    e.close()


@pytest.fixture
def key(engine, tmp_path):
    suffix = uuid.uuid4().hex[:10]
    path = tmp_path / f"juel-{suffix}.bpmn"
    path.write_text(BPMN.read_text(encoding="utf-8").replace('"contract_juel"', f'"contract_juel_{suffix}"'),
                    encoding="utf-8")
    engine.deploy(path)
    return f"contract_juel_{suffix}"


def _start(engine, key, **variables):
    business_key = f"juel-{uuid.uuid4().hex[:10]}"
    base = {"requester": "erin", "priority": "low", "amount": 10, "limit": 100, "comment": "", "items": ["a"]}
    engine.start(key, business_key, {**base, **variables})
    return business_key


def _finish(engine, business_key, activity, by, expected_end):
    (task,) = engine.open_tasks(business_key)
    assert task.definition_key == activity
    engine.complete_task(task.id, {}, completed_by=by)
    view = engine.instance(business_key)
    assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, expected_end)
    return task


def test_attributes_resolve_execution_calls_choices_and_composite_text(engine, key):
    business_key = _start(engine, key, priority="high", amount=60, comment="urgent")
    try:
        (review,) = engine.open_tasks(business_key)
        assert review.assignee == "erin"
        assert sorted(review.candidate_groups) == ["leads", "managers"]
        assert sorted(review.candidate_users) == ["deputy-erin", "lead"]
        engine.complete_task(review.id, {}, completed_by="erin")
        big = _finish(engine, business_key, "Big", "fiona", "End_Big")  # 60 * 2 - 1 > 100 and a comment
        assert big.candidate_groups == ("finance",)
    finally:
        engine.cancel(business_key, "test finished")


def test_list_methods_indexes_and_arithmetic_route_the_vip_path(engine, key):
    business_key = _start(engine, key, amount=10, items=["vip-1", "gold"])
    try:
        (review,) = engine.open_tasks(business_key)
        assert sorted(review.candidate_users) == ["clerk", "deputy-erin"] and review.candidate_groups == ("managers",)
        engine.complete_task(review.id, {}, completed_by="erin")
        vip = _finish(engine, business_key, "Vip", "vip-GOLD", "End_Vip")  # 10 % 2 == 0 and 10 / 4 == 2.5
        assert vip.assignee == "vip-GOLD"
    finally:
        engine.cancel(business_key, "test finished")


def test_the_default_flow_when_no_condition_holds(engine, key):
    business_key = _start(engine, key, amount=12, items=["vip-1", "x"], comment="long text")
    try:
        (review,) = engine.open_tasks(business_key)
        engine.complete_task(review.id, {}, completed_by="erin")
        normal = _finish(engine, business_key, "Normal", "walt", "End_Normal")  # 12 / 4 is 3.0
        assert normal.candidate_groups == ("writers",)
    finally:
        engine.cancel(business_key, "test finished")


def test_a_condition_coerces_its_operands_but_its_result_must_be_a_boolean(engine, key):
    business_key = _start(engine, key)
    try:
        (review,) = engine.open_tasks(business_key)
        # `flag && ...`: && coerces the text "true" (JUEL), so the flagged path is taken
        engine.complete_task(review.id, {"flag": "TRUE"}, completed_by="erin")
        view = engine.instance(business_key)
        assert (view.state, view.end_activity_id) == (InstanceState.COMPLETED, "Flagged")
    finally:
        engine.cancel(business_key, "test finished")


def test_an_expression_failing_on_the_variables_refuses_the_step_and_the_task_stays(engine, key):
    business_key = _start(engine, key, comment=None)  # Normal's candidateGroups call length() on null
    try:
        (review,) = engine.open_tasks(business_key)
        with pytest.raises(ValidationError):
            engine.complete_task(review.id, {"flag": 1}, completed_by="erin")  # 1 as a boolean: an error
        assert [t.definition_key for t in engine.open_tasks(business_key)] == ["Review"]
        with pytest.raises(ValidationError):
            engine.complete_task(review.id, {}, completed_by="erin")  # the text of comment is null
        assert [t.definition_key for t in engine.open_tasks(business_key)] == ["Review"]
    finally:
        engine.cancel(business_key, "test finished")
