"""Read parallelism: how many read tasks each read gets."""

from __future__ import annotations

import math

from streamdata.plan.logical import LogicalNode, LogicalPlan, Read
from streamdata.plan.map_nodes import AbstractUDFMap, FusedMap
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up


#: a read this small per CPU, feeding no user function, runs as one task per CPU
SMALL_READ_BYTES_PER_CPU = 32 * 2**20


def choose_parallelism(size_bytes: int | None, ctx: OptimizerContext, *,
                       feeds_udf: bool = True, decoded_bytes: int | None = None) -> int:
    """Read tasks for data of ``size_bytes`` in memory (None: unknown).

    At least enough tasks to keep blocks under ``target_max_block_size``; at least two per
    CPU so every CPU has work while the other tasks' outputs are consumed, except for a
    small read (at most :data:`SMALL_READ_BYTES_PER_CPU` per CPU) whose data goes to no user
    function (``feeds_udf=False``): its tasks cost what reading costs, which the size
    predicts, so one task per CPU balances and a second wave would only add round trips;
    towards ``read_op_min_num_blocks`` only while blocks stay over ``target_min_block_size``.
    (A source makes fewer tasks when it has fewer rows or files.) ``decoded_bytes``, when
    the source can tell it, is the accurate size the small-read test uses instead of
    ``size_bytes`` (a source's size estimate may be deliberately high: Parquet's is 5× the
    files, about 3× what numeric columns decode to).

    Example:
        >>> ctx = OptimizerContext(num_cpus=2)
        >>> choose_parallelism(None, ctx), choose_parallelism(10 * 2**30, ctx)
        (4, 80)
        >>> choose_parallelism(40 * 2**20, ctx), choose_parallelism(40 * 2**20, ctx, feeds_udf=False)
        (4, 2)
        >>> choose_parallelism(100 * 2**20, ctx, feeds_udf=False, decoded_bytes=30 * 2**20)
        2
    """
    cpus = max(1, math.ceil(ctx.num_cpus))
    told = decoded_bytes if decoded_bytes is not None else size_bytes
    small = not feeds_udf and told is not None and told <= cpus * SMALL_READ_BYTES_PER_CPU
    per_cpu = cpus if small else 2 * cpus
    wanted = ctx.read_op_min_num_blocks or per_cpu
    if size_bytes is None:
        return max(wanted, per_cpu)
    min_safe = math.ceil(size_bytes / max(1, ctx.target_max_block_size))
    max_reasonable = max(1, math.ceil(size_bytes / max(1, ctx.target_min_block_size)))
    return max(min(wanted, max_reasonable), min_safe, per_cpu, 1)


def even_file_groups(parallelism: int, num_files: int | None, num_cpus: float = 2) -> int:
    """The task count for ``num_files`` files, ``parallelism`` or a few more, so that every
    task reads the same number of files (the last one fewer): ``ceil(n / floor(n / p))``.

    The tasks of a read are as long as their files, and the CPUs run them in waves: 40
    files in 17 tasks are tasks of 2 and 3 files, and a CPU that gets one more 3-file task
    leaves the other idle at the end; in 20 tasks of 2 both finish together. With no more
    files than tasks (large files are split into byte ranges), or one CPU (nothing to
    leave idle), nothing changes.

    Example:
        >>> even_file_groups(17, 40), even_file_groups(4, 16), even_file_groups(4, 10)
        (20, 4, 5)
        >>> even_file_groups(8, 5), even_file_groups(3, None), even_file_groups(2, 3, num_cpus=1)
        (8, 3, 2)
    """
    if not num_files or num_files <= parallelism or num_cpus <= 1:
        return parallelism
    return math.ceil(num_files / (num_files // parallelism))


def reads_feeding_udfs(plan: LogicalPlan) -> set[int]:
    """Ids of the reads whose blocks a user function (a ``map_batches``/``map``/``flat_map``/
    ``filter`` function, alone or fused) takes directly.

    Example:
        >>> from streamdata.io.memory import RangeDatasource
        >>> from streamdata.plan.map_nodes import MapBatches
        >>> r = Read(datasource=RangeDatasource(10))
        >>> reads_feeding_udfs(LogicalPlan(MapBatches(inputs=(r,), fn=len))) == {id(r)}
        True
    """
    out: set[int] = set()
    seen: set[int] = set()
    stack = [plan.root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stages = node.stages if isinstance(node, FusedMap) else (node,)
        if any(isinstance(s, AbstractUDFMap) and s.fn is not None for s in stages):
            out.update(id(i) for i in node.inputs if isinstance(i, Read))
        stack.extend(node.inputs)
    return out


def read_parallelism(read: Read, ctx: OptimizerContext, *, feeds_udf: bool = True) -> int:
    """How many read tasks ``read`` gets: ``override_num_blocks`` when given, else
    :func:`choose_parallelism` of its source's estimated size, made even over its files
    (:func:`even_file_groups`). The one place this is decided (the rule sets it; the
    lowering uses it only for a read no rule has sized).

    Example:
        >>> from streamdata.io.memory import RangeDatasource
        >>> read_parallelism(Read(datasource=RangeDatasource(10), override_num_blocks=3),
        ...                  OptimizerContext(num_cpus=2))
        3
    """
    if read.override_num_blocks is not None:
        return read.override_num_blocks
    decoded = None
    if not feeds_udf:  # only the small-read test uses it
        tell = getattr(read.datasource, "estimate_decoded_bytes", None)
        decoded = tell() if callable(tell) else None
    chosen = choose_parallelism(read.datasource.estimate_inmemory_data_size(), ctx, feeds_udf=feeds_udf,
                                decoded_bytes=decoded)
    from streamdata.io.file_datasource import FileBasedDatasource  # (its tasks group whole files)

    files = read.datasource.files() if isinstance(read.datasource, FileBasedDatasource) else None
    return even_file_groups(chosen, None if files is None else len(files), ctx.num_cpus)


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
        to_udfs = reads_feeding_udfs(plan)

        def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
            if not isinstance(node, Read):
                return node
            wanted = read_parallelism(node, ctx, feeds_udf=id(node) in to_udfs)
            return node if node.parallelism == wanted else node.replace(parallelism=wanted)

        return rewrite_up(plan, visit)
