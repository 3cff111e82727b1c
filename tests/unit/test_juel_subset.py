"""The JUEL subset of the embedded engine: what it accepts, how it evaluates, what it refuses."""

from __future__ import annotations

import pytest

from pflow.adapters.spiff.expressions import (
    ExpressionFailed,
    ExpressionRejected,
    check_value_expression,
    evaluate_condition,
    evaluate_names,
    evaluate_value,
    parse_condition,
)


@pytest.mark.parametrize("expression, variables, expected", [
    ("${approved}", {"approved": True}, True),
    ("${approved}", {"approved": False}, False),
    ("${!approved}", {"approved": False}, True),
    ("${not approved}", {"approved": True}, False),
    ("${ approved }", {"approved": True}, True),
    ("${approved == true}", {"approved": True}, True),
    ("${approved eq false}", {"approved": True}, False),
    ("${amount > 100}", {"amount": 150}, True),
    ("${amount gt 100}", {"amount": 50}, False),
    ("${amount >= 100}", {"amount": 100}, True),
    ("${amount ge 100.5}", {"amount": 100}, False),
    ("${amount < 100}", {"amount": 99.5}, True),
    ("${amount lt -1}", {"amount": -2}, True),
    ("${amount <= 0}", {"amount": 0}, True),
    ("${amount le 0}", {"amount": 1}, False),
    ("${amount != 3}", {"amount": 3}, False),
    ("${amount ne 3}", {"amount": 4}, True),
    ("${priority == 'high'}", {"priority": "high"}, True),
    ('${priority == "high"}', {"priority": "low"}, False),
    ("${name == 'it\\'s'}", {"name": "it's"}, True),
    ("${a && b}", {"a": True, "b": False}, False),
    ("${a and b}", {"a": True, "b": True}, True),
    ("${a || b}", {"a": False, "b": True}, True),
    ("${a or b}", {"a": False, "b": False}, False),
    ("${!(a && b) || c}", {"a": True, "b": True, "c": False}, False),
    ("${a || b && c}", {"a": True, "b": False, "c": False}, True),  # && binds tighter than ||
    ("${not a == b}", {"a": False, "b": True}, True),  # unary binds tighter: (not a) == b
    ("${x == null}", {"x": None}, True),
    ("${x != null}", {"x": "set"}, True),
    ("${x == 0}", {"x": None}, False),  # null equals only null
    ("${x < 5}", {"x": None}, False),  # null is never ordered
    ("${count == '5'}", {"count": 5}, True),  # a number and a string compare as numbers
    ("${flag}", {"flag": "true"}, True),  # strings coerce to booleans as in EL
    ("${flag}", {"flag": None}, False),
    ("${1e3 > amount}", {"amount": 999}, True),
    ("${'b' > 'a'}", {}, True),
])
def test_supported_expressions_evaluate_like_juel(expression, variables, expected):
    assert evaluate_condition(expression, variables) is expected


def test_or_and_and_short_circuit():
    # Like JUEL: the right side is not evaluated when the left decides, so a missing variable there is fine.
    assert evaluate_condition("${a || missing}", {"a": True}) is True
    assert evaluate_condition("${a && missing}", {"a": False}) is False


@pytest.mark.parametrize("expression, why", [
    ("${__import__('os')}", "function and method calls are not supported"),
    ("${__import__('os').system('true')}", "properties and method calls are not supported"),
    ("${open('/etc/passwd')}", "function and method calls are not supported"),
    ("${execution.getVariable('approved')}", "properties and method calls are not supported"),
    ("${ticket.approved}", "properties and method calls are not supported"),
    ("${approved.__class__}", "properties and method calls are not supported"),
    ("${list[0]}", "indexing is not supported"),
    ("${amount + 1 > 2}", "arithmetic is not supported"),
    ("${amount - 1 > 2}", "arithmetic is not supported"),
    ("${amount * 2 > 2}", "arithmetic is not supported"),
    ("${amount / 2 > 2}", "arithmetic is not supported"),
    ("${amount % 2 == 0}", "arithmetic is not supported"),
    ("${amount div 2 > 1}", "arithmetic is not supported"),
    ("${amount mod 2 == 1}", "arithmetic is not supported"),
    ("${-amount < 0}", "arithmetic is not supported"),
    ("${empty comment}", "the 'empty' operator is not supported"),
    ("${a ? b : c}", "the conditional operator"),
    ("${a = 1}", "assignment is not supported"),
    ("${a & b}", "use '&&' or 'and'"),
    ("${a | b}", "use '||' or 'or'"),
    ("${a b}", "unexpected 'b' after a complete expression"),
    ("${(a}", "a '(' is not closed"),
    ("${a)}", "unexpected ')'"),
    ("${a ==}", "the expression ends where a value was expected"),
    ("${}", "the expression is empty"),
    ("${'open}", "a string literal is not closed"),
    ("${'\\n'}", "unknown escape"),
    ("${a}${b}", "nested expressions are not supported"),
    ("${a} and more", "a condition must be one '${...}' expression"),
    ("approved", "a condition must be one '${...}' expression"),
    ("#{approved}", "deferred '#{...}' expressions are not supported"),
    ("", "the condition is empty"),
    ("${a;b}", "the character ';' is not supported"),
    ("${lambda: 1}", "the conditional operator"),
])
def test_everything_else_is_refused_with_a_reason(expression, why):
    with pytest.raises(ExpressionRejected) as err:
        parse_condition(expression)
    assert why in str(err.value)


@pytest.mark.parametrize("expression, variables, why", [
    ("${approved}", {}, "unknown variable 'approved'"),
    ("${amount > 5}", {"amount": "lots"}, "cannot compare the text 'lots' with a number"),
    ("${approved}", {"approved": 1}, "cannot use int 1 as a boolean"),
    ("${approved > false}", {"approved": True}, "cannot order booleans"),
    ("${a == true}", {"a": 3}, "cannot compare a boolean"),
    ("${a == b}", {"a": [1], "b": {"x": 1}}, "cannot compare"),
])
def test_supported_expressions_fail_clearly_on_unfit_variables(expression, variables, why):
    with pytest.raises(ExpressionFailed) as err:
        evaluate_condition(expression, variables)
    assert why in str(err.value)


def test_variables_are_only_looked_up_never_executed():
    class Sneaky:
        def __bool__(self):  # pragma: no cover - must never be called
            raise AssertionError("evaluated as Python")

    with pytest.raises(ExpressionFailed):
        evaluate_condition("${x}", {"x": Sneaky()})


# --------------------------------------------------------- task attributes (assignee, candidates, due)


def test_an_attribute_is_a_literal_or_one_expression():
    assert evaluate_value("bob", {}) == "bob"
    assert evaluate_value("${requester}", {"requester": "alice"}) == "alice"
    assert evaluate_value(None, {}) is None
    check_value_expression("${requester}")
    check_value_expression("P3D")
    for text in ("user-${x}", "${a}${b}", "${a.b}", "#{a}"):
        with pytest.raises(ExpressionRejected):
            check_value_expression(text)
    with pytest.raises(ExpressionFailed, match="unknown variable 'requester'"):
        evaluate_value("${requester}", {})


def test_candidate_lists_split_literals_and_expression_results_as_camunda_does():
    variables = {"reviewers": "security, audit", "deputy": "dave", "many": ["x", "y", "x"], "none": None}
    assert evaluate_names("managers, finance", {}) == ("managers", "finance")
    assert evaluate_names("${reviewers}", variables) == ("security", "audit")
    assert evaluate_names("alice,${deputy}", variables) == ("alice", "dave")
    assert evaluate_names("${many}", variables) == ("x", "y")
    assert evaluate_names("${none}", variables) == ()
    assert evaluate_names("", variables) == () and evaluate_names(None, variables) == ()
