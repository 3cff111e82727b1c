"""The JUEL subset the embedded engine evaluates in sequence-flow conditions.

Camunda evaluates ``${...}`` conditions as JUEL. The embedded engine accepts
the part of JUEL that decision gateways need and nothing else:

* literals: ``true``, ``false``, ``null``, integers, decimals (optionally
  negative), strings in single or double quotes (``\\'``, ``\\"``, ``\\\\``);
* variables: plain names (``approved``, ``amount``), no properties or indexes;
* comparison: ``==  !=  <  >  <=  >=`` and ``eq ne lt gt le ge``;
* logic: ``&&  ||  !`` and ``and or not``; parentheses.

Method calls, properties, arithmetic, ``empty``, the ternary operator and
anything else are refused when the BPMN is deployed, so a condition that the
embedded engine would run differently from Camunda never reaches production.

Expressions are parsed into a small tree and interpreted over the process
variables; nothing is handed to Python's ``eval``. Values follow the EL
coercion rules for the cases that matter here (``null`` compares unequal to
everything but ``null``, numbers compare numerically, a number compared with
a string converts the string), and an unknown variable is an error, as in
Camunda.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Union


class ExpressionRejected(ValueError):
    """The text is not in the supported subset; the message says why."""


class ExpressionFailed(ValueError):
    """A supported expression could not be evaluated on these variables (unknown variable, bad types)."""


# ----------------------------------------------------------------------------- tree

@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Compare:
    op: str  # "==" "!=" "<" ">" "<=" ">="
    left: "Node"
    right: "Node"


Node = Union[Literal, Variable, Not, Logical, Compare]

# ------------------------------------------------------------------------ tokenizer

_WORD_OPERATORS = {
    "and": "&&", "or": "||", "not": "!",
    "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
}
_LITERAL_WORDS = {"true": True, "false": False, "null": None}
_REFUSED_WORDS = {
    "empty": "the 'empty' operator is not supported",
    "div": "arithmetic is not supported",
    "mod": "arithmetic is not supported",
    "instanceof": "'instanceof' is not supported",
}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()-])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_REFUSED_SYMBOLS = {
    ".": "properties and method calls are not supported",
    "[": "indexing is not supported",
    "]": "indexing is not supported",
    "+": "arithmetic is not supported",
    "*": "arithmetic is not supported",
    "/": "arithmetic is not supported",
    "%": "arithmetic is not supported",
    "?": "the conditional operator '?:' is not supported",
    ":": "the conditional operator '?:' is not supported",
    "=": "assignment is not supported (compare with '==')",
    "&": "use '&&' or 'and'",
    "|": "use '||' or 'or'",
    ",": "function calls are not supported",
    "$": "nested expressions are not supported",
    "#": "nested expressions are not supported",
    "{": "nested expressions are not supported",
    "}": "nested expressions are not supported",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # number | string | name | op | literal | end
    text: str
    value: Any = None


def _unescape(quoted: str) -> str:
    body = quoted[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in "'\"\\":
                raise ExpressionRejected(f"unknown escape '\\{nxt}' in a string literal")
            out.append(nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind, lexeme = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind == "other":
            reason = _REFUSED_SYMBOLS.get(lexeme, f"the character {lexeme!r} is not supported")
            if lexeme in "'\"":
                reason = "a string literal is not closed"
            raise ExpressionRejected(reason)
        if kind == "number":
            value: Any = float(lexeme) if any(c in lexeme for c in ".eE") else int(lexeme)
            tokens.append(_Token("literal", lexeme, value))
        elif kind == "string":
            tokens.append(_Token("literal", lexeme, _unescape(lexeme)))
        elif kind == "name":
            if lexeme in _LITERAL_WORDS:
                tokens.append(_Token("literal", lexeme, _LITERAL_WORDS[lexeme]))
            elif lexeme in _WORD_OPERATORS:
                tokens.append(_Token("op", _WORD_OPERATORS[lexeme]))
            elif lexeme in _REFUSED_WORDS:
                raise ExpressionRejected(_REFUSED_WORDS[lexeme])
            else:
                tokens.append(_Token("name", lexeme))
        else:
            tokens.append(_Token("op", lexeme))
    tokens.append(_Token("end", ""))
    return tokens


# --------------------------------------------------------------------------- parser

class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionRejected("the expression is empty")
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise ExpressionRejected(_unexpected(token, "after a complete expression"))
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek().text == "||" and self.peek().kind == "op":
            self.take()
            node = Logical("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.eq_expr()
        while self.peek().text == "&&" and self.peek().kind == "op":
            self.take()
            node = Logical("and", node, self.eq_expr())
        return node

    def eq_expr(self) -> Node:
        node = self.rel_expr()
        while self.peek().kind == "op" and self.peek().text in ("==", "!="):
            op = self.take().text
            node = Compare(op, node, self.rel_expr())
        return node

    def rel_expr(self) -> Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in ("<", ">", "<=", ">="):
            op = self.take().text
            node = Compare(op, node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text == "!":
            self.take()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "literal":
            return Literal(token.value)
        if token.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                raise ExpressionRejected(f"function and method calls are not supported ({token.text}(...))")
            return Variable(token.text)
        if token.kind == "op" and token.text == "-" and self.peek().kind == "literal" \
                and isinstance(self.peek().value, (int, float)) and not isinstance(self.peek().value, bool):
            return Literal(-self.take().value)  # a negative number literal
        if token.kind == "op" and token.text == "(":
            node = self.or_expr()
            closing = self.take()
            if not (closing.kind == "op" and closing.text == ")"):
                if closing.kind == "end":
                    raise ExpressionRejected("a '(' is not closed")
                raise ExpressionRejected(_unexpected(closing, "where ')' was expected"))
            return node
        if token.kind == "end":
            raise ExpressionRejected("the expression ends where a value was expected")
        raise ExpressionRejected(_unexpected(token, "where a value was expected"))


def _unexpected(token: _Token, where: str) -> str:
    if token.text == "-":
        return "arithmetic is not supported"
    return f"unexpected {token.text!r} {where}"


_WRAPPED = re.compile(r"^\s*\$\{(?P<body>.*)\}\s*$", re.DOTALL)


@lru_cache(maxsize=1024)
def parse_condition(expression: str) -> Node:
    """Parse a ``${...}`` condition; raise ``ExpressionRejected`` naming what is not supported."""
    if expression is None or not expression.strip():
        raise ExpressionRejected("the condition is empty")
    match = _WRAPPED.match(expression)
    if not match:
        if expression.strip().startswith("#{"):
            raise ExpressionRejected("deferred '#{...}' expressions are not supported; use '${...}'")
        raise ExpressionRejected("a condition must be one '${...}' expression")
    body = match.group("body")
    if "${" in body or "#{" in body:
        raise ExpressionRejected("nested expressions are not supported")
    tokens = _tokenize(body)
    return _Parser(tokens).parse()


# ------------------------------------------------------------------------ evaluation

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _to_number(value: Any) -> int | float:
    if _is_number(value):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise ExpressionFailed(f"cannot compare the text {value!r} with a number") from None
    raise ExpressionFailed(f"cannot use {_describe(value)} as a number")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() == "true"
    raise ExpressionFailed(f"cannot use {_describe(value)} as a boolean")


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool):
            return a == b
        other = b if isinstance(a, bool) else a
        if isinstance(other, str):
            return _to_bool(a) == _to_bool(b)
        raise ExpressionFailed(f"cannot compare a boolean with {_describe(other)}")
    if _is_number(a) or _is_number(b):
        return _to_number(a) == _to_number(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if type(a) is type(b):
        return a == b
    raise ExpressionFailed(f"cannot compare {_describe(a)} with {_describe(b)}")


def _order(op: str, a: Any, b: Any) -> bool:
    if op in ("<=", ">=") and a is not None and b is not None and _equal_quiet(a, b):
        return True
    if a is None or b is None:
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        raise ExpressionFailed(f"cannot order booleans ({_describe(a)} {op} {_describe(b)})")
    if _is_number(a) or _is_number(b):
        x, y = _to_number(a), _to_number(b)
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a, b
    else:
        raise ExpressionFailed(f"cannot order {_describe(a)} and {_describe(b)}")
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def _equal_quiet(a: Any, b: Any) -> bool:
    try:
        return _equal(a, b)
    except ExpressionFailed:
        return False


def _value(node: Node, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Variable):
        if node.name not in variables:
            raise ExpressionFailed(f"unknown variable {node.name!r}")
        return variables[node.name]
    if isinstance(node, Not):
        return not _to_bool(_value(node.operand, variables))
    if isinstance(node, Logical):
        left = _to_bool(_value(node.left, variables))
        if node.op == "and":
            return left and _to_bool(_value(node.right, variables))
        return left or _to_bool(_value(node.right, variables))
    if isinstance(node, Compare):
        a, b = _value(node.left, variables), _value(node.right, variables)
        if node.op == "==":
            return _equal(a, b)
        if node.op == "!=":
            return not _equal(a, b)
        return _order(node.op, a, b)
    raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover


def evaluate_condition(expression: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate a supported condition to a boolean. Raises ``ExpressionRejected`` for text
    outside the subset and ``ExpressionFailed`` when the variables do not fit."""
    return _to_bool(_value(parse_condition(expression), variables))


# ------------------------------------------------------------- task attributes

_EXPRESSION_PART = re.compile(r"\$\{[^}]*\}")


def is_expression(text: str | None) -> bool:
    return bool(text) and ("${" in text or "#{" in text)


def check_value_expression(text: str) -> None:
    """Refuse, at deploy time, an attribute value the embedded engine would not resolve as Camunda does:
    it must be a literal or exactly one ``${...}`` expression of the supported subset."""
    if not is_expression(text):
        return
    if not _WRAPPED.match(text):
        raise ExpressionRejected("an attribute must be a plain value or exactly one '${...}' expression "
                                 "(text around an expression is not supported)")
    parse_condition(text)


def evaluate_value(text: str | None, variables: Mapping[str, Any]) -> Any:
    """The value of a task attribute (``camunda:assignee``, ``dueDate``…): the literal text, or the value
    of its one ``${...}`` expression over the process variables (the same interpreter as the gateways').
    Raises ``ExpressionFailed`` when a variable is unknown."""
    if text is None or not is_expression(text):
        return text
    return _value(parse_condition(text), variables)


def evaluate_names(text: str | None, variables: Mapping[str, Any]) -> tuple[str, ...]:
    """A comma-separated list of names (``candidateGroups``/``candidateUsers``) whose items may be
    expressions; an expression may give one name, a comma-separated text or a list, as in Camunda."""
    if not text:
        return ()
    if _WRAPPED.match(text):
        parts = [text]
    else:
        parts = [p for p in text.split(",")]
    names: list[str] = []
    for part in parts:
        part = part.strip()
        if not part:
            continue
        value = evaluate_value(part, variables)
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            names.extend(str(v).strip() for v in value if str(v).strip())
        else:
            names.extend(v.strip() for v in str(value).split(",") if v.strip())
    return tuple(dict.fromkeys(names))
