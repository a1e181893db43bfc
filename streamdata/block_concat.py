"""Concatenating blocks whose schemas may differ, and unifying their schemas.

Blocks of one schema (the common case) are concatenated by Arrow as they are, with no
other work. When schemas differ, Arrow promotes the types it knows (null to anything,
int32 to int64 with ``"permissive"``); tensor columns it cannot merge, fixed-shape
tensors of different shapes or fixed beside variable shape, become variable-shape tensors
first, as Ray unifies them (:func:`streamdata.tensor.unify_tensor_types`). That work is
done only after Arrow refused the tables, so it costs nothing on the common path.

Example:
    >>> import numpy as np
    >>> from streamdata.tensor import ndarray_to_arrow
    >>> a = pa.table({"x": ndarray_to_arrow(np.zeros((2, 2, 2), np.uint8))})
    >>> b = pa.table({"x": ndarray_to_arrow(np.ones((1, 3, 1), np.uint8))})
    >>> t = concat([a, b])
    >>> str(t.schema.field("x").type), t.num_rows
    ('variable_shape_tensor<uint8, ndim=2>', 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from streamdata.kept_dictionary import decode_kept, has_kept
from streamdata.tensor import tensor_type_overrides, unify_tensor_columns

_MERGE_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError)


def concat(tables: list[pa.Table]) -> pa.Table:
    """Tables concatenated in order (missing columns null-filled; types promoted if needed;
    tensor columns of different shapes as variable-shape tensors).

    Example:
        >>> concat([pa.table({"a": [1]}), pa.table({"a": [2], "b": ["x"]})]).to_pydict()
        {'a': [1, 2], 'b': [None, 'x']}
    """
    tables = [t for t in tables if t.num_columns or t.num_rows]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        return pa.concat_tables(tables)
    if any(has_kept(t.schema) for t in tables):  # kept beside expanded: all as their own type
        return concat([decode_kept(t) for t in tables])
    try:
        return pa.concat_tables(tables, promote_options="default")
    except _MERGE_ERRORS:
        return concat_tables(tables, promote_options="permissive")


def concat_tables(tables: Sequence[pa.Table], *, promote_options: str = "default") -> pa.Table:
    """``pyarrow.concat_tables(tables, promote_options=...)``; when Arrow cannot merge the
    schemas and tensor columns differ in shape, again with those columns as variable-shape.

    Raises:
        pyarrow.ArrowInvalid, pyarrow.ArrowTypeError: Arrow's error when the schemas still
            cannot be merged (tensor element types that differ among them).
    """
    try:
        return pa.concat_tables(tables, promote_options=promote_options)
    except _MERGE_ERRORS:
        unified = unify_tensor_columns(tables)
        if unified is None:
            raise
    return pa.concat_tables(unified, promote_options=promote_options)


def unify_schemas(schemas: Sequence[pa.Schema], *, promote_options: str = "default") -> pa.Schema:
    """``pyarrow.unify_schemas``, with tensor columns of different shapes unified to
    variable-shape (as :func:`concat` merges their blocks).

    Example:
        >>> s1 = pa.schema([("x", pa.fixed_shape_tensor(pa.uint8(), [2]))])
        >>> s2 = pa.schema([("x", pa.fixed_shape_tensor(pa.uint8(), [3]))])
        >>> unify_schemas([s1, s2])
        x: extension<streamdata.variable_shape_tensor<VariableShapeTensorType>>
    """
    try:
        return pa.unify_schemas(list(schemas), promote_options=promote_options)
    except _MERGE_ERRORS:
        overrides = tensor_type_overrides(schemas)
        if not overrides:
            raise
    rewritten = [pa.schema([f.with_type(overrides[f.name]) if f.name in overrides else f for f in s],
                           metadata=s.metadata) for s in schemas]
    return pa.unify_schemas(rewritten, promote_options=promote_options)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` with no rows (one empty chunk a column). Unlike
    ``Schema.empty_table()``, it takes fixed-shape tensor types with a permutation (the ones
    numpy arrays make), building their empty columns from empty storage.

    Example:
        >>> import numpy as np
        >>> from streamdata.tensor import ndarray_to_arrow
        >>> schema = pa.table({"x": ndarray_to_arrow(np.zeros((1, 2, 2)))}).schema
        >>> t = empty_table(schema)
        >>> t.num_rows, t.schema == schema, t.column("x").num_chunks
        (0, True, 1)
    """
    try:
        return schema.empty_table()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        columns = [pa.ExtensionArray.from_storage(f.type, pa.array([], type=f.type.storage_type))
                   if isinstance(f.type, pa.BaseExtensionType) else pa.array([], type=f.type) for f in schema]
        return pa.Table.from_arrays(columns, schema=schema)


__all__ = ["concat", "concat_tables", "empty_table", "unify_schemas"]
