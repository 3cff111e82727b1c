"""The JUEL the embedded engine evaluates, with Camunda 7's semantics.

Camunda 7 evaluates ``${...}`` (and ``#{...}``, which it treats the same) as JUEL in sequence-flow and
completion conditions, loop cardinalities, timer definitions and user-task attributes (``assignee``,
``candidateUsers``, ``candidateGroups``, ``dueDate``). The embedded engine reads the same language:

* literals ``true false null``, integers (Java ``Long``), decimals (``Double``), strings in single or
  double quotes (escapes ``\\'``, ``\\"``, ``\\\\``);
* variables by name; ``execution.getVariable('x')`` (null when unset) and ``execution.hasVariable('x')``;
* properties and indexes: ``a.b``, ``a['b']`` on maps, ``list[0]`` on lists (null base, missing key or
  an index out of range give null, as JUEL's resolvers do);
* the methods Camunda models call on text, lists and maps: ``equals``, ``equalsIgnoreCase``,
  ``startsWith``, ``endsWith``, ``contains``, ``indexOf``, ``length``, ``size``, ``isEmpty``, ``trim``,
  ``toLowerCase``, ``toUpperCase``, ``substring``, ``containsKey``, ``get``;
* arithmetic ``+ - * / div % mod`` and unary ``-`` with EL's number coercion (``/`` is always
  decimal, ``'a' + 'b'`` is an error: EL has no string concatenation), ``empty``, ``a ? b : c``;
* comparison ``== != < > <= >=`` / ``eq ne lt gt le ge``; logic ``&& || !`` / ``and or not``;
* composite text: ``Dear ${name}`` is a string, each expression coerced to text (null -> ``""``).

What cannot run is refused when the BPMN is deployed, naming the reason: syntax errors, function calls
(``fn:x()``, ``bean.method()`` on Spring beans), methods outside the list above, ``instanceof``,
assignment and lambdas (EL 3), ``${`` mixed with ``#{`` in one text. Evaluation errors name what
went wrong, as Camunda's do: an unknown variable (Camunda's ``PropertyNotFoundException``, "Cannot
resolve identifier"), text that is not a number in arithmetic, ``% 0`` on integers, a method on null.

Coercion follows the EL specification (JUEL's implementation): ``&&``, ``||``, ``!`` and ``?:`` coerce
their operands to Boolean (null and ``""`` are false, text is ``Boolean.valueOf``, a number is an
error); ``==`` compares numbers numerically, a number with text by converting the text, a Boolean with
text as Booleans, otherwise as text; ``null`` equals only ``null`` and is never ordered. A *condition*
must evaluate to a real boolean: Camunda does not coerce the result, so ``${flag}`` with the text
``"true"`` or with null is an error there and here (``evaluate_condition``).

Expressions are parsed into a small tree and interpreted over the process variables; nothing is
handed to Python's ``eval`` and no Python attribute is ever looked up.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Mapping, Union


class ExpressionRejected(ValueError):
    """The text cannot be run by the embedded engine as Camunda runs it; the message says why."""


class ExpressionFailed(ValueError):
    """An expression could not be evaluated on these variables (unknown variable, bad types)."""


# ----------------------------------------------------------------------------- tree

@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str  # "!" | "-" | "empty"
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


@dataclass(frozen=True)
class Arithmetic:
    op: str  # "+" "-" "*" "/" "%"
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Choice:
    condition: "Node"
    then: "Node"
    otherwise: "Node"


@dataclass(frozen=True)
class Property:
    base: "Node"
    key: "Node"


@dataclass(frozen=True)
class Call:
    base: "Node"
    method: str
    args: tuple["Node", ...]


Node = Union[Literal, Variable, Unary, Logical, Compare, Arithmetic, Choice, Property, Call]


@dataclass(frozen=True)
class Template:
    """A parsed attribute or condition text: literal text and expressions, in order."""

    parts: tuple[Union[str, Node], ...]

    @property
    def single(self) -> Node | None:
        """The expression when the text is exactly one expression (its value keeps its type)."""
        if len(self.parts) == 1 and not isinstance(self.parts[0], str):
            return self.parts[0]
        return None

    @property
    def literal(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


# The methods the embedded engine calls, with the numbers of arguments each takes.
METHODS: dict[str, tuple[int, ...]] = {
    "equals": (1,), "equalsIgnoreCase": (1,), "startsWith": (1,), "endsWith": (1,), "contains": (1,),
    "indexOf": (1,), "length": (0,), "size": (0,), "isEmpty": (0,), "trim": (0,), "toLowerCase": (0,),
    "toUpperCase": (0,), "substring": (1, 2), "containsKey": (1,), "get": (1,), "toString": (0,),
}
EXECUTION_METHODS = {"getVariable": 1, "hasVariable": 1}

# ------------------------------------------------------------------------ tokenizer

_WORD_OPERATORS = {
    "and": "&&", "or": "||", "not": "!",
    "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
    "div": "/", "mod": "%", "empty": "empty",
}
_LITERAL_WORDS = {"true": True, "false": False, "null": None}
_REFUSED_WORDS = {
    "instanceof": "'instanceof' is not supported",
    "function": "lambda expressions are not supported",
}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||->|[<>!()\-+*/%?:.\[\],])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_REFUSED_SYMBOLS = {
    "=": "assignment is not supported (compare with '==')",
    "&": "use '&&' or 'and'",
    "|": "use '||' or 'or'",
    ";": "the character ';' is not supported (one expression per '${...}')",
    "$": "nested expressions are not supported",
    "#": "nested expressions are not supported",
    "{": "nested expressions are not supported",
    "}": "nested expressions are not supported",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # literal | name | op | end
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
            if lexeme in "'\"":
                raise ExpressionRejected("a string literal is not closed")
            raise ExpressionRejected(_REFUSED_SYMBOLS.get(lexeme, f"the character {lexeme!r} is not supported"))
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
            if lexeme == "->":
                raise ExpressionRejected("lambda expressions are not supported")
            tokens.append(_Token("op", lexeme))
    tokens.append(_Token("end", ""))
    return tokens


# --------------------------------------------------------------------------- parser

class _Parser:
    """Recursive descent over JUEL's precedence: ?: < || < && < == != < relational < + - < * / % < unary."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def at(self, *ops: str) -> bool:
        token = self.tokens[self.pos]
        return token.kind == "op" and token.text in ops

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def expect(self, op: str, what: str) -> None:
        token = self.take()
        if not (token.kind == "op" and token.text == op):
            if token.kind == "end":
                raise ExpressionRejected(what)
            raise ExpressionRejected(f"unexpected {token.text!r} where {op!r} was expected")

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExpressionRejected("the expression is empty")
        node = self.choice()
        token = self.peek()
        if token.kind != "end":
            raise ExpressionRejected(f"unexpected {token.text!r} after a complete expression")
        return node

    def choice(self) -> Node:
        node = self.or_expr()
        if self.at("?"):
            self.take()
            then = self.choice()
            self.expect(":", "the conditional operator '?:' lacks its ':' part")
            return Choice(node, then, self.choice())
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at("||"):
            self.take()
            node = Logical("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.eq_expr()
        while self.at("&&"):
            self.take()
            node = Logical("and", node, self.eq_expr())
        return node

    def eq_expr(self) -> Node:
        node = self.rel_expr()
        while self.at("==", "!="):
            op = self.take().text
            node = Compare(op, node, self.rel_expr())
        return node

    def rel_expr(self) -> Node:
        node = self.add_expr()
        while self.at("<", ">", "<=", ">="):
            op = self.take().text
            node = Compare(op, node, self.add_expr())
        return node

    def add_expr(self) -> Node:
        node = self.mul_expr()
        while self.at("+", "-"):
            op = self.take().text
            node = Arithmetic(op, node, self.mul_expr())
        return node

    def mul_expr(self) -> Node:
        node = self.unary()
        while self.at("*", "/", "%"):
            op = self.take().text
            node = Arithmetic(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!", "-", "empty"):
            op = self.take().text
            operand = self.unary()
            if op == "-" and isinstance(operand, Literal) and _is_number(operand.value):
                return Literal(-operand.value)
            return Unary(op, operand)
        return self.value()

    def value(self) -> Node:
        node = self.primary()
        while True:
            if self.at("."):
                self.take()
                name = self.take()
                if name.kind != "name" and not (name.kind == "literal" and name.text in _LITERAL_WORDS) \
                        and not (name.kind == "op" and name.text in _WORD_OPERATORS.values()):
                    raise ExpressionRejected("a property name must follow '.'")
                text = name.text if name.kind != "op" else next(k for k, v in _WORD_OPERATORS.items()
                                                                 if v == name.text)
                if self.at("("):
                    node = Call(node, text, self.arguments())
                else:
                    node = Property(node, Literal(text))
            elif self.at("["):
                self.take()
                key = self.choice()
                self.expect("]", "a '[' is not closed")
                if self.at("("):
                    raise ExpressionRejected("calling a method by index is not supported")
                node = Property(node, key)
            else:
                return node

    def arguments(self) -> tuple[Node, ...]:
        self.expect("(", "'(' expected")
        args: list[Node] = []
        if self.at(")"):
            self.take()
            return ()
        while True:
            args.append(self.choice())
            if self.at(","):
                self.take()
                continue
            self.expect(")", "a '(' is not closed")
            return tuple(args)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "literal":
            return Literal(token.value)
        if token.kind == "name":
            if self.at(":") and self.tokens[self.pos + 1].kind == "name" \
                    and self.tokens[self.pos + 2].kind == "op" and self.tokens[self.pos + 2].text == "(":
                raise ExpressionRejected(f"functions ({token.text}:{self.tokens[self.pos + 1].text}(...)) are "
                                         "not supported")
            if self.at("("):
                raise ExpressionRejected(f"function calls are not supported ({token.text}(...))")
            return Variable(token.text)
        if token.kind == "op" and token.text == "(":
            node = self.choice()
            self.expect(")", "a '(' is not closed")
            return node
        if token.kind == "end":
            raise ExpressionRejected("the expression ends where a value was expected")
        raise ExpressionRejected(f"unexpected {token.text!r} where a value was expected")


def _check_tree(node: Node) -> None:
    """What can be checked before running: known methods with the right number of arguments, and
    ``execution`` used only through the methods the embedded engine offers."""
    if isinstance(node, Call):
        if isinstance(node.base, Variable) and node.base.name == "execution":
            arity = EXECUTION_METHODS.get(node.method)
            if arity is None:
                raise ExpressionRejected(f"execution.{node.method}() is not supported (execution.getVariable and "
                                         "execution.hasVariable are)")
            if len(node.args) != arity:
                raise ExpressionRejected(f"execution.{node.method}() takes {arity} argument")
        else:
            arities = METHODS.get(node.method)
            if arities is None:
                raise ExpressionRejected(f"the method {node.method}() is not supported (supported: "
                                         f"{', '.join(sorted(METHODS))})")
            if len(node.args) not in arities:
                raise ExpressionRejected(f"{node.method}() takes {' or '.join(map(str, arities))} argument(s), "
                                         f"not {len(node.args)}")
            _check_tree(node.base)
        for arg in node.args:
            _check_tree(arg)
        return
    if isinstance(node, Variable) and node.name == "execution":
        raise ExpressionRejected("'execution' is supported only as execution.getVariable(...) or "
                                 "execution.hasVariable(...)")
    if isinstance(node, Property):
        _check_tree(node.base)
        _check_tree(node.key)
    elif isinstance(node, Unary):
        _check_tree(node.operand)
    elif isinstance(node, (Logical, Compare, Arithmetic)):
        _check_tree(node.left)
        _check_tree(node.right)
    elif isinstance(node, Choice):
        _check_tree(node.condition)
        _check_tree(node.then)
        _check_tree(node.otherwise)


def _parse_body(body: str) -> Node:
    node = _Parser(_tokenize(body)).parse()
    _check_tree(node)
    return node


def _expression_end(text: str, start: int) -> int:
    """The index of the '}' closing the expression whose body starts at ``start`` (strings skipped)."""
    i, quote = start, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "}":
            return i
        i += 1
    if quote:
        raise ExpressionRejected("a string literal is not closed")
    raise ExpressionRejected("a '${' is not closed by '}'")


@lru_cache(maxsize=2048)
def parse_template(text: str) -> Template:
    """Parse attribute text: literal text with ``${...}``/``#{...}`` expressions (``\\${`` is a literal
    ``${``). Raises ``ExpressionRejected`` naming what cannot run."""
    parts: list[Union[str, Node]] = []
    literal: list[str] = []
    kinds: set[str] = set()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1:i + 3] in ("${", "#{"):
            literal.append(text[i + 1:i + 3])
            i += 3
            continue
        if ch in "$#" and text[i + 1:i + 2] == "{":
            kinds.add(ch)
            end = _expression_end(text, i + 2)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_parse_body(text[i + 2:end]))
            i = end + 1
            continue
        literal.append(ch)
        i += 1
    if literal:
        parts.append("".join(literal))
    if len(kinds) > 1:
        raise ExpressionRejected("'${...}' and '#{...}' cannot be mixed in one text (JUEL refuses it)")
    return Template(tuple(parts))


@lru_cache(maxsize=2048)
def parse_condition(expression: str) -> Node:
    """Parse a condition: exactly one ``${...}`` or ``#{...}`` expression (text around it would make the
    result text, which Camunda refuses as a condition). Raises ``ExpressionRejected``."""
    if expression is None or not expression.strip():
        raise ExpressionRejected("the condition is empty")
    template = parse_template(expression.strip())
    node = template.single
    if node is None:
        raise ExpressionRejected("a condition must be one '${...}' expression (text around it makes the "
                                 "result text, not a boolean)")
    return node


# ------------------------------------------------------------------------ coercion

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _has_dot(text: str) -> bool:
    return any(c in text for c in ".eE")


def _to_long(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ExpressionFailed(f"cannot coerce the boolean {str(value).lower()} to a number")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ExpressionFailed(f"cannot coerce the text {value!r} to a number") from None
    raise ExpressionFailed(f"cannot use {_describe(value)} as a number")


def _to_double(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        raise ExpressionFailed(f"cannot coerce the boolean {str(value).lower()} to a number")
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ExpressionFailed(f"cannot coerce the text {value!r} to a number") from None
    raise ExpressionFailed(f"cannot use {_describe(value)} as a number")


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ExpressionFailed(f"cannot coerce the text {value!r} to a number") from None
    if value is None:
        return Decimal(0)
    raise ExpressionFailed(f"cannot use {_describe(value)} as a number")


def to_boolean(value: Any) -> bool:
    """EL's coercion to Boolean: null and "" are false, text is Boolean.valueOf (``true`` in any case)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() == "true" if value else False
    raise ExpressionFailed(f"cannot use {_describe(value)} as a boolean")


def _java_double(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == int(value) and abs(value) < 1e7:
        return f"{int(value)}.0" if value or math.copysign(1, value) > 0 else "-0.0"
    if 1e-3 <= abs(value) < 1e7:
        return repr(value)
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + exponent - 1
    mantissa = text[0] + "." + (text[1:] or "0")
    return ("-" if sign else "") + f"{mantissa}E{power}"


def to_text(value: Any) -> str:
    """EL's coercion to String (null is "", numbers and booleans as Java prints them)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_text(k)}={to_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise ExpressionFailed(f"cannot use {_describe(value)} as text")


def _number_kind(a: Any, b: Any) -> str | None:
    """Which number type EL coerces two operands of a comparison to (None: not a numeric comparison)."""
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return "decimal"
    if isinstance(a, float) or isinstance(b, float):
        return "double"
    if _is_number(a) or _is_number(b):
        return "long"
    return None


def _as(kind: str, value: Any) -> Any:
    return {"decimal": _to_decimal, "double": _to_double, "long": _to_long}[kind](value)


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if a is None or b is None:
        return False
    kind = _number_kind(a, b)
    if kind is not None:
        return _as(kind, a) == _as(kind, b)
    if isinstance(a, bool) or isinstance(b, bool):
        return to_boolean(a) == to_boolean(b)
    if isinstance(a, str) or isinstance(b, str):
        if isinstance(a, (list, tuple, dict)) or isinstance(b, (list, tuple, dict)):
            raise ExpressionFailed(f"cannot compare {_describe(a)} with {_describe(b)}")
        return to_text(a) == to_text(b)
    if type(a) is type(b) or (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return a == b
    raise ExpressionFailed(f"cannot compare {_describe(a)} with {_describe(b)}")


def _order(op: str, a: Any, b: Any) -> bool:
    if a is b and op in ("<=", ">="):
        return True
    if a is None or b is None:
        return False
    kind = _number_kind(a, b)
    if kind is not None:
        x, y = _as(kind, a), _as(kind, b)
    elif isinstance(a, bool) or isinstance(b, bool):
        raise ExpressionFailed(f"cannot order booleans ({_describe(a)} {op} {_describe(b)})")
    elif isinstance(a, str) or isinstance(b, str):
        x, y = to_text(a), to_text(b)
    elif type(a) is type(b) and isinstance(a, (date, datetime)):
        x, y = a, b
    else:
        raise ExpressionFailed(f"cannot order {_describe(a)} and {_describe(b)}")
    return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]


def _arith_kind(a: Any, b: Any) -> str:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return "decimal"
    if any(isinstance(v, float) or (isinstance(v, str) and _has_dot(v)) for v in (a, b)):
        return "double"
    return "long"


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    if a is None and b is None:
        return 0
    if op == "/":
        if isinstance(a, Decimal) or isinstance(b, Decimal):
            x, y = _to_decimal(a), _to_decimal(b)
            if y == 0:
                raise ExpressionFailed("division by zero")
            return x / y
        x, y = _to_double(a), _to_double(b)
        if y == 0:  # Java doubles: Infinity, -Infinity or NaN
            return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1, y)
        return x / y
    kind = _arith_kind(a, b)
    x, y = _as(kind, a), _as(kind, b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    # "%": Java's remainder takes the sign of the dividend
    if kind == "long":
        if y == 0:
            raise ExpressionFailed("/ by zero (integer remainder)")
        remainder = abs(x) % abs(y)
        return remainder if x >= 0 else -remainder
    if y == 0:
        return math.nan
    return math.fmod(x, y) if kind == "double" else x % y


def _negate(value: Any) -> Any:
    if value is None:
        return 0
    if isinstance(value, str):
        return -_to_double(value) if _has_dot(value) else -_to_long(value)
    if _is_number(value):
        return -value
    raise ExpressionFailed(f"cannot negate {_describe(value)}")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, dict, set)):
        return len(value) == 0
    return False


def _java_equals(a: Any, b: Any) -> bool:
    """``Object.equals``: no coercion (``"5".equals(5)`` is false); numbers by value."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_java_equals(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------ evaluation

class _Scope:
    """The variables an expression sees, as Camunda's variable resolver: ``execution`` first, then names."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables

    def lookup(self, name: str) -> Any:
        if name not in self.variables:
            raise ExpressionFailed(f"unknown variable {name!r} (Cannot resolve identifier {name!r})")
        return self.variables[name]


def _property(base: Any, key: Any, where: Node) -> Any:
    if base is None or key is None:
        return None
    if isinstance(base, Mapping):
        return base.get(key)
    if isinstance(base, (list, tuple)):
        if isinstance(key, bool):
            raise ExpressionFailed(f"cannot index a list with the boolean {to_text(key)}")
        try:
            index = _to_long(key)
        except ExpressionFailed:
            raise ExpressionFailed(f"cannot index a list with {key!r} (not a number)") from None
        return base[index] if 0 <= index < len(base) else None
    raise ExpressionFailed(f"{type(base).__name__} {base!r} does not have the property {to_text(key)!r}")


def _call(node: Call, scope: _Scope) -> Any:
    if isinstance(node.base, Variable) and node.base.name == "execution":
        name = to_text(_value(node.args[0], scope))
        if node.method == "getVariable":
            return scope.variables.get(name)
        return name in scope.variables  # hasVariable
    base = _value(node.base, scope)
    args = [_value(a, scope) for a in node.args]
    method = node.method
    if base is None:
        raise ExpressionFailed(f"cannot call {method}() on null (the base of the call resolved to null)")
    if method == "equals":
        return _java_equals(base, args[0])
    if method == "toString":
        return to_text(base)
    if isinstance(base, str):
        if method == "equalsIgnoreCase":
            return args[0] is not None and base.lower() == to_text(args[0]).lower()
        if method == "startsWith":
            return base.startswith(to_text(args[0]))
        if method == "endsWith":
            return base.endswith(to_text(args[0]))
        if method == "contains":
            return to_text(args[0]) in base
        if method == "indexOf":
            return base.find(to_text(args[0]))
        if method == "length":
            return len(base)
        if method == "isEmpty":
            return not base
        if method == "trim":
            return base.strip()
        if method == "toLowerCase":
            return base.lower()
        if method == "toUpperCase":
            return base.upper()
        if method == "substring":
            start = _to_long(args[0])
            end = _to_long(args[1]) if len(args) > 1 else len(base)
            if not 0 <= start <= end <= len(base):
                raise ExpressionFailed(f"substring({start}, {end}) is out of range for a text of {len(base)} "
                                       "characters")
            return base[start:end]
    elif isinstance(base, (list, tuple)):
        if method == "size":
            return len(base)
        if method == "isEmpty":
            return not base
        if method == "contains":
            return any(_java_equals(item, args[0]) for item in base)
        if method == "indexOf":
            return next((i for i, item in enumerate(base) if _java_equals(item, args[0])), -1)
        if method == "get":
            index = _to_long(args[0])
            if not 0 <= index < len(base):
                raise ExpressionFailed(f"get({index}) is out of range for a list of {len(base)}")
            return base[index]
    elif isinstance(base, Mapping):
        if method == "size":
            return len(base)
        if method == "isEmpty":
            return not base
        if method == "containsKey":
            return args[0] in base
        if method == "get":
            return base.get(args[0])
    raise ExpressionFailed(f"{type(base).__name__} {base!r} has no method {method}()")


def _value(node: Node, scope: _Scope) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Variable):
        return scope.lookup(node.name)
    if isinstance(node, Logical):
        left = to_boolean(_value(node.left, scope))
        if node.op == "and":
            return left and to_boolean(_value(node.right, scope))
        return left or to_boolean(_value(node.right, scope))
    if isinstance(node, Compare):
        a, b = _value(node.left, scope), _value(node.right, scope)
        if node.op == "==":
            return _equal(a, b)
        if node.op == "!=":
            return not _equal(a, b)
        return _order(node.op, a, b)
    if isinstance(node, Arithmetic):
        return _arithmetic(node.op, _value(node.left, scope), _value(node.right, scope))
    if isinstance(node, Unary):
        operand = _value(node.operand, scope)
        if node.op == "!":
            return not to_boolean(operand)
        if node.op == "empty":
            return _empty(operand)
        return _negate(operand)
    if isinstance(node, Choice):
        branch = node.then if to_boolean(_value(node.condition, scope)) else node.otherwise
        return _value(branch, scope)
    if isinstance(node, Property):
        return _property(_value(node.base, scope), _value(node.key, scope), node)
    if isinstance(node, Call):
        return _call(node, scope)
    raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover


def _render(template: Template, variables: Mapping[str, Any]) -> Any:
    scope = _Scope(variables)
    single = template.single
    if single is not None:
        return _value(single, scope)
    return "".join(p if isinstance(p, str) else to_text(_value(p, scope)) for p in template.parts)


def evaluate_condition(expression: str, variables: Mapping[str, Any]) -> bool:
    """Evaluate a condition to a real boolean, as Camunda does: a result that is null or not a Boolean
    (text ``"true"`` included) is an ``ExpressionFailed``. ``ExpressionRejected`` for text that cannot run."""
    value = _value(parse_condition(expression), _Scope(variables))
    return require_boolean(value)


def require_boolean(value: Any) -> bool:
    if value is None:
        raise ExpressionFailed("the condition returned null, not a boolean")
    if not isinstance(value, bool):
        raise ExpressionFailed(f"the condition returned {_describe(value)}, not a boolean (Camunda does not "
                               "coerce a condition's result)")
    return value


# ------------------------------------------------------------- task attributes

def is_expression(text: str | None) -> bool:
    return bool(text) and ("${" in text or "#{" in text)


def check_value_expression(text: str) -> None:
    """Refuse, at deploy time, attribute text the embedded engine cannot evaluate as Camunda does
    (literal text, one expression, or text with expressions in it)."""
    if is_expression(text):
        parse_template(text.strip())


def evaluate_value(text: str | None, variables: Mapping[str, Any]) -> Any:
    """The value of attribute text (``camunda:assignee``, ``dueDate``, a timer…): literal text as written,
    one expression its value (any type), text with expressions in it the text with each one's value.
    Raises ``ExpressionFailed`` when a variable is unknown or the types do not fit."""
    if text is None or not is_expression(text):
        return text
    return _render(parse_template(text.strip()), variables)


def split_names(text: str) -> list[str]:
    """A comma-separated list as Camunda splits ``candidateUsers``/``candidateGroups``: commas inside an
    expression do not split it."""
    parts, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch in "$#" and text[i + 1:i + 2] == "{":
            end = _expression_end(text, i + 2)
            current.append(text[i:end + 1])
            i = end + 1
            continue
        if ch == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current).strip())
    return parts


def evaluate_names(text: str | None, variables: Mapping[str, Any]) -> tuple[str, ...]:
    """A comma-separated list of names (``candidateGroups``/``candidateUsers``) whose items may be
    expressions; an expression may give one name, a comma-separated text or a list, as in Camunda."""
    if not text:
        return ()
    names: list[str] = []
    for part in split_names(text):
        if not part:
            continue
        value = evaluate_value(part, variables)
        if value is None:
            continue
        if isinstance(value, (list, tuple, set)):
            names.extend(to_text(v).strip() for v in value if v is not None and to_text(v).strip())
        else:
            names.extend(v.strip() for v in to_text(value).split(",") if v.strip())
    return tuple(dict.fromkeys(names))
