"""The box-drawn tree form of an expression: what ``repr(expr)`` and ``str(expr)`` print, as Ray's.

Each node says what it is on its own line (``ADD``, ``COL('a')``, ``LIT(1)``, ``ALIAS('b')``,
``UDF(fn)``, ``RANDOM()``...) and its operands hang below it, one per line, named by their
role (``left``/``right``, ``operand``, ``arg[i]``, ``kwarg['k']``). Nodes describe themselves
through ``Expr._tree()``; this module only draws, so it imports no expression class.
Plans, stats and error messages use the one-line ``Expr.compact()`` instead.

Example:
    >>> from streamdata.expressions.core import col, lit
    >>> print((col("x") + lit(5)) * col("y"))
    MUL
        ├── left: ADD
        │   ├── left: COL('x')
        │   └── right: LIT(5)
        └── right: COL('y')
"""

from __future__ import annotations

from typing import Any

#: labels longer than this are cut, ending in "..."
MAX_LABEL = 50

#: the names Ray's namespace methods print as (their functions' names); others print ``UDF(udf)``
_CALL_NAMES = {"cast": "cast_udf"}


def literal_label(value: Any) -> str:
    """``LIT(<repr of value>)``, the repr cut to :data:`MAX_LABEL` characters."""
    text = repr(value)
    if len(text) > MAX_LABEL:
        text = text[:MAX_LABEL - 3] + "..."
    return f"LIT({text})"


def call_label(method: str) -> str:
    """How a kernel call (``col("s").str.upper()``, ``.abs()``...) is labelled: Ray builds
    each of them as a UDF around a function named ``udf`` (``cast_udf`` for a cast)."""
    return f"UDF({_CALL_NAMES.get(method, 'udf')})"


def render(expr: Any, prefix: str = "", last: bool = True) -> str:
    """``expr`` as a tree: its label, then each child below it after ``├──``/``└──``,
    indented under ``prefix`` (the guides of the ancestors)."""
    label, children = expr._tree()
    lines = [label]
    inner = prefix + ("    " if last else "│   ")
    for i, (edge, child) in enumerate(children):
        is_last = i == len(children) - 1
        first, *rest = render(child, inner, is_last).split("\n")
        lines.append(f"{inner}{'└── ' if is_last else '├── '}{f'{edge}: ' if edge else ''}{first}")
        lines.extend(rest)
    return "\n".join(lines)


__all__ = ["MAX_LABEL", "call_label", "literal_label", "render"]
