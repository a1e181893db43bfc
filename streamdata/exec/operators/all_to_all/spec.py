"""What each all-to-all operation does inside its tasks (pure, picklable specs).

An :class:`ShuffleSpec` tells the generic all-to-all operator
(:mod:`streamdata.exec.operators.all_to_all`) how to

* ``prepare`` one input block as it arrives (partial aggregation), and ``sample``
  its keys when partitions are key ranges,
* ``partition`` a (prepared) block into ``n`` parts on the map side,
* ``reduce`` part ``i`` of every map output into output block ``i``.

Every method is a pure function of Arrow tables, so the specs are unit-tested
without processes; the operator only moves ObjectRefs.

Example:
    >>> import pyarrow as pa
    >>> spec = SortSpec(keys=(("x", "descending"),))
    >>> parts = spec.partition(pa.table({"x": [1, 3, 2]}), side=0, n=1, index=0, boundaries=None)
    >>> spec.reduce([parts], index=0).column("x").to_pylist()
    [3, 2, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from streamdata.aggregation.builtins import is_builtin
from streamdata.exec.shuffle import groupby as G, run_split as R, sort as S
from streamdata.exec.shuffle.hashing import hash_partition
from streamdata.exec.shuffle.join import join_output_names, join_tables
from streamdata.exec.shuffle.map_groups import apply_map_groups
from streamdata.exec.shuffle.random_ops import random_merge, random_split
from streamdata.exec.shuffle.repartition import concat_parts, split_even
from streamdata.block import concat
from streamdata.exec.shuffle.grouping import check_columns

#: rows sampled per block for range boundaries
SAMPLES_PER_BLOCK = 64


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    nonempty = [t for t in tables if t.num_rows]
    if not nonempty:
        return tables[0] if tables else pa.table({})
    return nonempty[0] if len(nonempty) == 1 else concat(nonempty)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShuffleSpec:
    """Base: a random-free, key-free shuffle that keeps rows as they are."""

    #: number of inputs (2 for a join)
    num_inputs: int = field(default=1, init=False)
    #: whether blocks are transformed as they arrive (e.g. partial aggregation)
    has_prepare: bool = field(default=False, init=False)
    #: whether partitions are key ranges (keys are sampled before partitioning)
    needs_sample: bool = field(default=False, init=False)
    #: whether the whole result must come from a single reduce task
    single_partition: bool = field(default=False, init=False)
    #: whether a reduce output may be cut into several blocks (False: one block per partition)
    split_output: bool = field(default=True, init=False)
    #: whether input blocks are put in a content-defined order first (a seeded shuffle's
    #: result must not depend on the order blocks arrived in)
    canonical_order: bool = field(default=False, init=False)
    #: whether a small input may run as one task whatever the partition count asked
    #: (Arrow-native work whose partitions are only a sizing knob: sort, join, aggregate)
    small_as_one_task: bool = field(default=False, init=False)
    #: whether the reduce runs no user code, so a small one may run on the driver
    #: (:func:`~streamdata.exec.operators.all_to_all.policy.reduce_on_driver`)
    reduce_runs_no_user_code: bool = field(default=False, init=False)

    def validate(self, schema: pa.Schema, side: int) -> None:
        """Raise (ColumnNotFoundError, SchemaError...) when input ``side`` cannot work."""

    def can_split_runs(self, schema: pa.Schema) -> bool:
        """Whether the reduce may be split into partitions that each get every input
        block and cut their own range out of it (no sample or map round trip):
        :meth:`with_split_runs` then gives the spec those reduce tasks run."""
        return False

    def with_split_runs(self, n: int) -> "ShuffleSpec":
        """This spec, its reduce ``index`` taking its range out of every input block (one
        of ``n``); only where :meth:`can_split_runs` said so."""
        raise NotImplementedError(f"{type(self).__name__} cannot split its reduce over shared inputs")

    def prepare(self, table: pa.Table) -> pa.Table:
        """Transform one arriving block (default: unchanged)."""
        return table

    def sample(self, table: pa.Table, seed: int) -> pa.Table | None:
        """Key samples of a (prepared) block, or None without range partitioning."""
        return None

    def boundaries(self, samples: Sequence[pa.Table], n: int) -> pa.Table | None:
        """Range boundaries for ``n`` partitions from every block's samples."""
        return None

    def partition(self, table: pa.Table, *, side: int, n: int, index: int,
                  boundaries: pa.Table | None) -> list[pa.Table]:
        """Map side: ``table`` (map task ``index``, input ``side``) cut into ``n`` parts."""
        return split_even(table, n)

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        """Reduce side: output block ``index`` from part ``index`` of every map output."""
        return concat_parts(sides[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class RepartitionShuffleSpec(ShuffleSpec):
    """``repartition(n, shuffle=True)``: every block cut into ``n`` even pieces; output ``i``
    gathers piece ``i`` of every block."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HashRepartitionSpec(ShuffleSpec):
    """``repartition(n, keys=[...])``: rows with equal keys land in the same one of ``n``
    blocks (by a hash of the keys); ``sort`` sorts each block by the keys."""

    keys: tuple[str, ...]
    sort: bool = False

    def validate(self, schema: pa.Schema, side: int) -> None:
        from streamdata.errors import ColumnNotFoundError
        for key in self.keys:
            if key not in schema.names:
                raise ColumnNotFoundError(key, schema.names)

    def partition(self, table: pa.Table, *, side: int, n: int, index: int,
                  boundaries: pa.Table | None) -> list[pa.Table]:
        return hash_partition(table, list(self.keys), n)

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        out = concat_parts(sides[0])
        if self.sort and out.num_rows:
            out = S.sort_table(out, [(k, "ascending") for k in self.keys])
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SortSpec(ShuffleSpec):
    """``sort(keys, descending)``: range partitions by sampled boundaries, stable merge."""

    keys: tuple[tuple[str, str], ...]
    #: the user's range boundaries of the first key (``sort(boundaries=[...])``)
    fixed_boundaries: tuple[Any, ...] | None = None
    #: whether every input block comes sorted by ``keys`` (the producing tasks ran
    #: :class:`~streamdata.exec.operators.sort_runs.SortRunsStage`): the reduce merges runs
    presorted: bool = False
    #: with ``presorted``: each reduce gets every run and merges key range ``index`` of
    #: ``split_runs`` (:func:`~streamdata.exec.shuffle.run_split.run_slices`); 1: it
    #: merges what it gets
    split_runs: int = 1
    needs_sample: bool = field(default=True, init=False)

    def __post_init__(self) -> None:  # the user's boundaries fix the output blocks
        object.__setattr__(self, "small_as_one_task", self.fixed_boundaries is None)

    def validate(self, schema: pa.Schema, side: int) -> None:
        S.check_sortable(schema, list(self.keys))

    def can_split_runs(self, schema: pa.Schema) -> bool:
        return self.presorted and self.fixed_boundaries is None and R.can_split_runs(schema, self.keys)

    def with_split_runs(self, n: int) -> "SortSpec":
        if not self.presorted:
            raise NotImplementedError("only a sort over sorted runs can split its reduce over shared inputs")
        return replace(self, split_runs=n)

    def sample(self, table: pa.Table, seed: int) -> pa.Table | None:
        return S.sample_keys(table, list(self.keys), SAMPLES_PER_BLOCK, seed=seed)

    def boundaries(self, samples: Sequence[pa.Table], n: int) -> pa.Table | None:
        if self.fixed_boundaries is not None:
            key = self.keys[0][0]
            typ = next((s.schema.field(key).type for s in samples if key in s.schema.names), None)
            return pa.table({key: pa.array(list(self.fixed_boundaries), type=typ)})
        return S.compute_boundaries(samples, list(self.keys), n)

    def partition(self, table: pa.Table, *, side: int, n: int, index: int,
                  boundaries: pa.Table | None) -> list[pa.Table]:
        if n == 1 or boundaries is None:
            return [S.sort_table(table, list(self.keys))]
        return S.range_partition(table, list(self.keys), boundaries)

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        if self.presorted:  # range parts of sorted blocks are sorted runs
            parts = sides[0]
            if self.split_runs > 1:  # every run came: merge this partition's range of each
                parts = R.run_slices(parts, self.keys, index, self.split_runs)
            return S.merge_sorted_runs(parts, list(self.keys))
        return S.merge_sorted(sides[0], list(self.keys))


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomShuffleSpec(ShuffleSpec):
    """``random_shuffle(seed)``: rows to random partitions, then permuted in each.

    ``seed`` is always set here: the operator draws one when the user gave none, so a
    retried task repeats exactly what the first attempt did. With ``seeded`` (the user
    gave the seed) blocks are taken in a content-defined order, so the same data and
    seed give the same rows in the same order whatever order the blocks arrived in.
    """

    seed: int
    seeded: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "canonical_order", self.seeded)

    def partition(self, table: pa.Table, *, side: int, n: int, index: int,
                  boundaries: pa.Table | None) -> list[pa.Table]:
        return random_split(table, n, seed=self.seed, index=index)

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        return random_merge(sides[0], seed=self.seed, index=index)


class KeyRangeSpec(ShuffleSpec):
    """A spec whose rows meet by group key: blocks are range partitioned on the keys
    (ascending), so every key lands in exactly one reduce task and the output comes
    sorted by key. Subclasses are dataclasses with a ``keys`` field."""

    __slots__ = ()
    keys: tuple[str, ...]

    def _sort_keys(self) -> list[tuple[str, str]]:
        return [(k, "ascending") for k in self.keys]

    def validate(self, schema: pa.Schema, side: int) -> None:
        if self.keys:
            S.check_sortable(schema, self._sort_keys())

    def sample(self, table: pa.Table, seed: int) -> pa.Table | None:
        if not self.keys:
            return None
        return S.sample_keys(table, self._sort_keys(), SAMPLES_PER_BLOCK, seed=seed)

    def boundaries(self, samples: Sequence[pa.Table], n: int) -> pa.Table | None:
        return S.compute_boundaries(samples, self._sort_keys(), n) if self.keys else None

    def partition(self, table: pa.Table, *, side: int, n: int, index: int,
                  boundaries: pa.Table | None) -> list[pa.Table]:
        if n == 1 or boundaries is None:
            return [table]
        return S.range_partition(table, self._sort_keys(), boundaries)


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregateSpec(KeyRangeSpec):
    """``groupby(keys).aggregate(*aggs)`` / ``aggregate(*aggs)`` / distinct keys.

    Each block is reduced to its partial aggregates as it arrives; partials are range
    partitioned by key, so the output comes sorted by key (as Ray's). With ``prepared``
    the inputs already are partials (the producing tasks ran
    :class:`~streamdata.exec.operators.partial_aggregate.PartialAggregateStage`), so
    there is no prepare step and only the keys are checked here.
    """

    keys: tuple[str, ...]
    aggs: tuple[Any, ...]
    prepared: bool = False
    has_prepare: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs_sample", bool(self.keys))
        object.__setattr__(self, "single_partition", not self.keys)
        object.__setattr__(self, "has_prepare", not self.prepared)
        object.__setattr__(self, "small_as_one_task", True)
        object.__setattr__(self, "reduce_runs_no_user_code", all(is_builtin(a) for a in self.aggs))

    def validate(self, schema: pa.Schema, side: int) -> None:
        if not self.prepared:
            G.validate_aggregation(schema, self.keys, self.aggs)
        KeyRangeSpec.validate(self, schema, side)

    def prepare(self, table: pa.Table) -> pa.Table:
        return G.partial_aggregate(table, self.keys, self.aggs)

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        parts = [p for p in sides[0] if p.num_columns]
        merged = G.merge_partials(parts, self.keys, self.aggs)
        if self.keys and merged.num_columns == 0:
            return pa.table({})
        return G.finalize_aggregate(merged, self.keys, self.aggs)


@dataclass(frozen=True, slots=True, kw_only=True)
class MapGroupsSpec(KeyRangeSpec):
    """``groupby(keys).map_groups(fn)``: whole groups meet in one reduce task, which calls
    ``fn`` once per group in key order (a callable class is built once per task).

    With ``apply_fn=False`` the reduce only sorts its partition by key and keeps it one
    block, so a following actor-pool map (:class:`MapGroupsStage`) sees whole groups.
    """

    keys: tuple[str, ...]
    fn: Callable[..., Any] | type | None = None
    apply_fn: bool = True
    batch_format: str = "default"
    fn_args: tuple = ()
    fn_kwargs: tuple[tuple[str, Any], ...] = ()
    fn_constructor_args: tuple = ()
    fn_constructor_kwargs: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs_sample", bool(self.keys))
        object.__setattr__(self, "single_partition", not self.keys)
        object.__setattr__(self, "split_output", self.apply_fn)

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        if not self.apply_fn:
            table = _concat(sides[0])
            return S.sort_table(table, self._sort_keys()) if self.keys else table
        fn = self.fn
        if isinstance(fn, type):
            fn = fn(*self.fn_constructor_args, **dict(self.fn_constructor_kwargs))
        return apply_map_groups(_concat(sides[0]), self.keys, fn, self.batch_format,
                                self.fn_args, dict(self.fn_kwargs))


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinSpec(ShuffleSpec):
    """``join(other, on, right_on, join_type, suffixes)``: both sides hash-partitioned on
    their keys; reduce ``i`` joins part ``i`` of the left with part ``i`` of the right.

    ``schemas`` (left, right) are filled in by the operator before reducing, so a
    partition with no rows of one side still knows that side's columns.
    """

    left_keys: tuple[str, ...]
    right_keys: tuple[str, ...]
    join_type: str = "inner"
    left_suffix: str | None = None
    right_suffix: str | None = None
    schemas: tuple[pa.Schema | None, pa.Schema | None] = (None, None)
    #: ``(keys, aggs)`` of an aggregation consuming the join: each reduce returns the
    #: partial aggregates of its joined rows instead of the rows (fused by the lowering)
    partial_aggregate: tuple[tuple[str, ...], tuple[Any, ...]] | None = None
    #: the joined columns the reduce builds (None: all); the lowering sets it to what a
    #: fused partial aggregation reads, so the reduce gathers no other columns
    output_columns: tuple[str, ...] | None = None
    num_inputs: int = field(default=2, init=False)
    small_as_one_task: bool = field(default=True, init=False)

    def validate(self, schema: pa.Schema, side: int) -> None:
        check_columns(schema, self.left_keys if side == 0 else self.right_keys)

    def validate_both(self, left: pa.Schema, right: pa.Schema) -> None:
        """Raise for key or column-name problems once both schemas are known."""
        join_output_names(left, right, self.left_keys, self.right_keys, self.join_type,
                          self.left_suffix, self.right_suffix)

    def partition(self, table: pa.Table, *, side: int, n: int, index: int,
                  boundaries: pa.Table | None) -> list[pa.Table]:
        keys = self.left_keys if side == 0 else self.right_keys
        if n == 1:
            return [table]
        return hash_partition(table, keys, n)

    def _side(self, parts: list[pa.Table], side: int) -> pa.Table:
        if parts:
            return _concat(parts)
        schema = self.schemas[side]
        if schema is None:  # that side never produced even an empty block: keys only
            other = self.schemas[1 - side]
            mine = self.left_keys if side == 0 else self.right_keys
            theirs = self.right_keys if side == 0 else self.left_keys
            types = [other.field(k).type if other is not None else pa.null() for k in theirs]
            schema = pa.schema([(k, t) for k, t in zip(mine, types)])
        return schema.empty_table()

    def reduce(self, sides: list[list[pa.Table]], *, index: int) -> pa.Table:
        left = self._side(sides[0], 0)
        right = self._side(sides[1], 1)
        out = join_tables(left, right, self.left_keys, self.right_keys, self.join_type,
                          left_suffix=self.left_suffix, right_suffix=self.right_suffix,
                          columns=self.output_columns)
        if self.partial_aggregate is None:
            return out
        keys, aggs = self.partial_aggregate
        return G.partial_aggregate(out, keys, aggs)


__all__ = [
    "SAMPLES_PER_BLOCK",
    "AggregateSpec",
    "JoinSpec",
    "MapGroupsSpec",
    "RandomShuffleSpec",
    "RepartitionShuffleSpec",
    "ShuffleSpec",
    "SortSpec",
]
