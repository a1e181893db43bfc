"""``map_groups`` with a callable class: a key shuffle, then an actor pool calling the class.

The lowering (:mod:`streamdata.plan.lowering.all_to_all`) builds both. The shuffle (an
:class:`~streamdata.exec.operators.all_to_all.operator.AllToAllOperator` with
``MapGroupsSpec(apply_fn=False)``) leaves every key range sorted in one block, so each
group lies whole in one block; :class:`MapGroupsStage` then calls the user's instance
(built once per actor, with ``fn_constructor_args``) once per group, in the pool the
``ActorPoolStrategy`` describes (``concurrency=``, ``num_gpus=``...).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.operators.map_transformer import TaskContext
    >>> class Size:
    ...     def __call__(self, g):
    ...         return {"k": g["k"][:1], "n": [len(g["k"])]}
    >>> stage = MapGroupsStage(name="size", keys=("k",), fn=Size, batch_format="numpy")
    >>> [t.to_pylist() for t in stage.apply(iter([pa.table({"k": [1, 2, 1]})]), TaskContext(task_index=0))]
    [[{'k': 1, 'n': 2}, {'k': 2, 'n': 1}]]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from streamdata.exec.operators.map_transformer import TaskContext, _UDFStage
from streamdata.exec.shuffle.map_groups import apply_map_groups


class MapGroupsStage(_UDFStage):
    """A map stage calling the user's function (or instance) once per group of each block."""

    def __init__(self, *, name: str, keys: Sequence[str], batch_format: str = "default", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.keys = tuple(keys)
        self.batch_format = batch_format

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        if self._callable is None:
            self.init()
        for block in blocks:
            out = apply_map_groups(block, self.keys, self._callable, self.batch_format,  # type: ignore[arg-type]
                                   self.fn_args, self.fn_kwargs)
            if out.num_columns:
                yield out


__all__ = ["MapGroupsStage"]
