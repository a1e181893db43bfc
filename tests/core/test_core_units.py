"""Pure unit tests of the runtime's building blocks: no process is started here.

Covers resources.py (ResourcePool, normalize_demand), placement.validate_bundles,
object_store.StoreAccounting, serialization round trips, object_ref.RefTracker,
the error wrapping of remote exceptions, task records and option validation.
"""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.core import object_ref as object_ref_mod
from streamdata.core.object_store import INLINE_THRESHOLD, StoreAccounting
from streamdata.core.validate import validate_bundles
from streamdata.core.client import error_from_payload
from streamdata.core.remote_function import (
    ACTOR_OPTIONS,
    TASK_OPTIONS,
    check_options,
    runtime_env_vars,
)
from streamdata.core.resources import Grant, ResourcePool, normalize_demand
from streamdata.core.serialization import deserialize, dumps_exception, serialize
from streamdata.core.tasks import TaskRecord
from streamdata.errors import PlacementGroupError, RuntimeEnvSetupError, TaskError, WorkerCrashedError


@pytest.fixture(autouse=True)
def _no_runtime_started():
    """These tests must not start the runtime (not even implicitly)."""
    before = sd.is_initialized()
    yield
    assert sd.is_initialized() == before, "a unit test started the runtime"


# --------------------------------------------------------------------------- ResourcePool


class TestResourcePool:
    def test_acquire_and_release_restore_availability(self) -> None:
        pool = ResourcePool({"CPU": 2.0, "memory": 100.0, "accel": 1.0})
        grant = pool.try_acquire({"CPU": 1.5, "memory": 40.0, "accel": 1.0})
        assert grant is not None
        assert pool.available == {"CPU": 0.5, "memory": 60.0, "accel": 0.0}
        assert pool.try_acquire({"accel": 1.0}) is None
        assert not pool.can_acquire({"CPU": 1.0})
        assert pool.can_acquire({"CPU": 0.5})
        pool.release(grant)
        assert pool.available == pool.total == {"CPU": 2.0, "memory": 100.0, "accel": 1.0}

    def test_failed_acquire_takes_nothing(self) -> None:
        pool = ResourcePool({"CPU": 2.0, "accel": 1.0})
        assert pool.try_acquire({"CPU": 1.0, "accel": 2.0}) is None
        assert pool.available == {"CPU": 2.0, "accel": 1.0}

    def test_unknown_resource_never_acquired(self) -> None:
        pool = ResourcePool({"CPU": 2.0})
        assert pool.try_acquire({"CPU": 1.0, "tpu": 1.0}) is None
        assert not pool.fits({"tpu": 1.0})

    def test_zero_amounts_are_ignored(self) -> None:
        pool = ResourcePool({"CPU": 1.0})
        grant = pool.try_acquire({"CPU": 0.0, "GPU": 0.0, "accel": 0.0})
        assert grant is not None and grant.amounts == {} and grant.gpu_ids == []
        assert pool.available == {"CPU": 1.0}

    def test_fits_checks_totals_not_availability(self) -> None:
        pool = ResourcePool({"CPU": 2.0})
        grant = pool.try_acquire({"CPU": 2.0})
        assert grant is not None
        assert pool.fits({"CPU": 2.0})
        assert not pool.can_acquire({"CPU": 1.0})
        assert not pool.fits({"CPU": 3.0})

    def test_release_never_exceeds_total(self) -> None:
        pool = ResourcePool({"CPU": 2.0})
        pool.release(Grant({"CPU": 5.0}))
        assert pool.available["CPU"] == 2.0

    def test_whole_gpus_get_distinct_ids(self) -> None:
        pool = ResourcePool({"CPU": 4.0, "GPU": 2.0})
        a = pool.try_acquire({"CPU": 1.0, "GPU": 1.0})
        b = pool.try_acquire({"CPU": 1.0, "GPU": 1.0})
        assert a is not None and b is not None
        assert len(a.gpu_ids) == len(b.gpu_ids) == 1
        assert set(a.gpu_ids) | set(b.gpu_ids) == {0, 1}
        assert pool.try_acquire({"GPU": 1.0}) is None
        pool.release(a)
        c = pool.try_acquire({"GPU": 1.0})
        assert c is not None and c.gpu_ids == a.gpu_ids

    def test_multi_gpu_request_takes_that_many_ids(self) -> None:
        pool = ResourcePool({"GPU": 3.0})
        grant = pool.try_acquire({"GPU": 2.0})
        assert grant is not None and len(grant.gpu_ids) == 2
        assert pool.try_acquire({"GPU": 2.0}) is None
        assert pool.try_acquire({"GPU": 1.0}) is not None

    def test_fractional_gpus_share_one_id(self) -> None:
        pool = ResourcePool({"GPU": 2.0})
        grants = [pool.try_acquire({"GPU": 0.5}) for _ in range(4)]
        assert all(g is not None for g in grants)
        ids = [g.gpu_ids[0] for g in grants]  # type: ignore[union-attr]
        assert sorted(ids) == [0, 0, 1, 1]
        assert pool.try_acquire({"GPU": 0.5}) is None
        assert pool.available["GPU"] == pytest.approx(0.0)

    def test_whole_gpu_not_granted_from_partly_used_gpus(self) -> None:
        pool = ResourcePool({"GPU": 2.0})
        a = pool.try_acquire({"GPU": 0.5})
        b = pool.try_acquire({"GPU": 1.0})
        assert a is not None and b is not None and a.gpu_ids != b.gpu_ids
        # 0.5 GPU is still free in total, but not a whole GPU
        assert pool.try_acquire({"GPU": 1.0}) is None
        c = pool.try_acquire({"GPU": 0.5})
        assert c is not None and c.gpu_ids == a.gpu_ids
        pool.release(a)
        pool.release(c)
        d = pool.try_acquire({"GPU": 1.0})
        assert d is not None and d.gpu_ids == a.gpu_ids

    def test_bundle_pool_keeps_the_reserved_gpu_ids(self) -> None:
        pool = ResourcePool({"GPU": 1.0, "CPU": 1.0}, gpu_ids=[3])
        grant = pool.try_acquire({"GPU": 1.0})
        assert grant is not None and grant.gpu_ids == [3]


class TestNormalizeDemand:
    def test_defaults(self) -> None:
        assert normalize_demand(None, None, None, None, default_cpus=1) == {"CPU": 1.0}
        assert normalize_demand(None, None, None, None, default_cpus=0) == {"CPU": 0.0}

    def test_everything(self) -> None:
        demand = normalize_demand(0.5, 0.25, 1024, {"accel": 2}, default_cpus=1)
        assert demand == {"CPU": 0.5, "GPU": 0.25, "memory": 1024.0, "accel": 2.0}

    @pytest.mark.parametrize("name", ["CPU", "GPU", "memory"])
    def test_builtin_names_rejected_in_resources(self, name: str) -> None:
        with pytest.raises(ValueError, match=name):
            normalize_demand(None, None, None, {name: 1}, default_cpus=1)

    @pytest.mark.parametrize("kwargs", [
        {"num_cpus": -1}, {"num_gpus": -1}, {"memory": -5}, {"resources": {"accel": -1}},
    ])
    def test_negative_rejected(self, kwargs: dict) -> None:
        args = {"num_cpus": None, "num_gpus": None, "memory": None, "resources": None, **kwargs}
        with pytest.raises(ValueError, match=">= 0"):
            normalize_demand(args["num_cpus"], args["num_gpus"], args["memory"], args["resources"],
                             default_cpus=1)

    def test_fractional_gpus_above_one_rejected(self) -> None:
        with pytest.raises(ValueError, match="whole number"):
            normalize_demand(None, 1.5, None, None, default_cpus=1)
        assert normalize_demand(None, 2, None, None, default_cpus=1)["GPU"] == 2.0


# --------------------------------------------------------------------------- placement


class TestValidateBundles:
    def test_valid(self) -> None:
        for strategy in ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"):
            assert validate_bundles([{"CPU": 1}, {"GPU": 0.5, "CPU": 0}], strategy) == [
                {"CPU": 1.0}, {"GPU": 0.5, "CPU": 0.0}]

    @pytest.mark.parametrize("bundles, match", [
        ([], "non-empty list"),
        ("CPU", "non-empty list"),
        ([{}], "bundle 0"),
        ([{"CPU": 1}, "x"], "bundle 1"),
        ([{"CPU": -1}], "negative"),
        ([{"CPU": "one"}], "non-numeric"),
        ([{"CPU": 0}], "reserves nothing"),
    ])
    def test_invalid_bundles(self, bundles: object, match: str) -> None:
        with pytest.raises(PlacementGroupError, match=match):
            validate_bundles(bundles, "PACK")

    def test_unknown_strategy_lists_the_valid_ones(self) -> None:
        with pytest.raises(PlacementGroupError, match="STRICT_SPREAD"):
            validate_bundles([{"CPU": 1}], "SCATTER")
        # a PlacementGroupError is also a ValueError
        with pytest.raises(ValueError):
            validate_bundles([{"CPU": 1}], "SCATTER")


# --------------------------------------------------------------------------- store accounting


class TestStoreAccounting:
    def test_nothing_to_spill_under_threshold(self) -> None:
        acc = StoreAccounting(capacity=100, spill_threshold=0.8)
        acc.add("a", 40)
        acc.add("b", 40)
        assert acc.used == 80 and acc.to_spill() == []

    def test_spills_least_recently_used_first(self) -> None:
        acc = StoreAccounting(capacity=100, spill_threshold=0.8)
        for name in "abcd":
            acc.add(name, 25)
        acc.touch("a")  # now b is the oldest
        assert acc.to_spill() == ["b"]
        acc.add("e", 30)
        assert acc.to_spill() == ["b", "c"]  # 130 used, 80 allowed: 50 bytes to go

    def test_mark_spilled_and_unspill(self) -> None:
        acc = StoreAccounting(capacity=100)
        acc.add("a", 60)
        acc.add("b", 30)
        acc.mark_spilled("a")
        assert (acc.used, acc.spilled_bytes, acc.spilled_total) == (30, 60, 60)
        acc.mark_spilled("a")  # twice is a no-op
        assert (acc.used, acc.spilled_bytes) == (30, 60)
        acc.unspill(60)
        assert (acc.spilled_bytes, acc.spilled_total) == (0, 60)

    def test_remove_and_touch_unknown(self) -> None:
        acc = StoreAccounting(capacity=10)
        acc.add("a", 5)
        acc.remove("a")
        acc.remove("a")
        acc.touch("zzz")
        assert acc.used == 0 and acc.to_spill() == []


# --------------------------------------------------------------------------- serialization


def _roundtrip(value: object) -> object:
    return deserialize(serialize(value).to_bytes())


class TestSerialization:
    def test_plain_python_values(self) -> None:
        value = {"a": [1, 2.5, "x", None, (True, b"raw")], "b": {1, 2}, "c": bytearray(b"xy")}
        assert _roundtrip(value) == value

    def test_large_and_small_bytes(self) -> None:
        for size in (0, 10, INLINE_THRESHOLD + 1, (1 << 20) + 3):
            data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
            assert _roundtrip(data) == data

    @pytest.mark.parametrize("array", [
        np.arange(1000, dtype=np.int64),
        np.linspace(0, 1, 999, dtype=np.float32).reshape(27, 37),
        np.asfortranarray(np.arange(600, dtype=np.int16).reshape(20, 30)),
        np.arange(100)[::3],  # not contiguous
        np.array(7.5),  # 0-d
        np.zeros((0, 4)),
        np.array(["a", "bc", None], dtype=object),
        np.array([(1, 2.0)], dtype=[("x", "i4"), ("y", "f8")]),
    ])
    def test_numpy_arrays(self, array: np.ndarray) -> None:
        out = _roundtrip({"arr": array})["arr"]  # type: ignore[index]
        assert out.dtype == array.dtype and out.shape == array.shape
        np.testing.assert_array_equal(out, array)

    def test_numpy_buffers_are_out_of_band_and_aligned(self) -> None:
        array = np.arange(10_000, dtype=np.float64)
        sobj = serialize([array, array * 2])
        assert len(sobj.buffers) == 2
        assert len(sobj.pickled) < 1000  # the data is not in the pickle stream
        assert sobj.total_bytes >= 2 * array.nbytes
        data = bytearray(sobj.total_bytes)
        sobj.write_into(memoryview(data))
        out = deserialize(memoryview(data))
        # the arrays point into the buffer they were read from (no copy)
        assert np.shares_memory(out[0], np.frombuffer(data, dtype=np.uint8))
        base = np.frombuffer(data, dtype=np.uint8).ctypes.data
        assert (out[0].ctypes.data - base) % 64 == 0 and (out[1].ctypes.data - base) % 64 == 0
        np.testing.assert_array_equal(out[1], array * 2)

    def test_read_only_source_gives_read_only_arrays(self) -> None:
        data = serialize(np.arange(50_000)).to_bytes()  # bytes: immutable
        out = deserialize(data)
        assert not out.flags.writeable
        with pytest.raises(ValueError):
            out[0] = 1

    def test_arrow_table_round_trip(self) -> None:
        table = pa.table({"i": pa.array([1, None, 3]), "s": ["a", "b", None],
                          "l": [[1], [], [2, 3]], "t": pa.array([1.0, 2.0, 3.0], pa.float32())})
        out = _roundtrip({"t": table, "n": 1})
        assert out["t"].equals(table) and out["n"] == 1  # type: ignore[index]
        assert out["t"].schema == table.schema  # type: ignore[index]

    def test_arrow_slice_writes_only_the_slice(self) -> None:
        table = pa.table({"x": np.arange(1_000_000, dtype=np.int64)})
        part = table.slice(10, 1000)
        sobj = serialize(part)
        assert sobj.total_bytes < 100_000
        out = deserialize(sobj.to_bytes())
        assert out.equals(part)
        assert out.column("x").to_pylist()[:2] == [10, 11]

    def test_arrow_table_is_zero_copy_from_the_buffer(self) -> None:
        table = pa.table({"x": np.arange(100_000, dtype=np.int64)})
        data = bytearray(serialize(table).total_bytes)
        serialize(table).write_into(memoryview(data))
        out = deserialize(memoryview(data))
        base = np.frombuffer(data, dtype=np.uint8).ctypes.data
        addr = out.column("x").chunk(0).buffers()[1].address
        assert base <= addr < base + len(data)

    def test_pandas_round_trip(self) -> None:
        df = pd.DataFrame({"a": np.arange(5), "b": list("abcde"), "c": np.linspace(0, 1, 5)})
        pd.testing.assert_frame_equal(_roundtrip(df), df)  # type: ignore[arg-type]

    def test_functions_and_lambdas(self) -> None:
        offset = 3
        fn = _roundtrip(lambda x: x + offset)
        assert fn(1) == 4  # type: ignore[operator]

    def test_bad_magic_is_rejected(self) -> None:
        data = bytearray(serialize([1]).to_bytes())
        data[:8] = b"NOTMAGIC"
        with pytest.raises(ValueError, match="magic"):
            deserialize(bytes(data))

    def test_contained_object_refs_are_recorded(self) -> None:
        if sd.is_initialized():
            pytest.skip("needs no live runtime (constructs ObjectRefs)")
        a, b = object_ref_mod.ObjectRef("unit-a"), object_ref_mod.ObjectRef("unit-b")
        try:
            sobj = serialize({"x": [a, (b, a)], "y": 1})
            assert sorted(set(sobj.contained_ids)) == ["unit-a", "unit-b"]
            assert serialize([1, 2]).contained_ids == []
        finally:
            del a, b
            object_ref_mod.tracker.drain()


# --------------------------------------------------------------------------- exceptions


class _UserError(ValueError):
    pass


class _CodedError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class TestErrors:
    def test_task_error_is_also_the_user_class(self) -> None:
        tb = ('Traceback (most recent call last):\n  File "/home/u/job.py", line 3, in f\n'
              '    raise _UserError("bad value")\n_UserError: bad value\n')
        err = TaskError.wrap(_UserError("bad value"), tb, "f")
        assert isinstance(err, TaskError) and isinstance(err, _UserError) and isinstance(err, ValueError)
        assert isinstance(err.cause, _UserError)
        text = str(err)
        assert "f failed" in text and "bad value" in text and "Remote traceback" in text and "line 3" in text
        assert text.count("_UserError: bad value") == 1  # the exception line is not repeated

    def test_wrap_keeps_user_attributes_of_a_class_with_a_custom_init(self) -> None:
        # an exception class whose __init__ takes more than a message (as
        # subprocess.CalledProcessError) must still be caught by `except _CodedError`
        err = TaskError.wrap(_CodedError("x", 42), "tb", "g")
        assert isinstance(err, _CodedError) and err.code == 42  # type: ignore[attr-defined]

    def test_wrapped_error_pickles(self) -> None:
        err = TaskError.wrap(_UserError("again"), "remote tb", "h")
        back = pickle.loads(pickle.dumps(err))
        assert isinstance(back, _UserError) and isinstance(back, TaskError)
        assert back.remote_traceback == "remote tb" and back.function_name == "h"

    def test_wrap_of_a_task_error_is_itself(self) -> None:
        err = TaskError.wrap(_UserError("x"), "tb", "f")
        assert TaskError.wrap(err, "other tb", "g") is err

    def test_unpicklable_exception_gets_a_stand_in(self) -> None:
        exc = pickle.loads(dumps_exception(_Unpicklable("cannot pickle me")))
        assert type(exc).__name__ == "_Unpicklable" and "cannot pickle me" in str(exc)

    def test_payload_with_traceback_becomes_task_error(self) -> None:
        raised = error_from_payload((dumps_exception(KeyError("k")), "the tb", "fn"))
        assert isinstance(raised, TaskError) and isinstance(raised, KeyError)

    def test_system_payload_is_raised_as_is(self) -> None:
        raised = error_from_payload((dumps_exception(WorkerCrashedError("boom")), "", "fn"))
        assert type(raised) is WorkerCrashedError


# --------------------------------------------------------------------------- ref tracker


class TestRefTracker:
    def test_only_transitions_are_reported(self) -> None:
        t = object_ref_mod.RefTracker()
        t.incr("a")
        t.incr("a")
        t.incr("b")
        t.decr("a")
        assert t.drain() == [(1, "a"), (1, "b")]
        assert t.held() == 2
        t.decr("a")
        t.decr("b")
        assert t.drain() == [(-1, "a"), (-1, "b")]
        assert t.held() == 0 and t.drain() == []

    def test_cancelling_pairs_are_kept_in_order(self) -> None:
        t = object_ref_mod.RefTracker()
        t.incr("a")
        t.decr("a")
        t.incr("a")
        assert t.drain() == [(1, "a"), (-1, "a"), (1, "a")]

    def test_hook_called_when_a_ref_is_dropped(self) -> None:
        t = object_ref_mod.RefTracker()
        calls = []
        t.on_pending = lambda: calls.append(1)
        t.incr("a")
        t.incr("a")
        t.decr("a")
        assert calls == []  # still held: nothing to report
        t.decr("a")
        assert calls == [1] and t.drain()[-1] == (-1, "a")

    def test_thread_safety(self) -> None:
        t = object_ref_mod.RefTracker()

        def churn(k: int) -> None:
            for _ in range(2000):
                t.incr(f"o{k % 3}")
                t.decr(f"o{k % 3}")

        threads = [threading.Thread(target=churn, args=(k,)) for k in range(6)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert t.held() == 0
        net: dict[str, int] = {}
        for delta, obj_id in t.drain():
            net[obj_id] = net.get(obj_id, 0) + delta
            assert net[obj_id] in (0, 1)
        assert all(v == 0 for v in net.values())


# --------------------------------------------------------------------------- task records and options


def _spec(**kw: object) -> dict:
    spec = {"task_id": "t1", "kind": "task", "name": "f", "args": b"", "deps": ["d1"],
            "contained": ["c1"], "return_ids": ["r1"], "max_retries": 2}
    spec.update(kw)
    return spec


class TestTaskRecord:
    def test_pins_dependencies_and_nested_refs(self) -> None:
        assert TaskRecord(_spec()).pinned == ["d1", "c1"]

    def test_retry_exceptions(self) -> None:
        val = (dumps_exception(ValueError("v")), "tb", "f")
        key = (dumps_exception(KeyError("k")), "tb", "f")
        assert not TaskRecord(_spec()).should_retry_exception(val)
        assert TaskRecord(_spec(retry_exceptions=True)).should_retry_exception(key)
        listed = TaskRecord(_spec(retry_exceptions=[ValueError]))
        assert listed.should_retry_exception(val) and not listed.should_retry_exception(key)
        assert not TaskRecord(_spec(retry_exceptions=True, max_retries=0)).should_retry_exception(val)

    def test_env_for_sets_visible_gpus(self) -> None:
        rec = TaskRecord(_spec(env={"A": "1"}))
        assert rec.env_for(Grant({"CPU": 1.0})) == {"A": "1"}
        assert rec.env_for(Grant({"GPU": 2.0}, {"GPU": {0: 1.0, 2: 1.0}})) == {
            "A": "1", "CUDA_VISIBLE_DEVICES": "0,2"}
        assert rec.env_for(Grant({"TPU": 1.0, "FURIOSA": 1.0}, {"TPU": {1: 1.0}, "FURIOSA": {0: 1.0}})) == {
            "A": "1", "TPU_VISIBLE_CHIPS": "1", "FURIOSA_DEVICES": "npu:0"}
        assert rec.env == {"A": "1"}  # not modified


class TestOptionValidation:
    def test_unknown_task_option_names_it(self) -> None:
        with pytest.raises(ValueError, match="num_cpu"):
            check_options({"num_cpu": 1}, TASK_OPTIONS, "task")
        with pytest.raises(ValueError, match="max_restarts"):
            check_options({"max_restarts": 1}, TASK_OPTIONS, "task")
        check_options({"max_restarts": 1, "max_concurrency": 2}, ACTOR_OPTIONS, "actor")

    def test_runtime_env(self) -> None:
        assert runtime_env_vars(None) == {}
        assert runtime_env_vars({"env_vars": {"A": "1"}}) == {"A": "1"}
        with pytest.raises(RuntimeEnvSetupError, match="conda.*backend='ray'"):
            runtime_env_vars({"conda": ["requests"]})
        assert runtime_env_vars({"conda": ["requests"]}, install=False) == {}  # a definition: checked at submission
        with pytest.raises(TypeError, match="str"):
            runtime_env_vars({"env_vars": {"A": 1}})

    def test_remote_decorator_rejects_bad_options_at_decoration(self) -> None:
        def f() -> None:
            pass

        with pytest.raises(ValueError, match="bogus"):
            sd.remote(bogus=1)(f)
        with pytest.raises(ValueError, match="num_returns"):
            sd.remote(num_returns=-1)(f)
        with pytest.raises(ValueError, match="'streaming' or 'dynamic'"):
            sd.remote(num_returns="many")(f)
        with pytest.raises(ValueError, match=">= 0"):
            sd.remote(num_cpus=-1)(f)
        with pytest.raises(ValueError, match="whole number"):
            sd.remote(num_gpus=1.5)(f)
        with pytest.raises(ValueError, match="num_cpus"):
            sd.remote(resources={"CPU": 1})(f)
        with pytest.raises(TypeError, match="runtime_env must be a dict"):
            sd.remote(runtime_env="env")(f)
        with pytest.raises(ValueError, match="bogus"):
            sd.remote(f).options(bogus=2)
        with pytest.raises(TypeError, match="@remote"):
            sd.remote(f, f)
        with pytest.raises(TypeError):
            sd.remote(3)

    def test_actor_options(self) -> None:
        class A:
            def m(self) -> int:
                return 1

        with pytest.raises(ValueError, match="max_concurrency"):
            sd.remote(max_concurrency=0)(A)
        with pytest.raises(ValueError, match="max_retries"):
            sd.remote(max_retries=2)(A)  # a task option, not an actor one
        with pytest.raises(ValueError, match="unknown actor option"):
            sd.remote(A).options(num_returns=2)

    def test_remote_objects_cannot_be_called_directly(self) -> None:
        @sd.remote
        def f() -> int:
            return 1

        @sd.remote
        class A:
            pass

        with pytest.raises(TypeError, match=r"f\.remote"):
            f()
        with pytest.raises(TypeError, match=r"A\.remote"):
            A()
