"""What the driver and the workers share: the client side of the runtime API.

Code that calls ``sd.get`` / ``f.remote`` / ``sd.put`` runs either in the driver
(where :class:`~streamdata.core.runtime.Runtime` is the client) or inside a task
(where :class:`~streamdata.core.worker.WorkerClient` forwards to the driver).
Both derive from :class:`ClientBase`, which prepares arguments, allocates ids
and reads values; subclasses supply the transport (``_submit``,
``_fetch_locations``, ``_store``, ``_call``).
"""

from __future__ import annotations

import concurrent.futures
import itertools
import pickle
import threading
import time
from typing import Any, Callable

from streamdata.core.object_ref import ObjectRef
from streamdata.core.object_store import INLINE_THRESHOLD, read_location
from streamdata.core.serialization import serialize
from streamdata.errors import GetTimeoutError, TaskError

class Dep:
    """Stands for a top-level ObjectRef argument; the worker substitutes the value."""

    __slots__ = ("obj_id",)

    def __init__(self, obj_id: str) -> None:
        self.obj_id = obj_id

    def __reduce__(self) -> tuple:
        return (Dep, (self.obj_id,))


def error_from_payload(payload: tuple) -> BaseException:
    """The exception ``get`` raises for a stored task error."""
    exc_bytes, tb, name = payload
    try:
        cause = pickle.loads(exc_bytes)
    except Exception as exc:  # the class is not importable here
        cause = RuntimeError(f"(could not unpickle the remote exception: {exc})")
    if not tb:  # a system error (actor died, cancelled, worker crashed): raised as is
        return cause
    return TaskError.wrap(cause, tb, name)


class ClientBase:
    """Id allocation, argument preparation and value reading, common to every process."""

    def __init__(self, id_prefix: str) -> None:
        self._prefix = id_prefix
        self._counter = itertools.count(1)
        self._sent_functions: set[str] = set()

    def new_id(self) -> str:
        return f"{self._prefix}{next(self._counter):x}"

    # ---- arguments
    def prepare_args(self, args: tuple, kwargs: dict) -> tuple[bytes, list[str], list[str], list[ObjectRef]]:
        """Serialize arguments: top-level refs become deps, large values go to the store.

        Returns the argument blob, dependency ids, ids of refs nested inside the
        arguments, and refs to temporary objects that must outlive the submission.
        """
        deps: list[str] = []
        temps: list[ObjectRef] = []

        def convert(value: Any) -> Any:
            if type(value) is ObjectRef:
                deps.append(value.id)
                return Dep(value.id)
            return value

        args = tuple(convert(a) for a in args)
        kwargs = {k: convert(v) for k, v in kwargs.items()}
        sobj = serialize((args, kwargs))
        if sobj.total_bytes > INLINE_THRESHOLD:
            # pass large arguments through the object store, as Ray does
            def offload(value: Any) -> Any:
                if type(value) is Dep:
                    return value
                if serialize_size(value) > INLINE_THRESHOLD:
                    ref = self.put(value)
                    temps.append(ref)
                    deps.append(ref.id)
                    return Dep(ref.id)
                return value

            args = tuple(offload(a) for a in args)
            kwargs = {k: offload(v) for k, v in kwargs.items()}
            sobj = serialize((args, kwargs))
        return sobj.to_bytes(), deps, sobj.contained_ids, temps

    def function_bytes(self, fn_id: str, fn_bytes: bytes) -> bytes | None:
        """The pickled function, or None when this client already sent it."""
        if fn_id in self._sent_functions:
            return None
        self._sent_functions.add(fn_id)
        return fn_bytes

    # ---- the API
    def submit(self, spec: dict, num_returns: int) -> list[ObjectRef]:
        return_ids = [self.new_id() for _ in range(num_returns)]
        refs = [ObjectRef(i) for i in return_ids]
        spec["return_ids"] = return_ids
        self._submit(spec)
        return refs

    def put(self, value: Any) -> ObjectRef:
        if isinstance(value, ObjectRef):
            raise TypeError("put() of an ObjectRef is not allowed; pass the ref itself")
        obj_id = self.new_id()
        ref = ObjectRef(obj_id)
        self._store(obj_id, value)
        return ref

    def get_values(self, ids: list[str], timeout: float | None) -> list[Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        locations = self._fetch_locations(ids, timeout)
        out = []
        for obj_id, location in zip(ids, locations):
            out.append(self.read(obj_id, location, deadline))
        return out

    def read(self, obj_id: str, location: tuple, deadline: float | None = None,
             error_of: Callable[[tuple], BaseException] = error_from_payload) -> Any:
        """The value at ``location``; a copy found gone is looked up again, and rebuilt from
        lineage if it is lost, as often as it is lost: the driver bounds the rebuilds (the
        task's ``max_retries``) and answers with the error once none is left, which is raised
        as ``error_of(payload)``. With ``deadline`` (a ``time.monotonic()`` value) the wait for
        the rebuild ends there with :class:`GetTimeoutError`; the rebuild goes on, so a
        later ``get`` returns the value."""
        while True:
            if location[0] == "error":
                raise error_of(location[1])
            try:
                return read_location(location)
            except FileNotFoundError:  # spilled meanwhile, or lost
                fresh = self._fetch_locations([obj_id], _remaining(deadline, obj_id))[0]
                if fresh == location:  # still there, says the driver: the copy is lost
                    # rebuilt from lineage (the driver starts the rebuild before it waits)
                    fresh = self._call("lost", obj_id, location, timeout=_remaining(deadline, obj_id))
                location = fresh

    def future(self, ref: ObjectRef) -> concurrent.futures.Future:
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def resolve() -> None:
            try:
                value = self.get_values([ref.id], None)[0]
            except BaseException as exc:  # noqa: BLE001
                settle(fut.set_exception, exc)
            else:
                settle(fut.set_result, value)

        def settle(setter: Callable[[Any], None], outcome: Any) -> None:
            try:
                setter(outcome)
            except concurrent.futures.InvalidStateError:  # the caller cancelled it meanwhile
                pass

        threading.Thread(target=resolve, daemon=True, name="streamdata-future").start()
        return fut

    def call(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        return self._call(op, *args, timeout=timeout)

    def get_gpu_ids(self) -> list[int]:
        return []

    # ---- transport, supplied by subclasses
    def _submit(self, spec: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _submit()")

    def _fetch_locations(self, ids: list[str], timeout: float | None) -> list:
        raise NotImplementedError(f"{type(self).__name__} must implement _fetch_locations()")

    def _store(self, obj_id: str, value: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _store()")

    def _call(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement _call()")


def _remaining(deadline: float | None, obj_id: str) -> float | None:
    """Seconds left until ``deadline`` (None: no deadline); GetTimeoutError once it passed."""
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise GetTimeoutError(f"object {obj_id} is being rebuilt from lineage and was not ready in time")
    return left


def serialize_size(value: Any) -> int:
    """Approximate serialized size without copying data."""
    import sys
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(value, (pa.Table, pa.RecordBatch)):
        return value.nbytes
    return serialize(value).total_bytes
