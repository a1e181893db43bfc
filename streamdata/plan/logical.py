"""The logical plan: immutable, typed nodes, one per Dataset operation.

Every Dataset method adds one node. Nodes are frozen dataclasses with an
``inputs`` tuple (no parent pointers); invariants are checked at construction
and raise :class:`~streamdata.errors.PlanError` naming the valid alternatives.
Nodes compare by identity (``eq=False``): they may carry user functions,
expressions and datasources, whose equality means nothing structural. Rules
rebuild plans with :meth:`LogicalPlan.transform_up`, which reuses unchanged
subtrees (so "nothing changed" is ``new.root is old.root``).

This module defines :class:`LogicalPlan` and re-exports every node, so
``from streamdata.plan.logical import X`` is the one import path. The nodes live in:

- :mod:`streamdata.plan.nodes_base`: :class:`LogicalNode`, the compute strategies,
  :class:`FrozenDict` and the field checks shared by every node;
- :mod:`streamdata.plan.io_nodes`: :class:`Read`, :class:`InputData`, :class:`Write`;
- :mod:`streamdata.plan.map_nodes`: the block-by-block maps, :class:`AbstractMap` to
  :class:`FusedMap`;
- :mod:`streamdata.plan.streaming_nodes`: :class:`Limit`, :class:`Union`, :class:`Zip`,
  :class:`StreamingSplit`;
- :mod:`streamdata.plan.all_to_all_nodes`: sorts, shuffles, repartitions, aggregations,
  :class:`MapGroups` and :class:`Join`.

Example:
    >>> from streamdata.io.datasource import Datasource
    >>> class Src(Datasource):
    ...     name = "ReadSrc"
    ...     def get_read_tasks(self, parallelism):
    ...         return []
    >>> read = Read(datasource=Src())
    >>> plan = LogicalPlan(Limit(inputs=(MapBatches(inputs=(read,), fn=len),), limit=5))
    >>> print(plan.explain())
    Limit(5)
    +- MapBatches(len)
       +- ReadSrc
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.plan.all_to_all_nodes import (
    JOIN_TYPES,
    Aggregate,
    Join,
    MapGroups,
    RandomizeBlockOrder,
    RandomShuffle,
    Repartition,
    Sort,
)
from streamdata.plan.io_nodes import InputData, Read, Write
from streamdata.plan.map_nodes import (
    AbstractMap,
    AbstractUDFMap,
    Filter,
    FlatMap,
    FusedMap,
    MapBatches,
    MapRows,
    Project,
    RandomSample,
    WithColumn,
)
from streamdata.plan.nodes_base import (
    BATCH_FORMATS,
    ActorPoolStrategy,
    ComputeStrategy,
    FrozenDict,
    LogicalNode,
    TaskPoolStrategy,
    fn_name,
    is_callable_class,
)
from streamdata.plan.streaming_nodes import Limit, Mix, StreamingSplit, Union, Zip


def rebuild_up(root: LogicalNode,
               fn: Callable[[LogicalNode, LogicalNode], LogicalNode]) -> LogicalNode:
    """The tree under ``root`` rebuilt bottom-up: each node's inputs first, then
    ``fn(node, node_in)``, where ``node_in`` is ``node`` over its rebuilt inputs (``node``
    itself when none changed). A node shared by several consumers is visited once.

    Example:
        >>> leaf = InputData()
        >>> rebuild_up(Limit(inputs=(leaf,), limit=2), lambda n, n_in: n_in).inputs[0] is leaf
        True
    """
    memo: dict[int, LogicalNode] = {}

    def visit(node: LogicalNode) -> LogicalNode:
        done = memo.get(id(node))
        if done is not None:
            return done
        new_inputs = tuple(visit(i) for i in node.inputs)
        if any(a is not b for a, b in zip(new_inputs, node.inputs)):
            node_in = node.with_inputs(*new_inputs)
        else:
            node_in = node
        out = fn(node, node_in)
        memo[id(node)] = out
        return out

    return visit(root)


@dataclass(frozen=True, slots=True)
class LogicalPlan:
    """A logical plan: its root node (the last operation).

    Example:
        >>> plan = LogicalPlan(InputData())
        >>> plan.transform_up(lambda n: n) is plan
        True
    """

    root: LogicalNode

    def __post_init__(self) -> None:
        if not isinstance(self.root, LogicalNode):
            raise PlanError(f"LogicalPlan root must be a LogicalNode, got {self.root!r}")

    def transform_up(self, fn: Callable[[LogicalNode], LogicalNode]) -> "LogicalPlan":
        """Rebuild bottom-up: each node's inputs first, then ``fn(node)``.

        Unchanged subtrees are reused (a node whose inputs did not change is passed
        to ``fn`` as is), and a node shared by several consumers is visited once.
        Returns ``self`` when nothing changed.
        """
        def step(node: LogicalNode, node_in: LogicalNode) -> LogicalNode:
            out = fn(node_in)
            if not isinstance(out, LogicalNode):
                raise PlanError(f"a plan rewrite returned {out!r}, not a LogicalNode")
            return out

        new_root = rebuild_up(self.root, step)
        return self if new_root is self.root else LogicalPlan(new_root)

    def nodes(self) -> list[LogicalNode]:
        """Every node once, inputs before their consumers."""
        seen: set[int] = set()
        order: list[LogicalNode] = []

        def visit(node: LogicalNode) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            for i in node.inputs:
                visit(i)
            order.append(node)

        visit(self.root)
        return order

    def sources(self) -> list[LogicalNode]:
        """The nodes without inputs (reads and input data)."""
        return [n for n in self.nodes() if not n.inputs]

    def schema(self) -> pa.Schema | None:
        """The output schema when it is known without running anything, else None."""
        cache: dict[int, pa.Schema | None] = {}
        for node in self.nodes():
            try:
                cache[id(node)] = node.infer_schema([cache[id(i)] for i in node.inputs])
            except Exception:  # noqa: BLE001 - a bad plan shows no schema; running it raises
                cache[id(node)] = None
        return cache[id(self.root)]

    def num_rows(self, *, cheap: bool = False) -> int | None:
        """The output row count when metadata gives it without running anything, else None
        (``cheap``: without even reading file footers, for display).

        Example:
            >>> from streamdata.io.memory import RangeDatasource
            >>> LogicalPlan(Limit(inputs=(Read(datasource=RangeDatasource(10)),), limit=4)).num_rows()
            4
        """
        def rows(node: LogicalNode) -> int | None:
            return node.num_rows(rows, cheap=cheap)

        return rows(self.root)

    def explain(self) -> str:
        """The plan as an indented tree, root first."""
        lines: list[str] = []

        def visit(node: LogicalNode, depth: int) -> None:
            prefix = "" if depth == 0 else "   " * (depth - 1) + "+- "
            lines.append(prefix + node.name)
            for i in node.inputs:
                visit(i, depth + 1)

        visit(self.root, 0)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


__all__ = [
    "rebuild_up",
    "BATCH_FORMATS", "JOIN_TYPES", "FrozenDict", "fn_name", "is_callable_class", "TaskPoolStrategy",
    "ActorPoolStrategy", "ComputeStrategy", "LogicalNode", "Read", "InputData", "AbstractMap",
    "AbstractUDFMap", "MapBatches", "MapRows", "FlatMap", "Filter", "Project", "WithColumn",
    "RandomSample", "FusedMap", "Limit", "Repartition", "RandomShuffle", "RandomizeBlockOrder",
    "Sort", "Aggregate", "MapGroups", "Union", "Mix", "Zip", "Join", "Write", "LogicalPlan", "StreamingSplit",
]
