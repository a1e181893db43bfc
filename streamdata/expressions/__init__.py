"""Column expressions (Ray's ``ray.data.expressions``): ``col``, ``lit``, operators, math,
``cast``, the ``.str``/``.dt``/``.list``/``.struct``/``.map`` namespaces, ``udf``,
``download``, ``random``, ``uuid``, ``monotonically_increasing_id``, ``star``, ``unnest``.

A base-layer package: it imports pyarrow, numpy, fsspec (lazily, for ``download``) and
:mod:`streamdata.errors` / :mod:`streamdata.context` only.

- :mod:`.core`: the tree (:class:`Expr` and its nodes), evaluation and Arrow conversion;
- :mod:`.functions`: math, ``cast`` and namespace access on every expression;
- :mod:`.strings`, :mod:`.nested`: the namespaces;
- :mod:`.udf`, :mod:`.download`, :mod:`.generators`, :mod:`.projection`: the other node kinds;
- :mod:`.rewrite`: conjunctions and renaming (for the optimizer);
- :mod:`.tree_repr`: the box-drawn tree ``repr``/``str`` print, as Ray's (``Expr.compact()``
  is the one-line form plans, stats and error messages use);
- :mod:`.evaluation`: the per-task evaluation context and arithmetic kernels.

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"a": [1, 2, 3], "s": ["x", "yy", None]})
    >>> ((col("a") * 2).alias("b")).evaluate(t).to_pylist()
    [2, 4, 6]
    >>> col("s").str.len().evaluate(t).to_pylist()
    [1, 2, None]
"""

from __future__ import annotations

from streamdata.expressions.core import (
    AliasExpr, BinaryExpr, CallExpr, ColumnExpr, Expr, IsInExpr, LiteralExpr, Operation, UnaryExpr,
    call, col, lit,
)
from streamdata.expressions.download import DownloadExpr, download
from streamdata.expressions.evaluation import EvalContext
from streamdata.expressions.generators import (
    MonotonicallyIncreasingIdExpr, RandomExpr, UUIDExpr, monotonically_increasing_id, random, uuid,
)
from streamdata.expressions.nested import (
    _ArrayNamespace, _DatetimeNamespace, _ListNamespace, _MapNamespace, _StructNamespace,
)
from streamdata.expressions.projection import StarExpr, UnnestExpr, expand_projection, star, unnest
from streamdata.expressions.rewrite import and_all, conjuncts, rename_columns, transform
from streamdata.expressions.strings import _StringNamespace
from streamdata.expressions.udf import UDFExpr, pyarrow_udf, udf

#: Ray's ``PyArrowComputeUDFExpr``: an expression that is one Arrow compute kernel
PyArrowComputeUDFExpr = CallExpr

__all__ = [
    "AliasExpr",
    "BinaryExpr",
    "CallExpr",
    "ColumnExpr",
    "DownloadExpr",
    "EvalContext",
    "Expr",
    "IsInExpr",
    "LiteralExpr",
    "MonotonicallyIncreasingIdExpr",
    "Operation",
    "PyArrowComputeUDFExpr",
    "RandomExpr",
    "StarExpr",
    "UDFExpr",
    "UUIDExpr",
    "UnaryExpr",
    "UnnestExpr",
    "_ArrayNamespace",
    "_DatetimeNamespace",
    "_ListNamespace",
    "_MapNamespace",
    "_StringNamespace",
    "_StructNamespace",
    "and_all",
    "call",
    "col",
    "conjuncts",
    "download",
    "expand_projection",
    "lit",
    "monotonically_increasing_id",
    "pyarrow_udf",
    "random",
    "rename_columns",
    "star",
    "transform",
    "udf",
    "unnest",
    "uuid",
]
