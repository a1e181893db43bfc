"""What every optimizer rule shares: the :class:`Rule` base, the immutable
:class:`OptimizerContext`, and a bottom-up rewrite that knows which nodes are shared.

Example:
    >>> ctx = OptimizerContext(num_cpus=4)
    >>> ctx.num_cpus, ctx.target_max_block_size
    (4.0, 134217728)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar

from streamdata.exec.resources import normalized_resources
from streamdata.plan.logical import AbstractMap, FusedMap, LogicalNode, LogicalPlan, TaskPoolStrategy
from streamdata.plan.logical import rebuild_up

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.context import DataContext


@dataclass(frozen=True, slots=True, kw_only=True)
class OptimizerContext:
    """What the rules may know about the world (no runtime handles, nothing mutable).

    Attributes:
        num_cpus: CPUs of the cluster (read parallelism aims at 2 read tasks per CPU).
        num_gpus: GPUs of the cluster.
        target_max_block_size: bytes; reads make at least enough blocks to stay below it.
        target_min_block_size: bytes; reads avoid blocks smaller than this.
        read_op_min_num_blocks: reads aim at at least this many blocks (None: 2 × CPUs).
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    target_max_block_size: int = 128 * 1024 * 1024
    target_min_block_size: int = 1 * 1024 * 1024
    read_op_min_num_blocks: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_cpus", float(self.num_cpus))
        object.__setattr__(self, "num_gpus", float(self.num_gpus))

    @staticmethod
    def from_data_context(ctx: "DataContext", *, num_cpus: float, num_gpus: float = 0.0
                          ) -> "OptimizerContext":
        """The optimizer's view of a :class:`~streamdata.context.DataContext` and a cluster.

        Example:
            >>> from streamdata.context import DataContext
            >>> OptimizerContext.from_data_context(DataContext(), num_cpus=2).read_op_min_num_blocks
        """
        return OptimizerContext(num_cpus=num_cpus, num_gpus=num_gpus,
                                target_max_block_size=ctx.target_max_block_size,
                                target_min_block_size=ctx.target_min_block_size,
                                read_op_min_num_blocks=ctx.read_op_min_num_blocks)


class Rule(ABC):
    """One rewrite of the logical plan. Pure: the same plan and context give the same result,
    and an unchanged plan is returned as the same object."""

    name: ClassVar[str] = "Rule"

    @abstractmethod
    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        """The rewritten plan (``plan`` itself when the rule does not apply)."""

    def __repr__(self) -> str:
        return type(self).__name__


def consumer_counts(root: LogicalNode) -> dict[int, int]:
    """How many consumers each node (by ``id``) has in the plan under ``root``."""
    counts: dict[int, int] = {id(root): 1}
    seen: set[int] = set()

    def visit(node: LogicalNode) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node.inputs:
            counts[id(child)] = counts.get(id(child), 0) + 1
            visit(child)

    visit(root)
    return counts


def rewrite_up(plan: LogicalPlan,
               fn: Callable[[LogicalNode, set[int]], LogicalNode]) -> LogicalPlan:
    """Like :meth:`LogicalPlan.transform_up`, and ``fn(node, shared)`` also gets the ids of
    the (rebuilt) nodes that have several consumers: rules must not rewrite *into* a shared
    node (that would duplicate its work, or change what its other consumers see)."""
    counts = consumer_counts(plan.root)
    shared: set[int] = set()

    def step(node: LogicalNode, node_in: LogicalNode) -> LogicalNode:
        out = fn(node_in, shared)
        if counts.get(id(node), 0) > 1:
            shared.add(id(out))
        return out

    new_root = rebuild_up(plan.root, step)
    return plan if new_root is plan.root else LogicalPlan(new_root)


def same_resources(a: AbstractMap, b: AbstractMap) -> bool:
    """Whether two maps ask for the same resources per task/actor (so they may share one)."""
    return normalized_resources(a.ray_remote_args) == normalized_resources(b.ray_remote_args)


def is_plain_task_map(node: LogicalNode) -> bool:
    """A map in a task pool with default resources (what expression filters and
    projections are unless the user says otherwise)."""
    return (isinstance(node, AbstractMap) and not isinstance(node, FusedMap)
            and isinstance(node.compute, TaskPoolStrategy) and node.compute.size is None
            and not node.ray_remote_args)
