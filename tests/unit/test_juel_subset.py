"""The JUEL of the embedded engine: what it accepts, how it evaluates (Camunda 7 / JUEL semantics, the
cases marked "Camunda:" were checked on Camunda 7.24), what it refuses at deploy and how it fails."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from pflow.adapters.spiff.expressions import (
    ExpressionFailed,
    ExpressionRejected,
    check_value_expression,
    evaluate_condition,
    evaluate_names,
    evaluate_value,
    parse_condition,
    split_names,
)


@pytest.mark.parametrize("expression, variables, expected", [
    ("${approved}", {"approved": True}, True),
    ("${approved}", {"approved": False}, False),
    ("${!approved}", {"approved": False}, True),
    ("${not approved}", {"approved": True}, False),
    ("${ approved }", {"approved": True}, True),
    ("  ${approved}  ", {"approved": True}, True),  # Camunda: surrounding blanks are trimmed
    ("#{approved}", {"approved": True}, True),  # Camunda evaluates #{...} as ${...}
    ("#{amount > 100}", {"amount": 150}, True),
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
    ("${count == '5'}", {"count": 5}, True),  # Camunda: a number and text compare as numbers
    ("${5 == 5.0}", {}, True),
    ("${flag == true}", {"flag": "TRUE"}, True),  # Camunda: a Boolean and text compare as Booleans
    ("${flag && true}", {"flag": "true"}, True),  # Camunda: && coerces its operands
    ("${!flag}", {"flag": "yes"}, True),  # Boolean.valueOf("yes") is false
    ("${!flag}", {"flag": None}, True),
    ("${1e3 > amount}", {"amount": 999}, True),
    ("${'b' > 'a'}", {}, True),
    ("${'10' < '9'}", {}, True),  # Camunda: two texts compare as text
    # arithmetic
    ("${amount + 1 > 2}", {"amount": 2}, True),
    ("${amount - 1 == 1}", {"amount": 2}, True),
    ("${amount * 2 == 8}", {"amount": 4}, True),
    ("${10 / 4 == 2.5}", {}, True),  # Camunda: '/' is always decimal
    ("${1 div 2 == 0.5}", {}, True),
    ("${7 % 2 == 1}", {}, True),
    ("${7 mod -3 == 1}", {}, True),  # Camunda: the sign of the dividend
    ("${-7 % 3 == -1}", {}, True),
    ("${7.5 % 2 == 1.5}", {}, True),
    ("${-amount < 0}", {"amount": 3}, True),
    ("${-'3' == -3}", {}, True),  # Camunda: unary minus coerces text
    ("${null + 1 == 1}", {}, True),
    ("${'2' + 3 == 5}", {}, True),
    ("${'2.5' + 1 == 3.5}", {}, True),
    ("${1 / 0 > 1}", {}, True),  # Camunda: Infinity
    ("${2 + 3 * 4 == 14}", {}, True),
    ("${(2 + 3) * 4 == 20}", {}, True),
    ("${amount * 1.5 >= 150}", {"amount": Decimal("100")}, True),
    # empty, ?:
    ("${empty comment}", {"comment": ""}, True),
    ("${empty comment}", {"comment": None}, True),
    ("${empty comment}", {"comment": "x"}, False),
    ("${empty list}", {"list": []}, True),
    ("${not empty list}", {"list": [1]}, True),
    ("${empty null}", {}, True),
    ("${(x ? 'a' : 'b') == 'a'}", {"x": "true"}, True),
    ("${amount > 100 ? big : small}", {"amount": 5, "big": False, "small": True}, True),
    ("${a ? b ? true : false : false}", {"a": True, "b": True}, True),  # nests to the right
    # properties, indexes
    ("${ticket.amount > 100}", {"ticket": {"amount": 200}}, True),
    ("${ticket['type'] == 'access'}", {"ticket": {"type": "access"}}, True),
    ("${ticket.missing == null}", {"ticket": {}}, True),  # a map has no missing keys: null
    ("${a.b == null}", {"a": None}, True),  # Camunda: a null base gives null
    ("${list[0] == 'x'}", {"list": ["x", "y"]}, True),
    ("${list['1'] == 'y'}", {"list": ["x", "y"]}, True),
    ("${list[5] == null}", {"list": ["x"]}, True),  # out of range: null (not an error)
    ("${list[-1] == null}", {"list": ["x"]}, True),  # no Python wrap-around
    ("${rows[0].n == 1}", {"rows": [{"n": 1}]}, True),
    # execution
    ("${execution.getVariable('n') > 1}", {"n": 5}, True),
    ("${execution.getVariable(\"nope\") == null}", {}, True),  # Camunda: null, not an error
    ("${execution.hasVariable('n')}", {"n": 0}, True),
    ("${!execution.hasVariable('n')}", {}, True),
    # methods
    ("${s.equals('abc')}", {"s": "abc"}, True),
    ("${n.equals('5')}", {"n": 5}, False),  # equals does not coerce
    ("${s.equalsIgnoreCase('ABC')}", {"s": "abc"}, True),
    ("${s.startsWith('ab')}", {"s": "abc"}, True),
    ("${s.endsWith('bc')}", {"s": "abc"}, True),
    ("${'x1'.startsWith(1)}", {}, False),  # Camunda: the argument is coerced to text
    ("${s.contains('b')}", {"s": "abc"}, True),
    ("${s.length() == 3}", {"s": "abc"}, True),
    ("${s.isEmpty()}", {"s": ""}, True),
    ("${s.trim().toUpperCase() == 'AB'}", {"s": " ab "}, True),
    ("${s.toLowerCase() == 'ab'}", {"s": "AB"}, True),
    ("${s.substring(1) == 'bc'}", {"s": "abc"}, True),
    ("${s.substring(0, 2) == 'ab'}", {"s": "abc"}, True),
    ("${s.indexOf('c') == 2}", {"s": "abc"}, True),
    ("${list.size() == 2}", {"list": ["a", "b"]}, True),
    ("${list.contains('b')}", {"list": ["a", "b"]}, True),
    ("${list.contains(1)}", {"list": ["1"]}, False),
    ("${list.isEmpty()}", {"list": []}, True),
    ("${list.get(1) == 'b'}", {"list": ["a", "b"]}, True),
    ("${m.containsKey('k') && m.get('k') == 1 && m.size() == 1}", {"m": {"k": 1}}, True),
])
def test_expressions_evaluate_like_juel(expression, variables, expected):
    assert evaluate_condition(expression, variables) is expected


def test_or_and_and_and_choice_short_circuit():
    # Like JUEL: the side that does not decide is not evaluated, so a missing variable there is fine.
    assert evaluate_condition("${a || missing}", {"a": True}) is True
    assert evaluate_condition("${a && missing}", {"a": False}) is False
    assert evaluate_condition("${a ? true : missing}", {"a": True}) is True


@pytest.mark.parametrize("expression, why", [
    ("${__import__('os')}", "function calls are not supported"),
    ("${open('/etc/passwd')}", "function calls are not supported"),
    ("${fn:length(x) > 1}", "functions (fn:length(...)) are not supported"),
    ("${__import__('os').system('true')}", "function calls are not supported"),
    ("${approved.__class__.mro()}", "the method mro() is not supported"),
    ("${s.matches('a.*')}", "the method matches() is not supported"),
    ("${bean.doSomething(execution)}", "the method doSomething() is not supported"),
    ("${s.length(1)}", "length() takes 0 argument(s), not 1"),
    ("${s.substring()}", "substring() takes 1 or 2 argument(s), not 0"),
    ("${execution.setVariable('a', 1)}", "execution.setVariable() is not supported"),
    ("${execution.processBusinessKey == 'x'}", "'execution' is supported only as"),
    ("${execution}", "'execution' is supported only as"),
    ("${execution.getVariable()}", "execution.getVariable() takes 1 argument"),
    ("${a instanceof b}", "'instanceof' is not supported"),
    ("${a = 1}", "assignment is not supported"),
    ("${x -> x + 1}", "lambda expressions are not supported"),
    ("${a & b}", "use '&&' or 'and'"),
    ("${a | b}", "use '||' or 'or'"),
    ("${a b}", "unexpected 'b' after a complete expression"),
    ("${(a}", "a '(' is not closed"),
    ("${a)}", "unexpected ')'"),
    ("${list[0}", "a '[' is not closed"),
    ("${a ? b}", "lacks its ':' part"),
    ("${a.}", "a property name must follow '.'"),
    ("${a ==}", "the expression ends where a value was expected"),
    ("${}", "the expression is empty"),
    ("${'open}", "a string literal is not closed"),
    ("${'\\n'}", "unknown escape"),
    ("${a", "a '${' is not closed by '}'"),
    ("${a}${b}", "a condition must be one '${...}' expression"),
    ("${a} and more", "a condition must be one '${...}' expression"),
    ("approved", "a condition must be one '${...}' expression"),
    ("", "the condition is empty"),
    ("${a;b}", "the character ';' is not supported"),
    ("${a} #{b}", "cannot be mixed"),
    ("${a${b}}", "nested expressions are not supported"),
])
def test_what_cannot_run_is_refused_with_a_reason(expression, why):
    with pytest.raises(ExpressionRejected) as err:
        parse_condition(expression)
    assert why in str(err.value)


@pytest.mark.parametrize("expression, variables, why", [
    ("${approved}", {}, "unknown variable 'approved'"),
    ("${a.b}", {}, "unknown variable 'a'"),  # Camunda: Cannot resolve identifier 'a'
    ("${approved}", {"approved": "true"}, "the condition returned str 'true', not a boolean"),  # Camunda too
    ("${approved}", {"approved": None}, "the condition returned null"),  # Camunda: returns null
    ("${amount}", {"amount": 1}, "not a boolean"),
    ("${amount > 5}", {"amount": "lots"}, "cannot coerce the text 'lots' to a number"),
    ("${'a' + 'b' == 'ab'}", {}, "cannot coerce the text 'a' to a number"),  # Camunda: no concatenation
    ("${'a' < 1}", {}, "cannot coerce the text 'a' to a number"),
    ("${7 % 0 == 1}", {}, "/ by zero"),  # Camunda: / by zero
    ("${approved && true}", {"approved": 1}, "cannot use int 1 as a boolean"),
    ("${approved > false}", {"approved": True}, "cannot order booleans"),
    ("${a == true}", {"a": 3}, "cannot coerce the boolean true to a number"),
    ("${a == b}", {"a": [1], "b": {"x": 1}}, "cannot compare"),
    ("${s.missing == 1}", {"s": "x"}, "does not have the property 'missing'"),  # Camunda: the same
    ("${s.length() == 1}", {"s": None}, "cannot call length() on null"),
    ("${n.size() == 1}", {"n": 5}, "has no method size()"),
    ("${list.get(3) == 1}", {"list": [1]}, "out of range"),
    ("${list['x'] == 1}", {"list": [1]}, "cannot index a list with 'x'"),
    ("${s.substring(5) == 'x'}", {"s": "abc"}, "out of range"),
    ("${-flag == 1}", {"flag": True}, "cannot negate"),
])
def test_evaluation_fails_clearly_on_unfit_variables(expression, variables, why):
    with pytest.raises(ExpressionFailed) as err:
        evaluate_condition(expression, variables)
    assert why in str(err.value)


def test_variables_are_only_looked_up_never_executed():
    class Sneaky:
        def __bool__(self):  # pragma: no cover - must never be called
            raise AssertionError("evaluated as Python")

        def __getattr__(self, name):  # pragma: no cover - must never be called
            raise AssertionError("attribute looked up")

    with pytest.raises(ExpressionFailed):
        evaluate_condition("${x}", {"x": Sneaky()})
    with pytest.raises(ExpressionFailed):
        evaluate_condition("${x.y == 1}", {"x": Sneaky()})
    with pytest.raises(ExpressionFailed):
        evaluate_condition("${x.isEmpty()}", {"x": Sneaky()})


# --------------------------------------------------------- values: assignee, candidates, due, timers


@pytest.mark.parametrize("text, variables, expected", [
    ("bob", {}, "bob"),
    (None, {}, None),
    ("${requester}", {"requester": "alice"}, "alice"),
    ("#{requester}", {"requester": "alice"}, "alice"),
    ("${amount}", {"amount": 5}, 5),  # one expression keeps its type
    ("${amount / 2}", {"amount": 5}, 2.5),
    ("${10 / 5}", {}, 2.0),
    ("${-amount}", {"amount": 5}, -5),
    ("Dear ${name}", {"name": "Ann"}, "Dear Ann"),
    ("Dear ${name}!", {"name": None}, "Dear !"),  # null is "" in text
    ("user-${n}", {"n": 5}, "user-5"),
    ("${n} of ${m}", {"n": 1.0, "m": 1e10}, "1.0 of 1.0E10"),  # numbers as Java prints them
    ("${ok}-${list}", {"ok": True, "list": ["a", "b"]}, "true-[a, b]"),
    ("P${days}D", {"days": 3}, "P3D"),
    ("\\${literal} ${x}", {"x": 1}, "${literal} 1"),
    ("${priority == 'high' ? 'leads' : 'managers'}", {"priority": "high"}, "leads"),
    ("${ticket.owner}", {"ticket": {"owner": "dave"}}, "dave"),
    ("${execution.getVariable('requester')}", {"requester": "erin"}, "erin"),
])
def test_attribute_text_is_a_literal_an_expression_or_composite_text(text, variables, expected):
    value = evaluate_value(text, variables)
    assert value == expected and type(value) is type(expected)


def test_division_by_zero_gives_java_doubles():
    assert evaluate_value("${1 / 0}", {}) == math.inf
    assert evaluate_value("${-1 / 0}", {}) == -math.inf
    assert math.isnan(evaluate_value("${0 / 0}", {}))


def test_attribute_text_is_checked_at_deploy():
    for text in ("${requester}", "P3D", "user-${x}", "${a}${b}", "${a.b}", "#{a}", "Dear ${name}"):
        check_value_expression(text)
    for text, why in (("${a.foo()}", r"the method foo\(\) is not supported"), ("${a} #{b}", "cannot be mixed"),
                      ("user-${x", "is not closed")):
        with pytest.raises(ExpressionRejected, match=why):
            check_value_expression(text)
    with pytest.raises(ExpressionFailed, match="unknown variable 'requester'"):
        evaluate_value("${requester}", {})


def test_candidate_lists_split_literals_and_expression_results_as_camunda_does():
    variables = {"reviewers": "security, audit", "deputy": "dave", "many": ["x", "y", "x"], "none": None,
                 "urgent": True}
    assert evaluate_names("managers, finance", {}) == ("managers", "finance")
    assert evaluate_names("${reviewers}", variables) == ("security", "audit")
    assert evaluate_names("alice,${deputy}", variables) == ("alice", "dave")
    assert evaluate_names("${many}", variables) == ("x", "y")
    assert evaluate_names("${none}", variables) == ()
    assert evaluate_names("", variables) == () and evaluate_names(None, variables) == ()
    # a comma inside an expression does not split the list
    assert split_names("a, ${urgent ? 'leads,managers' : 'managers'}, b") == \
        ["a", "${urgent ? 'leads,managers' : 'managers'}", "b"]
    assert evaluate_names("a, ${urgent ? 'leads,managers' : 'managers'}", variables) == ("a", "leads", "managers")
    assert evaluate_names("team-${deputy}", variables) == ("team-dave",)
