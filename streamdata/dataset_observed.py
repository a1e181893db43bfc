"""What a Dataset learned about its output by running it to the end: its row count and its
schema, kept on the Dataset as Ray 2.60 keeps them in its execution cache.

Ray's rules (``_CacheMetadataIterator``): a consumer that streams the dataset's own output
to the end (``take_all``, a whole ``iter_batches``/``iter_rows``/``iter_torch_batches``, a
:class:`~streamdata.iterator.DataIterator` pass, ``to_pandas``, ``size_bytes``,
``iter_internal_ref_bundles``, the ``to_*_refs``, ``split``...) records the rows it saw and
the first schema with columns; a stream left early records nothing, and so do consumers
that run another plan (``count``, ``take``, ``show``, ``schema``, ``materialize``,
aggregations, writes, ``streaming_split``). What is recorded describes the plan's root
when it was run (a dataset derived from it starts with nothing), and it is what
``repr(ds)``, ``ds.count()`` and ``ds.schema()`` then use, without running anything.

A base module (pyarrow only; bundles and tables are read by their methods).

Example:
    >>> import pyarrow as pa
    >>> class Plan:
    ...     root = "the root"
    >>> class Ds:
    ...     _plan = Plan()
    >>> ds = Ds()
    >>> stream = observing(ds, iter([pa.table({"a": [1, 2]}), pa.table({"a": [3]})]))
    >>> sum(t.num_rows for t in stream)
    3
    >>> observed(ds).num_rows, observed(ds).schema.names
    (3, ['a'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, TypeVar

import pyarrow as pa

_T = TypeVar("_T")


@dataclass(frozen=True)
class Observed:
    """The output of the plan rooted at ``root``, as one whole run saw it: ``num_rows`` (None
    when a block's count was unknown) and the first ``schema`` with columns (None if none)."""

    root: Any
    num_rows: int | None
    schema: pa.Schema | None


def observed(ds: Any) -> Observed | None:
    """What ``ds`` recorded of its current plan's output (None before a whole run)."""
    obs = getattr(ds, "_observed", None)
    return obs if obs is not None and obs.root is ds._plan.root else None


class _Tally:
    """Rows and the first schema with columns of tables or RefBundles, as they pass."""

    def __init__(self) -> None:
        self.rows: int | None = 0
        self.schema: pa.Schema | None = None

    def add(self, item: Any) -> None:
        table = isinstance(item, pa.Table)
        rows = item.num_rows if table else item.num_rows()
        self.rows = None if rows is None or self.rows is None else self.rows + rows
        if self.schema is None:  # the first schema with columns; later items are not looked at
            if table:
                self.schema = item.schema if item.num_columns else None
            else:
                self.schema = next((m.schema for m in item.metadata() if m.schema is not None and len(m.schema)),
                                   None)

    def result(self, root: Any) -> Observed:
        return Observed(root, self.rows, self.schema)


def record(ds: Any, items: Iterable[Any]) -> None:
    """Record on ``ds`` the rows and schema of ``items`` (tables or RefBundles): its whole
    output, just produced by its current plan."""
    tally = _Tally()
    for item in items:
        tally.add(item)
    ds._observed = tally.result(ds._plan.root)


def observing(ds: Any, items: Iterator[_T]) -> Iterator[_T]:
    """``items`` (tables or RefBundles: ``ds``'s output, streaming) passed through; once they
    run out, what they held is recorded on ``ds`` (not when the stream is closed early or
    fails). Closing this generator closes ``items``."""
    root = ds._plan.root
    tally = _Tally()
    try:
        for item in items:
            tally.add(item)
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
    ds._observed = tally.result(root)


__all__ = ["Observed", "observed", "observing", "record"]
