"""Random kernels: shuffle (map split + reduce permutation), sample, block order.

With a seed every result is reproducible: the random stream of map task ``i`` is
seeded with ``(seed, i)`` and that of reduce task ``j`` with ``(seed, j, 1)``, so the
same input blocks and the same number of partitions give the same rows in the same
order. Without a seed, fresh entropy is drawn.

Example:
    >>> import pyarrow as pa
    >>> b = pa.table({"x": list(range(10))})
    >>> parts = random_split(b, 3, seed=7, index=0)
    >>> merged = [random_merge([p], seed=7, index=i) for i, p in enumerate(parts)]
    >>> sorted(sum((m.column("x").to_pylist() for m in merged), []))
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.exec.shuffle.hashing import hash_rows, partition_by_ids
from streamdata.block import concat


def rng_for(seed: int | None, *stream: int) -> np.random.Generator:
    """A numpy generator for one task: seeded by ``(seed, *stream)``, or fresh when no seed.

    Example:
        >>> float(rng_for(1, 2).random()) == float(rng_for(1, 2).random())
        True
    """
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, *stream])


def random_split(block: pa.Table, num_parts: int, *, seed: int | None, index: int) -> list[pa.Table]:
    """Map side of a random shuffle: each row goes to a uniformly random part.

    Example:
        >>> sum(p.num_rows for p in random_split(pa.table({"x": range(9)}), 4, seed=0, index=3))
        9
    """
    if num_parts < 1:
        raise PlanError(f"num_parts must be >= 1, got {num_parts}")
    ids = rng_for(seed, index).integers(0, num_parts, block.num_rows)
    return partition_by_ids(block, ids, num_parts)


def random_merge(parts: Sequence[pa.Table], *, seed: int | None, index: int) -> pa.Table:
    """Reduce side of a random shuffle: the parts concatenated, rows randomly permuted.

    Example:
        >>> random_merge([pa.table({"x": [1, 2]}), pa.table({"x": [3]})], seed=1, index=0).num_rows
        3
    """
    table = concat([p for p in parts if p.num_rows]) if any(p.num_rows for p in parts) else \
        (parts[0] if parts else pa.table({}))
    if table.num_rows <= 1:
        return table
    perm = rng_for(seed, index, 1).permutation(table.num_rows)
    return table.take(pa.array(perm))


def random_sample(block: pa.Table, fraction: float, *, seed: int | None, index: int) -> pa.Table:
    """Each row kept with probability ``fraction`` (order kept).

    Example:
        >>> random_sample(pa.table({"x": range(1000)}), 0.0, seed=1, index=0).num_rows
        0
    """
    if not 0.0 <= fraction <= 1.0:
        raise PlanError(f"random_sample fraction must be in [0, 1], got {fraction!r}")
    if fraction >= 1.0:
        return block
    keep = rng_for(seed, index, 2).random(block.num_rows) < fraction
    return block.filter(pa.array(keep))


def block_fingerprint(block: pa.Table, probe_rows: int = 16) -> int:
    """A number that identifies a block by its content (its first and last rows and its
    length), the same in every process; a seeded shuffle orders its input blocks by it
    so the result does not depend on the order they arrived in.

    Example:
        >>> t = pa.table({"x": range(100)})
        >>> block_fingerprint(t) == block_fingerprint(t.slice(0)), block_fingerprint(t) == block_fingerprint(t.slice(1))
        (True, False)
    """
    n = block.num_rows
    if not block.num_columns:
        return n
    probe = block.slice(0, probe_rows) if n <= 2 * probe_rows else \
        pa.concat_tables([block.slice(0, probe_rows), block.slice(n - probe_rows)])
    h = hash_rows(probe, block.column_names)
    mixed = np.bitwise_xor.reduce(h * (np.arange(len(h), dtype=np.uint64) + np.uint64(1))) if len(h) else 0
    return int(np.uint64(mixed) ^ np.uint64(n))


def random_order(n: int, *, seed: int | None) -> list[int]:
    """A random permutation of ``range(n)`` (for ``randomize_block_order``).

    Example:
        >>> sorted(random_order(5, seed=3))
        [0, 1, 2, 3, 4]
    """
    return [int(i) for i in rng_for(seed, 3).permutation(n)]


__all__ = ["block_fingerprint", "random_merge", "random_order", "random_sample", "random_split", "rng_for"]
