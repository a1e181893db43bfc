"""User-defined functions inside expressions: :func:`udf` and :func:`pyarrow_udf`.

A UDF runs on whole columns: each expression argument arrives as a ``pyarrow.ChunkedArray``,
a column of the block as Ray passes it (literal arguments as their Python value) and the function returns one value per row
(a pyarrow array, a numpy array, a pandas Series or a list), converted to the declared
``return_dtype``. A decorated callable class is constructed lazily, once per process,
with the arguments given to it on the driver; an ``async`` function or ``__call__`` is awaited.

Example:
    >>> import pyarrow as pa, pyarrow.compute as pc
    >>> from streamdata.expressions.core import col
    >>> @udf(return_dtype=pa.int64())
    ... def add_one(x):
    ...     return pc.add(x, 1)
    >>> (add_one(col("v")) * 2).evaluate(pa.table({"v": [1, 2]})).to_pylist()
    [4, 6]
"""

from __future__ import annotations

import functools
import inspect
import uuid as _uuid
from dataclasses import dataclass
from typing import Any, Callable

import pyarrow as pa

from streamdata.errors import UDFReturnError
from streamdata.expressions.core import ArrowValue, EvalContext, Expr, LiteralExpr, arrow_type

#: instances of decorated callable classes, per process, by the id of their spec
_INSTANCES: dict[str, Any] = {}


class _CallableClassUDF:
    """A callable class with its constructor arguments, built on first call in each process."""

    def __init__(self, cls: type, args: tuple, kwargs: dict) -> None:
        self.cls, self.args, self.kwargs = cls, args, kwargs
        self.spec_id = _uuid.uuid4().hex

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        inst = _INSTANCES.get(self.spec_id)
        if inst is None:
            inst = _INSTANCES[self.spec_id] = self.cls(*self.args, **self.kwargs)
        return inst(*args, **kwargs)

    @property
    def __name__(self) -> str:  # noqa: A003 - how the UDF prints
        return self.cls.__name__


def _fn_name(fn: Any) -> str:
    return getattr(fn, "__name__", None) or type(fn).__name__


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UDFExpr(Expr):
    """A call of a user's vectorized function (see :func:`udf`)."""

    fn: Callable[..., Any]
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    data_type: pa.DataType | None = None

    _arrow = False

    def __post_init__(self) -> None:  # Ray's spelling: a list and a dict
        if not isinstance(self.args, tuple):
            object.__setattr__(self, "args", tuple(self.args))
        if isinstance(self.kwargs, dict):
            object.__setattr__(self, "kwargs", tuple(sorted(self.kwargs.items())))
        if self.data_type is not None and not isinstance(self.data_type, pa.DataType):
            object.__setattr__(self, "data_type", arrow_type(self.data_type, "UDFExpr(data_type=...)"))

    def children(self) -> tuple[Expr, ...]:
        return self.args + tuple(v for _, v in self.kwargs)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        n = len(self.args)
        kwargs = tuple((k, c) for (k, _), c in zip(self.kwargs, children[n:]))
        return UDFExpr(fn=self.fn, args=tuple(children[:n]), kwargs=kwargs, data_type=self.data_type)

    def key(self) -> tuple:
        fn = self.fn.spec_id if isinstance(self.fn, _CallableClassUDF) else id(self.fn)
        return ("udf", fn, tuple(a.key() for a in self.args), tuple((k, v.key()) for k, v in self.kwargs))

    @property
    def return_dtype(self) -> pa.DataType | None:
        """The declared result type."""
        return self.data_type

    def get_type(self, input_schema: pa.Schema) -> pa.DataType | None:
        return self.data_type

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        def value(e: Expr) -> Any:
            if isinstance(e, LiteralExpr):
                return e.value
            out = e._eval(table, ctx)
            if isinstance(out, pa.Scalar):
                out = pa.repeat(out, table.num_rows)
            return out if isinstance(out, pa.ChunkedArray) else pa.chunked_array([out], type=out.type)

        result = self.fn(*[value(a) for a in self.args], **{k: value(v) for k, v in self.kwargs})
        if inspect.isawaitable(result):  # an async function or async __call__
            result = _run_coroutine(result)
        return _to_column(result, table.num_rows, self.data_type, _fn_name(self.fn))

    def compact(self) -> str:
        parts = [a.compact() for a in self.args] + [f"{k}={v.compact()}" for k, v in self.kwargs]
        return f"{_fn_name(self.fn)}({', '.join(parts)})"

    def _tree(self) -> tuple[str, tuple]:
        ray_name = getattr(self.fn, "ray_udf_name", None)  # a namespace method's (see .nested)
        if ray_name is not None:
            return f"UDF({ray_name})", (("arg[0]", self.args[0]),)
        return f"UDF({_fn_name(self.fn)})", tuple(
            [(f"arg[{i}]", a) for i, a in enumerate(self.args)] + [(f"kwarg[{k!r}]", v) for k, v in self.kwargs])


def _run_coroutine(awaitable: Any) -> Any:
    import asyncio  # here, not at import: only an async UDF needs it
    from concurrent.futures import ThreadPoolExecutor

    async def wait() -> Any:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with ThreadPoolExecutor(1) as pool:  # called from inside an event loop: run it on another thread
        return pool.submit(asyncio.run, wait()).result()


def _to_column(result: Any, num_rows: int, dtype: pa.DataType | None, name: str) -> pa.Array | pa.ChunkedArray:
    """The UDF's result as an Arrow column of ``dtype`` with ``num_rows`` values."""
    if isinstance(result, (pa.Array, pa.ChunkedArray)):
        out = result
    else:
        if type(result).__module__.startswith("pandas"):
            result = result.to_numpy()  # a pandas Series
        try:
            out = pa.array(result, type=dtype) if dtype is not None else pa.array(result)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise UDFReturnError(f"expression UDF {name} returned {type(result).__name__} that is not "
                                 f"a column of {dtype or 'values'}: {exc}") from exc
    if len(out) != num_rows:
        raise UDFReturnError(f"expression UDF {name} returned {len(out)} values for a block of "
                             f"{num_rows} rows; it must return one value per row")
    if dtype is not None and out.type != dtype:
        try:
            out = out.cast(dtype)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise UDFReturnError(f"expression UDF {name} returned {out.type}, which does not "
                                 f"convert to its return_dtype {dtype}: {exc}") from exc
    return out


def _builder(fn: Callable[..., Any], dtype: pa.DataType | None) -> Callable[..., UDFExpr]:
    def build(*args: Any, **kwargs: Any) -> UDFExpr:
        return UDFExpr(fn=fn, args=tuple(a if isinstance(a, Expr) else LiteralExpr(value=a) for a in args),
                       kwargs=tuple((k, v if isinstance(v, Expr) else LiteralExpr(value=v))
                                    for k, v in sorted(kwargs.items())),
                       data_type=dtype)

    if not isinstance(fn, _CallableClassUDF):
        functools.update_wrapper(build, fn)
    build._original_fn = fn  # type: ignore[attr-defined]
    return build


def udf(return_dtype: Any) -> Callable[[Any], Any]:
    """Decorator: a vectorized function (or callable class) usable in expressions.

    Calling the decorated function with expressions builds a :class:`UDFExpr`; each
    column argument reaches the function as a ``pyarrow.Array`` of a whole block.

    Args:
        return_dtype: the result type (a ``pyarrow.DataType`` or a DataType with
            ``to_arrow_dtype()``); results are converted to it.

    Example:
        >>> import pyarrow as pa, pyarrow.compute as pc
        >>> from streamdata.expressions.core import col
        >>> @udf(return_dtype=pa.int64())
        ... class AddOffset:
        ...     def __init__(self, offset):
        ...         self.offset = offset
        ...     def __call__(self, x):
        ...         return pc.add(x, self.offset)
        >>> AddOffset(5)(col("v")).evaluate(pa.table({"v": [1]})).to_pylist()
        [6]
    """
    dtype = None if return_dtype is None else arrow_type(return_dtype, "udf(return_dtype=...)")

    def decorate(fn_or_class: Any) -> Any:
        if isinstance(fn_or_class, type):
            cls = fn_or_class

            class ExpressionCallableClass:
                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    self._udf = _CallableClassUDF(cls, args, kwargs)

                def __call__(self, *args: Any, **kwargs: Any) -> UDFExpr:
                    return _builder(self._udf, dtype)(*args, **kwargs)

            ExpressionCallableClass.__name__ = cls.__name__
            ExpressionCallableClass.__qualname__ = cls.__qualname__
            ExpressionCallableClass.__module__ = cls.__module__
            ExpressionCallableClass.__doc__ = cls.__doc__
            return ExpressionCallableClass
        if not callable(fn_or_class):
            raise TypeError(f"udf() decorates a function or a callable class, got {fn_or_class!r}")
        return _builder(fn_or_class, dtype)

    return decorate


def pyarrow_udf(return_dtype: Any) -> Callable[[Callable[..., Any]], Callable[..., UDFExpr]]:
    """Decorator for a function written with pyarrow compute (its arguments are always
    ``pyarrow.Array``s here, as blocks are Arrow tables); otherwise as :func:`udf`.

    Example:
        >>> import pyarrow as pa, pyarrow.compute as pc
        >>> from streamdata.expressions.core import col
        >>> @pyarrow_udf(return_dtype=pa.string())
        ... def shout(s):
        ...     return pc.utf8_upper(s)
        >>> shout(col("s")).evaluate(pa.table({"s": ["hi"]})).to_pylist()
        ['HI']
    """
    return udf(return_dtype)


__all__ = ["UDFExpr", "pyarrow_udf", "udf"]
