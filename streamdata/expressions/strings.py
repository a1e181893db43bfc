"""The ``.str`` namespace: string functions on Arrow's utf8 kernels (Ray's method names).

Every method is one ``pyarrow.compute`` kernel, so string predicates stay pushable into
readers. Extra arguments are the kernel's (``ignore_case=``, ``max_splits=``...).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.expressions.core import col
    >>> t = pa.table({"name": ["Alice", "bob"]})
    >>> col("name").str.upper().evaluate(t).to_pylist()
    ['ALICE', 'BOB']
    >>> col("name").str.starts_with("a", ignore_case=True).evaluate(t).to_pylist()
    [True, False]
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

import pyarrow.compute as pc

from streamdata.expressions.core import CallExpr, Expr, LiteralExpr
from streamdata.expressions.functions import NAMESPACES


def kernel(expr: Expr, fn: str, method: str, *args: Any, **kwargs: Any) -> CallExpr:
    """``pc.<fn>(expr, *args, **kwargs)`` as an expression printed as ``.<method>(...)``.

    Raises:
        TypeError: arguments the kernel does not take (named in the message).
    """
    params = inspect.signature(getattr(pc, fn)).parameters
    try:
        bound = inspect.signature(getattr(pc, fn)).bind(None, *args, **kwargs)
    except TypeError as exc:
        raise TypeError(f".{method}() got arguments it does not take ({exc}); it takes "
                        f"{[p for p in params][1:]}") from None
    data: list[Expr] = [expr]
    options: dict[str, Any] = {}
    for i, (name, value) in enumerate(bound.arguments.items()):
        if i == 0:
            continue
        if params[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            data.append(value if isinstance(value, Expr) else LiteralExpr(value=value))
        else:
            options[name] = value
    return CallExpr(fn=fn, args=tuple(data), kwargs=tuple(sorted(options.items())), method=method)


class _StringNamespace:
    """String functions of an expression (``col("s").str``)."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Expr) -> None:
        self._expr = expr

    def _k(self, fn: str, method: str, *args: Any, **kwargs: Any) -> CallExpr:
        return kernel(self._expr, fn, f"str.{method}", *args, **kwargs)

    # ---- one kernel, no arguments
    def len(self) -> CallExpr: return self._k("utf8_length", "len")
    def byte_len(self) -> CallExpr: return self._k("binary_length", "byte_len")
    def upper(self) -> CallExpr: return self._k("utf8_upper", "upper")
    def lower(self) -> CallExpr: return self._k("utf8_lower", "lower")
    def capitalize(self) -> CallExpr: return self._k("utf8_capitalize", "capitalize")
    def title(self) -> CallExpr: return self._k("utf8_title", "title")
    def swapcase(self) -> CallExpr: return self._k("utf8_swapcase", "swapcase")
    def is_alpha(self) -> CallExpr: return self._k("utf8_is_alpha", "is_alpha")
    def is_alnum(self) -> CallExpr: return self._k("utf8_is_alnum", "is_alnum")
    def is_digit(self) -> CallExpr: return self._k("utf8_is_digit", "is_digit")
    def is_decimal(self) -> CallExpr: return self._k("utf8_is_decimal", "is_decimal")
    def is_numeric(self) -> CallExpr: return self._k("utf8_is_numeric", "is_numeric")
    def is_space(self) -> CallExpr: return self._k("utf8_is_space", "is_space")
    def is_lower(self) -> CallExpr: return self._k("utf8_is_lower", "is_lower")
    def is_upper(self) -> CallExpr: return self._k("utf8_is_upper", "is_upper")
    def is_title(self) -> CallExpr: return self._k("utf8_is_title", "is_title")
    def is_printable(self) -> CallExpr: return self._k("utf8_is_printable", "is_printable")
    def is_ascii(self) -> CallExpr: return self._k("string_is_ascii", "is_ascii")
    def reverse(self) -> CallExpr: return self._k("utf8_reverse", "reverse")

    # ---- searching
    def starts_with(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """True where the string starts with ``pattern`` (``ignore_case=``)."""
        return self._k("starts_with", "starts_with", pattern, *args, **kwargs)

    def ends_with(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """True where the string ends with ``pattern``."""
        return self._k("ends_with", "ends_with", pattern, *args, **kwargs)

    def contains(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """True where ``pattern`` (a literal substring) occurs."""
        return self._k("match_substring", "contains", pattern, *args, **kwargs)

    def match(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """True where the string matches the SQL LIKE ``pattern`` (``%`` and ``_``)."""
        return self._k("match_like", "match", pattern, *args, **kwargs)

    def match_regex(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """True where the regular expression ``pattern`` matches somewhere."""
        return self._k("match_substring_regex", "match_regex", pattern, *args, **kwargs)

    def find(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """Index of the first ``pattern``, -1 if none."""
        return self._k("find_substring", "find", pattern, *args, **kwargs)

    def find_regex(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """Index of the first match of the regular expression, -1 if none."""
        return self._k("find_substring_regex", "find_regex", pattern, *args, **kwargs)

    def count(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """Number of non-overlapping occurrences of ``pattern``."""
        return self._k("count_substring", "count", pattern, *args, **kwargs)

    def count_regex(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """Number of non-overlapping matches of the regular expression."""
        return self._k("count_substring_regex", "count_regex", pattern, *args, **kwargs)

    # ---- transforming
    def slice(self, *args: Any, **kwargs: Any) -> CallExpr:
        """Characters ``start:stop:step``."""
        return self._k("utf8_slice_codeunits", "slice", *args, **kwargs)

    def replace(self, pattern: str, replacement: str, *args: Any, **kwargs: Any) -> CallExpr:
        """``pattern`` replaced by ``replacement`` (``max_replacements=``)."""
        return self._k("replace_substring", "replace", pattern, replacement, *args, **kwargs)

    def replace_regex(self, pattern: str, replacement: str, *args: Any, **kwargs: Any) -> CallExpr:
        """Regular-expression matches replaced (``\\1`` refers to groups)."""
        return self._k("replace_substring_regex", "replace_regex", pattern, replacement, *args, **kwargs)

    def replace_slice(self, start: int, stop: int, replacement: str, *args: Any, **kwargs: Any) -> CallExpr:
        """Characters ``start:stop`` replaced by ``replacement``."""
        return self._k("utf8_replace_slice", "replace_slice", start, stop, replacement, *args, **kwargs)

    def split(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """A list of the parts between occurrences of ``pattern``."""
        return self._k("split_pattern", "split", pattern, *args, **kwargs)

    def split_regex(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """A list of the parts between regular-expression matches."""
        return self._k("split_pattern_regex", "split_regex", pattern, *args, **kwargs)

    def split_whitespace(self, *args: Any, **kwargs: Any) -> CallExpr:
        """A list of the parts between runs of whitespace."""
        return self._k("utf8_split_whitespace", "split_whitespace", *args, **kwargs)

    def extract(self, pattern: str, *args: Any, **kwargs: Any) -> CallExpr:
        """A struct of the named groups of the regular expression (null if no match)."""
        return self._k("extract_regex", "extract", pattern, *args, **kwargs)

    def repeat(self, n: int, *args: Any, **kwargs: Any) -> CallExpr:
        """The string repeated ``n`` times."""
        return self._k("binary_repeat", "repeat", n, *args, **kwargs)

    def center(self, width: int, padding: str = " ", *args: Any, **kwargs: Any) -> CallExpr:
        """Padded on both sides to ``width`` characters (longer strings stay)."""
        return self._k("utf8_center", "center", width, padding, *args, **kwargs)

    def lpad(self, width: int, padding: str = " ", *args: Any, **kwargs: Any) -> CallExpr:
        """Padded on the left to ``width`` characters."""
        return self._k("utf8_lpad", "lpad", width, padding, *args, **kwargs)

    def rpad(self, width: int, padding: str = " ", *args: Any, **kwargs: Any) -> CallExpr:
        """Padded on the right to ``width`` characters."""
        return self._k("utf8_rpad", "rpad", width, padding, *args, **kwargs)

    def pad(self, width: int, fillchar: str = " ",
            side: Literal["left", "right", "both"] = "right") -> CallExpr:
        """Padded to ``width`` with ``fillchar`` on the ``side`` given.

        Example:
            >>> import pyarrow as pa
            >>> from streamdata.expressions.core import col
            >>> col("s").str.pad(4, "*", side="left").evaluate(pa.table({"s": ["ab"]})).to_pylist()
            ['**ab']
        """
        fns = {"right": "utf8_rpad", "left": "utf8_lpad", "both": "utf8_center"}
        if side not in fns:
            raise ValueError(f"pad: side must be 'left', 'right' or 'both', got {side!r}")
        return self._k(fns[side], "pad", width=width, padding=fillchar)

    def strip(self, characters: str | None = None) -> CallExpr:
        """Whitespace (or ``characters``) removed from both ends."""
        if characters is None:
            return self._k("utf8_trim_whitespace", "strip")
        return self._k("utf8_trim", "strip", characters=characters)

    def lstrip(self, characters: str | None = None) -> CallExpr:
        """Whitespace (or ``characters``) removed from the left."""
        if characters is None:
            return self._k("utf8_ltrim_whitespace", "lstrip")
        return self._k("utf8_ltrim", "lstrip", characters=characters)

    def rstrip(self, characters: str | None = None) -> CallExpr:
        """Whitespace (or ``characters``) removed from the right."""
        if characters is None:
            return self._k("utf8_rtrim_whitespace", "rstrip")
        return self._k("utf8_rtrim", "rstrip", characters=characters)


NAMESPACES["str"] = _StringNamespace

__all__ = ["_StringNamespace", "kernel"]
