"""``ClientBase.read``'s policy for a copy that disappears while it is read (no processes).

The transport below is the driver's side of the two requests ``read`` makes, answered from
real files: "get" gives the object's current location, "lost" rebuilds it (a new file) or,
once the task has no retries left, answers with the error the driver stores.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from streamdata.core.client import ClientBase
from streamdata.core.object_store import make_location
from streamdata.core.serialization import serialize
from streamdata.exceptions import ObjectReconstructionFailedMaxAttemptsExceededError


class _RebuildingDriver(ClientBase):
    """Stores the value in a file; the first ``deletions`` copies vanish before they are read."""

    def __init__(self, tmp_path, value, deletions: int, max_retries: int) -> None:
        super().__init__("t")
        self.dir, self.value = str(tmp_path), value
        self.deletions, self.retries_left = deletions, max_retries
        self.rebuilds = 0
        self.location = self._write()

    def _write(self) -> tuple:
        location = make_location(f"obj{self.rebuilds}", serialize(self.value), self.dir, self.dir)
        if self.deletions:
            self.deletions -= 1
            os.unlink(location[1])
        return location

    def _fetch_locations(self, ids, timeout):
        return [self.location]

    def _call(self, op, obj_id, location, timeout=None):
        assert op == "lost" and location == self.location
        if not self.retries_left:
            err = ObjectReconstructionFailedMaxAttemptsExceededError(f"{obj_id}: no retries left")
            self.location = ("error", (pickle.dumps(err), "", ""))
        else:
            self.retries_left -= 1
            self.rebuilds += 1
            self.location = self._write()
        return self.location


VALUE = np.arange(100_000, dtype=np.float64)  # stored in a file, not inline


@pytest.mark.parametrize("deletions", [1, 5, 12])
def test_a_copy_lost_again_and_again_is_rebuilt_each_time(tmp_path, deletions) -> None:
    driver = _RebuildingDriver(tmp_path, VALUE, deletions=deletions, max_retries=20)
    got = driver.read("obj", driver.location)
    np.testing.assert_array_equal(got, VALUE)
    assert driver.rebuilds == deletions


def test_once_no_retry_is_left_the_drivers_error_is_raised(tmp_path) -> None:
    driver = _RebuildingDriver(tmp_path, VALUE, deletions=4, max_retries=3)
    with pytest.raises(ObjectReconstructionFailedMaxAttemptsExceededError, match="no retries left"):
        driver.read("obj", driver.location)
    assert driver.rebuilds == 3


def test_the_caller_chooses_how_the_error_is_raised(tmp_path) -> None:
    driver = _RebuildingDriver(tmp_path, VALUE, deletions=1, max_retries=0)
    with pytest.raises(LookupError, match="wrapped"):
        driver.read("obj", driver.location, error_of=lambda payload: LookupError("wrapped"))
