"""streamdata/dataset_observed.py: what a stream that ran out records on its dataset (rows, the
first schema with columns), and what a stream closed early or failing does not."""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa
import pytest

from streamdata.block_metadata import BlockMetadata
from streamdata.dataset_observed import Observed, observed, observing, record
from streamdata.exec.interfaces import RefBundle


class _Plan:
    def __init__(self) -> None:
        self.root = object()


class _Ds:
    """A stand-in with what the module reads: ``_plan.root`` (no Dataset needed)."""

    def __init__(self) -> None:
        self._plan = _Plan()


def _tables() -> list[pa.Table]:
    return [pa.table({}), pa.table({"a": pa.array([], pa.int64())}), pa.table({"a": [1, 2]}),
            pa.table({"a": [3.5]})]


def test_a_stream_that_runs_out_records_rows_and_the_first_schema_with_columns() -> None:
    ds = _Ds()
    assert observed(ds) is None
    assert len(list(observing(ds, iter(_tables())))) == 4
    seen = observed(ds)
    assert seen == Observed(ds._plan.root, 3, pa.schema([("a", pa.int64())]))


def test_bundles_count_their_metadata_and_an_unknown_count_stays_unknown() -> None:
    schema = pa.schema([("x", pa.string())])
    known = RefBundle(blocks=(("r1", BlockMetadata(num_rows=2, size_bytes=1, schema=schema)),), owns_blocks=False)
    unknown = RefBundle(blocks=(("r2", BlockMetadata(num_rows=None, size_bytes=1)),), owns_blocks=False)
    ds = _Ds()
    record(ds, [known, known])
    assert (observed(ds).num_rows, observed(ds).schema) == (4, schema)
    record(ds, [known, unknown])
    assert (observed(ds).num_rows, observed(ds).schema) == (None, schema)
    record(ds, [])
    assert (observed(ds).num_rows, observed(ds).schema) == (0, None)


def test_a_stream_closed_early_or_failing_records_nothing() -> None:
    ds = _Ds()
    closed: list[bool] = []

    def source() -> Iterator[pa.Table]:
        try:
            yield from _tables()
        finally:
            closed.append(True)

    stream = observing(ds, source())
    next(stream)
    stream.close()
    assert closed == [True] and observed(ds) is None

    def failing() -> Iterator[pa.Table]:
        yield pa.table({"a": [1]})
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(observing(ds, failing()))
    assert observed(ds) is None


def test_what_was_recorded_describes_the_root_it_ran() -> None:
    ds: Any = _Ds()
    record(ds, [pa.table({"a": [1]})])
    assert observed(ds).num_rows == 1
    ds._plan = _Plan()  # another plan: what was seen no longer describes it
    assert observed(ds) is None
