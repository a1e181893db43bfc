"""Which columns a read may hand to the Parquet sink as their dictionaries (no expansion,
no hashing back), decided on the chain of stages one task runs.

A read fused with a Parquet write (``read → … → write_parquet`` in one task) may keep a
dictionary-encoded string or binary column as its dictionary
(:mod:`streamdata.kept_dictionary`) when every stage in between lets it pass untouched or
shows it to user code only as its own type:

- ``map_batches`` in any batch format (numpy converts a column when the UDF reads it, from
  the value type; pandas and pyarrow batches are expanded when made);
- ``with_column`` and ``filter`` expressions: the columns they read or write are excluded;
- ``select_columns`` / ``drop_columns`` (not a rename: the exclusions go by name);
- ``random_sample``.

Anything else (a row UDF, ``flat_map``, a ``filter`` with a function, a rename, a sink other
than :class:`~streamdata.io.parquet.ParquetDatasink` itself) and the read keeps nothing. The
sink's ``partition_cols`` are excluded too.

Example:
    >>> from streamdata.exec.operators.map_transformer import ReadStage, BatchStage, WriteStage
    >>> from streamdata.io.parquet import ParquetDatasink
    >>> stages = [ReadStage(), BatchStage(name="f", fn=dict),
    ...           WriteStage(name="w", datasink=ParquetDatasink("/tmp/x", partition_cols=["k"]), write_uuid="u")]
    >>> kept_dictionary_exclusions(stages)
    frozenset({'k'})
    >>> keep_read_dictionaries(stages); stages[0].kept_dictionaries
    frozenset({'k'})
"""

from __future__ import annotations

from collections.abc import Sequence

from streamdata.exec.operators.map_transformer import (BatchStage, FilterStage, MapStage, ProjectStage,
                                                       RandomSampleStage, ReadStage, WithColumnStage,
                                                       WriteStage)


def kept_dictionary_exclusions(stages: Sequence[MapStage]) -> frozenset[str] | None:
    """For a task's chain ``[ReadStage, …, WriteStage]``: the columns the read may not keep
    as dictionaries, or None when it may keep none."""
    if len(stages) < 2 or not isinstance(stages[0], ReadStage) or not isinstance(stages[-1], WriteStage):
        return None
    sink = stages[-1].datasink
    if not getattr(sink, "writes_kept_dictionaries", False):
        return None
    exclude: set[str] = set(getattr(sink, "partition_cols", ()) or ())
    for stage in stages[1:-1]:
        if isinstance(stage, (BatchStage, RandomSampleStage)):
            continue
        if isinstance(stage, ProjectStage) and not stage.rename:
            continue
        if isinstance(stage, WithColumnStage) and _columns(stage.expr) is not None:
            exclude |= _columns(stage.expr) | {stage.column}  # type: ignore[operator]
            continue
        if isinstance(stage, FilterStage) and stage.fn is None and _columns(stage.expr) is not None:
            exclude |= _columns(stage.expr)  # type: ignore[operator]
            continue
        return None
    return frozenset(exclude)


def _columns(expr: object) -> set[str] | None:
    """The columns a streamdata expression reads (None: not one, or not known)."""
    names = getattr(expr, "columns", None)
    return set(names()) if callable(names) else None


def keep_read_dictionaries(stages: Sequence[MapStage]) -> None:
    """Tell the chain's read stage what :func:`kept_dictionary_exclusions` allows."""
    exclude = kept_dictionary_exclusions(stages)
    if exclude is not None:
        assert isinstance(stages[0], ReadStage)
        stages[0].kept_dictionaries = exclude


__all__ = ["keep_read_dictionaries", "kept_dictionary_exclusions"]
