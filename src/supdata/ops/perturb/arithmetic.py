"""Find the arithmetic a solution states ("16 - 3 - 4 = 9") and recompute it exactly.

Only computations that are right in the text are used: they are the ones whose meaning
we understand well enough to break on purpose and to carry through later steps.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_OP = r"\s*(?:\+|-|−|\*|/|×|÷|\\cdot|\\times|(?<=\s)x(?=\s))\s*"
_OPERAND = rf"\$?(?:{_NUM})"
EQUATION = re.compile(
    rf"(?<![\w^_{{.,\\$])(?P<expr>{_OPERAND}(?:{_OP}{_OPERAND})+)"
    rf"\s*=\s*(?P<res>-?\$?(?:{_NUM}))(?![\d^_]|\.\d|,\d|\s*/\s*\d|\s*\\frac)"
)
OPERAND = re.compile(rf"\$?(?P<num>{_NUM})")
OPERATOR = re.compile(_OP)
_CANON = {"−": "-", "×": "*", "÷": "/", "\\cdot": "*", "\\times": "*", "x": "*"}


@dataclass(frozen=True)
class Computation:
    start: int  # span of "expr = res" in the step
    end: int
    expr: str
    result: str
    value: Fraction


def to_number(text: str) -> Fraction:
    return Fraction(text.replace("$", "").replace(",", ""))


def canonical(expr: str) -> str:
    """Python arithmetic for an expression written with $, commas, \\cdot, x, ..."""
    out, pos = [], 0
    for m in OPERATOR.finditer(expr):
        out.append(expr[pos : m.start()])
        out.append(_CANON.get(m.group().strip(), m.group().strip()))
        pos = m.end()
    out.append(expr[pos:])
    return "".join(out).replace("$", "").replace(",", "")


def evaluate(expr: str) -> Fraction | None:
    """Exact value of + - * / over numbers; None for anything else or division by zero."""
    try:
        tree = ast.parse(canonical(expr), mode="eval")
    except SyntaxError:
        return None

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return a / b
        raise ValueError("unsupported")

    try:
        return walk(tree)
    except (ValueError, ZeroDivisionError):
        return None


def computations(step: str) -> list[Computation]:
    """The right computations a step states, in order."""
    found = []
    for m in EQUATION.finditer(step):
        value = evaluate(m["expr"])
        if value is not None and value == to_number(m["res"]):
            found.append(Computation(m.start(), m.end(), m["expr"], m["res"], value))
    return found


def render(value: Fraction, like: str) -> str | None:
    """``value`` written like ``like`` ($, thousands commas); None unless it is exact with
    at most the decimals ``like`` has (2 at least)."""
    places = max(2, len(like.partition(".")[2]))
    if value.denominator == 1:
        text = str(abs(value.numerator))
    else:
        rounded = round(value, places)
        if rounded != value:
            return None
        text = f"{abs(float(value)):.{places}f}".rstrip("0").rstrip(".")
    if "," in like and "." not in text:
        text = f"{int(text):,}"
    return ("-" if value < 0 else "") + ("$" if "$" in like else "") + text
