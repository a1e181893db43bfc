"""A failing UDF's error as the user sees it: their exception type, one traceback with
their frames and source lines (real file names through pickling), engine frames hidden
unless ``DataContext.log_internal_stack_trace``, the operator and input in the first line."""

from __future__ import annotations

import linecache
import traceback

import pytest

import streamdata as sd
from streamdata.context import DataContext
from streamdata.errors import TaskError, UDFReturnError

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]

#: what a user reads for one failing UDF (the issue measured 91 to 165 lines before)
MAX_LINES = 30


def raises_value_error(batch):
    marker = "user-frame-source-line"  # noqa: F841 - shown in the traceback
    raise ValueError("bad value in my UDF")


def returns_int(batch):
    return 42


def _failure(fn) -> tuple[BaseException, str]:
    try:
        sd.range(10).map_batches(fn).take(1)
    except Exception as exc:  # noqa: BLE001
        return exc, "".join(traceback.format_exception(exc))
    raise AssertionError("the UDF did not fail")


def test_udf_value_error_is_the_users_type_with_one_short_traceback() -> None:
    exc, text = _failure(raises_value_error)
    assert isinstance(exc, ValueError) and isinstance(exc, TaskError)
    first = str(exc).splitlines()[0]
    assert first.startswith("ReadRange->MapBatches(raises_value_error) failed on block of task")
    assert first.endswith("ValueError: bad value in my UDF")
    assert len(text.splitlines()) <= MAX_LINES, text
    assert text.count("ValueError: bad value in my UDF") == 1  # not repeated as a chained cause
    assert "During handling" not in text and "direct cause" not in text
    assert f'File "{__file__}"' in text and "raise ValueError(\"bad value in my UDF\")" in text
    assert "<dynamic-code>" not in text
    assert "streamdata/exec/operators" not in text and "core/worker.py" not in text


def test_udf_returning_an_int_names_the_operator_briefly() -> None:
    exc, text = _failure(returns_int)
    assert isinstance(exc, UDFReturnError) and isinstance(exc, ValueError)
    assert "MapBatches(returns_int) failed on block" in str(exc).splitlines()[0]
    assert "returned int" in str(exc).splitlines()[0]
    assert len(text.splitlines()) <= MAX_LINES, text


def test_log_internal_stack_trace_shows_the_engine_frames() -> None:
    ctx = DataContext.get_current()
    before = getattr(ctx, "log_internal_stack_trace", False)
    ctx.log_internal_stack_trace = True
    try:
        exc, text = _failure(raises_value_error)
    finally:
        ctx.log_internal_stack_trace = before
    assert isinstance(exc, ValueError)
    assert "map_transformer.py" in text and "core/worker.py" in text


def test_a_notebook_udf_shows_its_cell_source() -> None:
    # as IPython does: the cell's code has a file name on no disk, its source in linecache
    filename = "<ipython-input-7-corepar>"
    source = "def cell_udf(batch):\n    raise KeyError('from the cell')\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    exc, text = _failure(namespace["cell_udf"])
    assert isinstance(exc, KeyError)
    assert f'File "{filename}", line 2, in cell_udf' in text
    assert "raise KeyError('from the cell')" in text
