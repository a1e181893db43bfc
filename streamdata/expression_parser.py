"""Expressions written as Python-syntax strings, as Ray Data accepts in
``filter(expr="...")``: parsed with :mod:`ast` (never evaluated) into
:class:`~streamdata.expressions.Expr` trees.

Supported: column names (``user.age`` names the column ``"user.age"``, as in Ray), numbers,
strings, booleans, ``None``; ``+ - * / // %``, unary ``-``; comparisons (chains too:
``0 < a < 1``); ``and``/``or``/``not``; ``x in [..]`` / ``x not in [..]``; ``x is None`` /
``x is not None``; Ray's functions ``is_null(x)``, ``is_valid(x)``/``is_not_null(x)``,
``is_nan(x)`` and ``is_in(x, [..])``.

Example:
    >>> parse_expression("a > 0.5 and s in ['x', 'y']").compact()
    "((col('a') > 0.5) & col('s').is_in(['x', 'y']))"
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Callable

from streamdata.errors import PlanError
from streamdata.expressions import Expr, col, lit

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}


def parse_expression(text: str) -> Expr:
    """Parse ``text`` into an expression; PlanError names what is not supported."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise PlanError(f"cannot parse expression {text!r}: {exc.msg}") from None
    expr = _convert(tree.body, text)
    if not isinstance(expr, Expr) or not expr.columns():
        raise PlanError(f"expression {text!r} is a constant, not an expression over columns")
    return expr


def _convert(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Name):
        return col(node.id)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e, text) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_convert(node.operand, text)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return ~_as_expr(_convert(node.operand, text))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_as_expr(_convert(node.left, text)), _convert(node.right, text))
    if isinstance(node, ast.BoolOp):
        parts = [_as_expr(_convert(v, text)) for v in node.values]
        out = parts[0]
        for part in parts[1:]:
            out = (out & part) if isinstance(node.op, ast.And) else (out | part)
        return out
    if isinstance(node, ast.Compare):
        return _compare(node, text)
    if isinstance(node, ast.Attribute):
        return col(_dotted(node, text))
    if isinstance(node, ast.Call):
        return _call(node, text)
    raise PlanError(f"unsupported syntax {ast.unparse(node)!r} in expression {text!r}; use columns, "
                    "literals, arithmetic, comparisons, and/or/not, in, is None")


def _compare(node: ast.Compare, text: str) -> Expr:
    left = _convert(node.left, text)
    terms = []
    for op, right_node in zip(node.ops, node.comparators):
        right = _convert(right_node, text)
        if type(op) in _COMPARE:
            terms.append(_COMPARE[type(op)](_as_expr(left), right))
        elif isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, list):
                raise PlanError(f"'in' needs a list of literals in expression {text!r}")
            terms.append(_as_expr(left).not_in(right) if isinstance(op, ast.NotIn) else _as_expr(left).is_in(right))
        elif isinstance(op, (ast.Is, ast.IsNot)) and right is None:
            terms.append(_as_expr(left).is_null() if isinstance(op, ast.Is) else _as_expr(left).is_not_null())
        else:
            raise PlanError(f"unsupported comparison {ast.unparse(node)!r} in expression {text!r}")
        left = right
    out = terms[0]
    for term in terms[1:]:
        out = out & term
    return out


def _dotted(node: ast.AST, text: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value, text)}.{node.attr}"
    raise PlanError(f"unsupported attribute access {ast.unparse(node)!r} in expression {text!r}")


_FUNCTIONS = {"is_null": 1, "is_valid": 1, "is_not_null": 1, "is_nan": 1, "is_in": 2}


def _call(node: ast.Call, text: str) -> Expr:
    name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
    if name not in _FUNCTIONS:
        raise PlanError(f"unsupported function {name!r} in expression {text!r}; known: "
                        f"{sorted(_FUNCTIONS)} (use the expression API for others, e.g. sd.col('x').abs())")
    if node.keywords or len(node.args) != _FUNCTIONS[name]:
        raise PlanError(f"{name}() takes {_FUNCTIONS[name]} positional argument(s) in expression {text!r}")
    arg = _as_expr(_convert(node.args[0], text))
    if name == "is_null":
        return arg.is_null()
    if name in ("is_valid", "is_not_null"):
        return arg.is_not_null()
    if name == "is_nan":
        return arg != arg  # NaN is the one value unequal to itself
    values = _convert(node.args[1], text)
    if not isinstance(values, list):
        raise PlanError(f"is_in() needs a list of literals in expression {text!r}")
    return arg.is_in(values)


def _as_expr(value: Any) -> Expr:
    return value if isinstance(value, Expr) else lit(value)


def _literal(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    raise PlanError(f"lists in expression {text!r} may hold only literals, not {ast.unparse(node)!r}")
