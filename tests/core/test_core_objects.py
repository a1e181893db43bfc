"""The shared-memory object store (2 CPUs): zero-copy reads, reference counting, permissions."""

from __future__ import annotations

import gc
import mmap
import os
import stat

import numpy as np
import pyarrow as pa
import pytest
from _core_util import (
    anon_rss,
    block_until_file,
    mapping_of,
    read_text,
    shm_files,
    touch,
    wait_for,
)

import streamdata as sd

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]

MB = 1024 * 1024


def _sync() -> None:
    """Make the driver apply this process's dropped refs (every runtime call does)."""
    gc.collect()
    sd.available_resources()


def _big(tag: int) -> np.ndarray:
    """About 1.6 MB: large enough to live in a shared-memory file of its own."""
    return np.full(200_000, tag, dtype=np.int64)


def _file_of(runtime, ref: sd.ObjectRef) -> str:
    return os.path.join(runtime.shm_dir, ref.id)


# --------------------------------------------------------------------------- zero copy


def _mmap_in_base_chain(arr: np.ndarray) -> bool:
    obj = arr
    for _ in range(10):
        if isinstance(obj, mmap.mmap):
            return True
        obj = obj.obj if isinstance(obj, memoryview) else getattr(obj, "base", None)
        if obj is None:
            return False
    return False


def test_numpy_put_get_is_zero_copy_in_the_driver(runtime) -> None:
    arr = np.arange(25_000_000, dtype=np.int64)  # 200 MB
    expected = int(arr.sum())
    ref = sd.put(arr)
    del arr
    gc.collect()
    before = anon_rss(os.getpid())
    a = sd.get(ref)
    b = sd.get(ref)
    assert a.nbytes == 200_000_000 and int(a.sum()) == expected and int(b[-1]) == 24_999_999
    assert not a.flags.writeable and not b.flags.writeable
    with pytest.raises(ValueError):
        a[0] = 1
    assert _mmap_in_base_chain(a)
    path_a, path_b = mapping_of(a.ctypes.data), mapping_of(b.ctypes.data)
    assert path_a is not None and path_a.startswith(runtime.shm_dir + "/")
    assert path_a == path_b  # both reads map the one stored copy
    assert a.ctypes.data % 64 == 0
    grown = anon_rss(os.getpid()) - before
    assert grown < 100 * MB, f"reading a 200 MB object grew private memory by {grown / MB:.0f} MB"


@sd.remote
def inspect_array(x: np.ndarray) -> dict:
    total = int(x.sum())  # touches every page
    return {"pid": os.getpid(), "sum": total, "writeable": bool(x.flags.writeable),
            "mapping": mapping_of(x.ctypes.data), "anon": anon_rss(os.getpid()), "nbytes": x.nbytes}


def test_numpy_passed_to_a_task_is_zero_copy(runtime) -> None:
    arr = np.arange(25_000_000, dtype=np.int64)
    expected = int(arr.sum())
    ref = sd.put(arr)
    del arr
    sd.get([inspect_array.remote(np.zeros(1)) for _ in range(4)])  # warm the workers up (numpy imported)
    with runtime.lock:
        before = {w.pid: anon_rss(w.pid) for w in runtime.workers.values() if w.proc.poll() is None}
    info = sd.get(inspect_array.remote(ref))
    assert info["sum"] == expected and info["nbytes"] == 200_000_000
    assert info["writeable"] is False
    assert info["mapping"] is not None and info["mapping"].startswith(runtime.shm_dir + "/")
    grown = info["anon"] - before[info["pid"]]
    assert grown < 100 * MB, f"the task's private memory grew by {grown / MB:.0f} MB"


def test_large_direct_argument_is_zero_copy_in_the_task(runtime) -> None:
    arr = np.ones(10_000_000, dtype=np.float32)  # 40 MB passed by value
    info = sd.get(inspect_array.remote(arr))
    assert info["sum"] == 10_000_000 and info["writeable"] is False
    assert info["mapping"] is not None and info["mapping"].startswith(runtime.shm_dir + "/")


def test_array_returned_by_a_task_is_read_from_shared_memory(runtime) -> None:
    @sd.remote
    def make() -> np.ndarray:
        return np.full((1000, 1000), 2.5)

    out = sd.get(make.remote())
    assert out.shape == (1000, 1000) and float(out.sum()) == 2.5e6
    assert mapping_of(out.ctypes.data, "self").startswith(runtime.shm_dir + "/")


def test_arrow_table_round_trip_is_zero_copy(runtime) -> None:
    n = 3_000_000
    table = pa.table({"a": np.arange(n, dtype=np.int64), "b": np.linspace(0, 1, n),
                      "s": pa.array([str(i % 10) for i in range(1000)] * (n // 1000))})
    ref = sd.put(table)
    out = sd.get(ref)
    assert out.equals(table) and out.schema == table.schema
    for name in ("a", "b", "s"):
        for chunk in out.column(name).chunks:
            data = chunk.buffers()[-1]
            assert mapping_of(data.address).startswith(runtime.shm_dir + "/"), name

    @sd.remote
    def inspect_table(t: pa.Table) -> tuple:
        buf = t.column("a").chunk(0).buffers()[1]
        return t.num_rows, int(pa.compute.sum(t.column("a")).as_py()), mapping_of(buf.address)

    rows, total, mapping = sd.get(inspect_table.remote(ref))
    assert rows == n and total == n * (n - 1) // 2
    assert mapping.startswith(runtime.shm_dir + "/")


def test_arrow_table_returned_from_a_task(runtime) -> None:
    @sd.remote
    def make_table(n: int) -> pa.Table:
        return pa.table({"x": np.arange(n), "y": pa.array(["v"] * n)})

    out = sd.get(make_table.remote(500_000))
    assert out.num_rows == 500_000 and out.column("y")[0].as_py() == "v"
    assert mapping_of(out.column("x").chunk(0).buffers()[1].address).startswith(runtime.shm_dir + "/")
    sliced = sd.get(sd.put(out.slice(1000, 10)))
    assert sliced.column("x").to_pylist() == list(range(1000, 1010))


def test_value_stays_readable_after_its_object_is_freed(runtime) -> None:
    ref = sd.put(_big(9))
    path = _file_of(runtime, ref)
    value = sd.get(ref)
    del ref
    _sync()
    wait_for(lambda: not os.path.exists(path), what="the object to be freed")
    assert int(value.sum()) == 9 * 200_000  # the mapping outlives the file


# --------------------------------------------------------------------------- reference counting


def test_dropping_the_last_ref_frees_the_object(runtime) -> None:
    ref = sd.put(_big(1))
    path = _file_of(runtime, ref)
    assert os.path.exists(path)
    peak = sd.object_store_stats()
    assert peak["used_bytes"] >= 1_600_000
    del ref
    _sync()
    wait_for(lambda: not os.path.exists(path), what="the shm file to go")
    wait_for(lambda: sd.object_store_stats()["num_objects"] < peak["num_objects"], what="num_objects to drop")
    assert sd.object_store_stats()["used_bytes"] <= peak["used_bytes"] - 1_600_000


def test_many_objects_come_and_go(runtime) -> None:
    _sync()
    files_before = len(shm_files(runtime.shm_dir))
    refs = [sd.put(_big(i)) for i in range(20)]
    assert len(shm_files(runtime.shm_dir)) >= files_before + 20
    peak = sd.object_store_stats()["num_objects"]
    del refs
    _sync()
    wait_for(lambda: len(shm_files(runtime.shm_dir)) <= files_before, what="the shm files to go")
    wait_for(lambda: sd.object_store_stats()["num_objects"] <= peak - 20, what="num_objects to drop")


@sd.remote
def hold_value(x, started: str, release: str) -> int:
    touch(started)
    block_until_file(release)
    items = x if isinstance(x, list) else [x]
    return sum(int(sd.get(i).sum()) if isinstance(i, sd.ObjectRef) else int(i.sum()) for i in items)


def test_running_task_keeps_its_argument_alive(runtime, tmp_path) -> None:
    ref = sd.put(_big(2))
    path = _file_of(runtime, ref)
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    out = hold_value.remote(ref, started, release)
    wait_for(lambda: os.path.exists(started), what="the task to start")
    del ref
    _sync()
    assert os.path.exists(path), "freed while a running task uses it"
    touch(release)
    assert sd.get(out) == 2 * 200_000
    del out  # the output's lineage keeps a put argument (as in Ray) while the output lives
    wait_for(lambda: not os.path.exists(path), what="the argument to be freed after the task")


def test_pending_task_keeps_its_argument_alive(runtime, tmp_path) -> None:
    ref = sd.put(_big(3))
    path = _file_of(runtime, ref)
    release = str(tmp_path / "release")
    blocker = hold_value.options(num_cpus=2).remote(np.zeros(1), str(tmp_path / "b"), release)
    pending = hold_value.remote(ref, str(tmp_path / "started"), release)  # waits for CPUs
    del ref
    _sync()
    assert os.path.exists(path)
    touch(release)
    assert sd.get(pending) == 3 * 200_000 and sd.get(blocker) == 0
    del pending  # the output's lineage keeps a put argument (as in Ray) while the output lives
    wait_for(lambda: not os.path.exists(path), what="the argument to be freed")


def test_refs_nested_in_task_arguments_are_kept_alive(runtime, tmp_path) -> None:
    ref = sd.put(_big(4))
    path = _file_of(runtime, ref)
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    out = hold_value.remote([ref], started, release)
    del ref
    _sync()
    wait_for(lambda: os.path.exists(started), what="the task to start")
    assert os.path.exists(path)
    touch(release)
    assert sd.get(out) == 4 * 200_000
    del out  # the output's lineage keeps a put argument (as in Ray) while the output lives
    wait_for(lambda: not os.path.exists(path), what="the nested ref to be freed")


def test_failed_and_cancelled_tasks_release_their_arguments(runtime, tmp_path) -> None:
    @sd.remote
    def fail(x):
        raise RuntimeError("no")

    ref = sd.put(_big(5))
    path = _file_of(runtime, ref)
    with pytest.raises(RuntimeError):
        sd.get(fail.remote(ref))
    release = str(tmp_path / "release")
    blocker = hold_value.options(num_cpus=2).remote(np.zeros(1), str(tmp_path / "b"), release)
    pending = hold_value.remote([ref], str(tmp_path / "s"), release)
    sd.cancel(pending)
    del ref, pending
    _sync()
    wait_for(lambda: not os.path.exists(path), what="the argument to be freed")
    touch(release)
    sd.get(blocker)


def test_refs_nested_inside_objects(runtime) -> None:
    inner = sd.put(_big(6))
    inner_path = _file_of(runtime, inner)
    outer = sd.put({"payload": [inner], "pad": np.zeros(200_000)})
    outer_path = _file_of(runtime, outer)
    del inner
    _sync()
    assert os.path.exists(inner_path), "an object held only by another object was freed"
    got = sd.get(outer)["payload"][0]
    assert int(sd.get(got).sum()) == 6 * 200_000
    del got
    del outer
    _sync()
    wait_for(lambda: not os.path.exists(outer_path), what="the outer object to go")
    wait_for(lambda: not os.path.exists(inner_path), what="the inner object to go with it")


def test_refs_returned_inside_task_results(runtime) -> None:
    @sd.remote
    def make_nested():
        return {"refs": [sd.put(np.full(200_000, 7, dtype=np.int64))]}

    outer = make_nested.remote()
    inner = sd.get(outer)["refs"][0]
    inner_path = _file_of(runtime, inner)
    assert int(sd.get(inner).sum()) == 7 * 200_000
    del inner
    _sync()
    assert os.path.exists(inner_path)
    del outer
    _sync()
    wait_for(lambda: not os.path.exists(inner_path), what="the ref made in the task to be freed")


def test_large_argument_temporaries_are_freed(runtime) -> None:
    _sync()
    files_before = set(shm_files(runtime.shm_dir))

    @sd.remote
    def total(x):
        return int(x.sum())

    assert sd.get(total.remote(_big(8))) == 8 * 200_000
    _sync()
    wait_for(lambda: set(shm_files(runtime.shm_dir)) <= files_before, what="the temporary argument to go")


@sd.remote
class Keeper:
    def __init__(self) -> None:
        self.kept: list = []

    def keep(self, items: list) -> int:
        self.kept = items
        return len(items)

    def read(self) -> int:
        return int(sd.get(self.kept[0]).sum())

    def drop(self) -> None:
        self.kept = []


def test_actor_state_keeps_a_ref_alive_until_dropped(runtime) -> None:
    k = Keeper.remote()
    ref = sd.put(_big(10))
    path = _file_of(runtime, ref)
    assert sd.get(k.keep.remote([ref])) == 1
    del ref
    _sync()
    assert sd.get(k.read.remote()) == 10 * 200_000
    assert os.path.exists(path)
    sd.get(k.drop.remote())
    wait_for(lambda: not os.path.exists(path), what="the ref dropped by the actor to be freed")
    sd.kill(k)


def test_refs_held_by_a_killed_actor_are_released(runtime) -> None:
    k = Keeper.remote()
    ref = sd.put(_big(11))
    path = _file_of(runtime, ref)
    assert sd.get(k.keep.remote([ref])) == 1
    del ref
    _sync()
    assert os.path.exists(path)
    sd.kill(k)
    wait_for(lambda: not os.path.exists(path), timeout=10,
             what="the object held only by a dead actor to be freed")


def test_refs_held_by_a_crashed_task_are_released(runtime, tmp_path) -> None:
    ref = sd.put(_big(12))
    path = _file_of(runtime, ref)
    started = str(tmp_path / "started")

    @sd.remote(max_retries=0)
    def hold_then_die(items, started):
        sd.get(items[0])  # talks to the driver: it now knows this worker holds the ref
        touch(started, str(os.getpid()))
        block_until_file(started + ".never")

    out = hold_then_die.remote([ref], started)
    pid = int(wait_for(lambda: read_text(started), what="the task to start"))
    del ref
    _sync()
    os.kill(pid, 9)
    with pytest.raises(sd.exceptions.WorkerCrashedError):
        sd.get(out, timeout=30)
    wait_for(lambda: not os.path.exists(path), timeout=10,
             what="the object borrowed by the dead worker to be freed")


# --------------------------------------------------------------------------- security of the store


def test_store_is_private_to_the_user(runtime) -> None:
    ref = sd.put(_big(13))
    info = os.stat(runtime.shm_dir)
    assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    st = os.stat(_file_of(runtime, ref))
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()

    @sd.remote
    def made_in_task():
        return np.zeros(300_000)

    task_ref = made_in_task.remote()
    sd.get(task_ref)
    st = os.stat(_file_of(runtime, task_ref))
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_objects_put_inside_a_task_are_freed(runtime) -> None:
    @sd.remote
    def put_and_drop():
        refs = [sd.put(np.full(200_000, i, dtype=np.int64)) for i in range(3)]
        return [int(sd.get(r)[0]) for r in refs]

    _sync()
    files_before = set(shm_files(runtime.shm_dir)) - {"free"}
    assert sd.get(put_and_drop.remote()) == [0, 1, 2]
    wait_for(lambda: set(shm_files(runtime.shm_dir)) - {"free"} <= files_before,
             what="objects put and dropped inside a task to be freed")


def test_a_freed_segment_is_not_reused_under_a_reader(runtime) -> None:
    ref = sd.put(_big(20))
    value = sd.get(ref)  # mapped zero-copy
    del ref
    _sync()
    others = [sd.put(_big(100 + i)) for i in range(6)]  # same size: candidates for reuse
    assert int(value.min()) == int(value.max()) == 20, "a value still in use was overwritten"
    assert [int(sd.get(r)[0]) for r in others] == [100 + i for i in range(6)]


def test_a_freed_segment_is_not_reused_under_a_worker_reader(runtime) -> None:
    @sd.remote
    class Holder:
        def take(self, arr):
            self.arr = arr  # keeps the mapped value (not the ref)
            return int(arr[0])

        def check(self):
            return int(self.arr.min()), int(self.arr.max())

    h = Holder.remote()
    ref = sd.put(_big(30))
    assert sd.get(h.take.remote(ref)) == 30
    del ref
    _sync()
    others = [sd.put(_big(200 + i)) for i in range(6)]
    assert sd.get(h.check.remote()) == (30, 30), "a value mapped in a worker was overwritten"
    del others
    sd.kill(h)
