"""Read parallelism: how many read tasks each read gets."""

from __future__ import annotations

import math

from streamdata.plan.logical import LogicalNode, LogicalPlan, Read
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up


#: a read this small per CPU runs as one task per CPU (one wave of tasks)
SMALL_READ_BYTES_PER_CPU = 32 * 2**20


def choose_parallelism(size_bytes: int | None, ctx: OptimizerContext) -> int:
    """Read tasks for data of ``size_bytes`` in memory (None: unknown).

    At least enough tasks to keep blocks under ``target_max_block_size``; at least two per
    CPU so every CPU has work while the other tasks' outputs are consumed, except for a
    small read (at most :data:`SMALL_READ_BYTES_PER_CPU` per CPU), which gets one task per
    CPU: a second wave of tasks would cost more round trips than it balances; towards
    ``read_op_min_num_blocks`` only while blocks stay over ``target_min_block_size``. (A
    source makes fewer tasks when it has fewer rows or files.)

    Example:
        >>> ctx = OptimizerContext(num_cpus=2)
        >>> choose_parallelism(None, ctx), choose_parallelism(40 * 2**20, ctx), choose_parallelism(10 * 2**30, ctx)
        (4, 2, 80)
    """
    cpus = max(1, math.ceil(ctx.num_cpus))
    small = size_bytes is not None and size_bytes <= cpus * SMALL_READ_BYTES_PER_CPU
    per_cpu = cpus if small else 2 * cpus
    wanted = ctx.read_op_min_num_blocks or per_cpu
    if size_bytes is None:
        return max(wanted, per_cpu)
    min_safe = math.ceil(size_bytes / max(1, ctx.target_max_block_size))
    max_reasonable = max(1, math.ceil(size_bytes / max(1, ctx.target_min_block_size)))
    return max(min(wanted, max_reasonable), min_safe, per_cpu, 1)


def read_parallelism(read: Read, ctx: OptimizerContext) -> int:
    """How many read tasks ``read`` gets: ``override_num_blocks`` when given, else
    :func:`choose_parallelism` of its source's estimated size. The one place this is
    decided (the rule sets it; the lowering uses it only for a read no rule has sized).

    Example:
        >>> from streamdata.io.memory import RangeDatasource
        >>> read_parallelism(Read(datasource=RangeDatasource(10), override_num_blocks=3),
        ...                  OptimizerContext(num_cpus=2))
        3
    """
    if read.override_num_blocks is not None:
        return read.override_num_blocks
    return choose_parallelism(read.datasource.estimate_inmemory_data_size(), ctx)


class ReadParallelismRule(Rule):
    """Every read gets its number of read tasks.

    Rewrites::

        Read(ds, override_num_blocks=None) ⇒ Read(ds, parallelism=choose_parallelism(
                                               ds.estimate_inmemory_data_size(), ctx))
        Read(ds, override_num_blocks=n)    ⇒ Read(ds, parallelism=n)

    After this rule ``Read.parallelism`` is always set (the lowering passes it to
    ``get_read_tasks``).
    """

    name = "ReadParallelism"

    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
            if not isinstance(node, Read):
                return node
            wanted = read_parallelism(node, ctx)
            return node if node.parallelism == wanted else node.replace(parallelism=wanted)

        return rewrite_up(plan, visit)
