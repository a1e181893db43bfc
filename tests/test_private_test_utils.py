"""``streamdata._private.test_utils.wait_for_condition`` (Ray's doc examples import it)."""

from __future__ import annotations

import pytest

from streamdata._private.test_utils import wait_for_condition


def test_returns_once_the_condition_holds_and_passes_kwargs() -> None:
    seen: list[int] = []
    wait_for_condition(lambda step: seen.append(step) or len(seen) == 4, retry_interval_ms=1, step=2)
    assert seen == [2, 2, 2, 2]


def test_times_out_with_the_last_exception() -> None:
    def broken() -> bool:
        raise KeyError("not there yet")

    with pytest.raises(RuntimeError, match="(?s)wasn't met within 0.05 s.*KeyError: 'not there yet'"):
        wait_for_condition(broken, timeout=0.05, retry_interval_ms=5)


def test_raise_exceptions_lets_the_first_one_through() -> None:
    with pytest.raises(ZeroDivisionError):
        wait_for_condition(lambda: 1 / 0, timeout=5, raise_exceptions=True)


def test_a_condition_that_never_holds() -> None:
    with pytest.raises(RuntimeError, match="wasn't met within 0.02 s.$"):
        wait_for_condition(lambda: False, timeout=0.02, retry_interval_ms=5)
