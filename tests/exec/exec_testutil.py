"""Helpers shared by the executor tests (bundles of a counting column, reading values back)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa


def make_bundles(n: int, rows: int = 100, *, start: int = 0) -> list:
    """``n`` one-block bundles of an int64 column ``a`` counting from ``start``."""
    from streamdata.core import api as rt
    from streamdata.exec.interfaces import RefBundle
    from streamdata.block_metadata import BlockMetadata

    out = []
    for i in range(n):
        t = pa.table({"a": np.arange(start + i * rows, start + (i + 1) * rows, dtype=np.int64)})
        out.append(RefBundle(blocks=((rt.put(t), BlockMetadata.of(t)),), owns_blocks=True))
    return out


def column_values(bundles: Iterable[Any], name: str = "a") -> list:
    """Every value of column ``name`` in the blocks of ``bundles``, in order."""
    from streamdata.core import api as rt

    values: list = []
    for b in bundles:
        for ref, _ in b.blocks:
            values.extend(rt.get(ref).column(name).to_pylist())
    return values
