"""The worker process: runs tasks and hosts actors for the driver.

Started by the driver with one end of a Unix socket pair; a reader thread takes
messages off the socket (work, replies to this worker's own requests, cancels);
the main thread runs tasks and sequential actor calls. Threaded actors run calls
in a thread pool, async actors on an asyncio loop in the main thread. Code in a
task may itself call the runtime API (``sd.get``, ``f.remote``...): those calls
go to the driver as requests (:class:`WorkerClient`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import itertools
import os
import pickle
import queue
import signal
import socket
import sys
import threading
import traceback
from typing import Any, Callable

from streamdata.core import object_ref as object_ref_mod
from streamdata.core import client as client_mod
from streamdata.core import cancellation, context
from streamdata.core.message_channel import MessageChannel
from streamdata.core.concurrency_groups import AsyncSlots, GroupRouter, split_target, warn_undefined
from streamdata.core import protocol as msgs
from streamdata.core.pip_env import PIP_ENV_KEY, check_not_shadowed
from streamdata.core.proctitle import set_title
from streamdata.core.setup_hook import SETUP_HOOK_ENV, run_setup_hook
from streamdata.core.task_env import apply_task_env, restore_task_env
from streamdata.core.yielded_returns import collect_yielded
from streamdata.core.object_store import put_value, raise_open_file_limit
from streamdata.core.serialization import deserialize, dumps_exception, loads_function
from streamdata.errors import GetTimeoutError, TaskCancelledError


#: the methods every actor has (``actor.BUILTIN_ACTOR_METHODS``), given the actor instance
_BUILTIN_METHODS: dict[str, Callable[..., Any]] = {
    "__ray_ready__": lambda actor: True,
    "__ray_call__": lambda actor, fn, *args, **kwargs: fn(actor, *args, **kwargs),
}


class CurrentTask(threading.local):
    """What runs on this thread of the worker (read by ``get_runtime_context()``).

    Not Ray Data's ``TaskContext`` (that one is exec's, handed to UDFs)."""

    task_id: str | None = None
    task_name: str | None = None
    gpu_ids: list = []
    device_ids: dict = {}  # accelerator -> device ids (get_accelerator_ids)
    resources: dict = {}
    actor_id: str | None = None
    actor_name: str | None = None
    actor_resources: dict = {}
    reconstructed: bool = False


class WorkerClient(client_mod.ClientBase):
    """The runtime API as seen from inside a worker: requests to the driver."""

    def __init__(self, conn: MessageChannel, worker_id: str, shm_dir: str, spill_dir: str) -> None:
        super().__init__(id_prefix=worker_id)
        self.conn = conn
        self.worker_id = worker_id
        self.shm_dir = shm_dir
        self.spill_dir = spill_dir
        self._send_lock = threading.Lock()
        self._req_ids = itertools.count()
        self._replies: dict[int, concurrent.futures.Future] = {}
        self.context = CurrentTask()
        self.actor_info: tuple | None = None  # (actor id, class name, resources, reconstructed, registered name)
        object_ref_mod.tracker.on_pending = None

    # ---- transport
    @cancellation.uninterruptible
    def send(self, msg: msgs.Message) -> None:
        data = msgs.encode(msg)
        with self._send_lock:
            refs = object_ref_mod.tracker.drain()
            if refs:  # one send: a cancellation cannot split the pair
                self.conn.send(msgs.encode(msgs.RefsDelta(refs)), data)
            else:
                self.conn.send(data)

    @cancellation.uninterruptible
    def flush_refs(self) -> None:
        with self._send_lock:
            refs = object_ref_mod.tracker.drain()
            if refs:
                self.conn.send(msgs.encode(msgs.RefsDelta(refs)))

    def request(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        req_id = next(self._req_ids)
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._replies[req_id] = fut
        self.send(msgs.Request(req_id, op, args))
        try:
            ok, value = fut.result(timeout)
        except concurrent.futures.TimeoutError:
            self._replies.pop(req_id, None)
            self.send(msgs.RequestCancel(req_id))
            raise GetTimeoutError(f"{op} timed out after {timeout} s") from None
        if not ok:
            raise value
        return value

    def on_reply(self, req_id: int, ok: bool, value: Any) -> None:
        fut = self._replies.pop(req_id, None)
        if fut is not None:
            fut.set_result((ok, value))

    # ---- ClientBase hooks
    def _submit(self, spec: dict) -> None:
        self.send(msgs.Submit(spec))

    def _fetch_locations(self, ids: list[str], timeout: float | None) -> list:
        return self.request("get", ids, timeout=timeout)

    def _store(self, obj_id: str, value: Any) -> None:
        location, contained = put_value(obj_id, value, self.shm_dir, self.spill_dir)
        self.send(msgs.PutObject(obj_id, location, contained))

    def _call(self, op: str, *args: Any, timeout: float | None = None) -> Any:
        return self.request(op, *args, timeout=timeout)

    def get_gpu_ids(self) -> list[int]:
        return list(self.context.gpu_ids)


class Worker:
    def __init__(self, conn: MessageChannel, worker_id: str, shm_dir: str, spill_dir: str) -> None:
        self.client = WorkerClient(conn, worker_id, shm_dir, spill_dir)
        self.conn = conn
        self.functions: dict[str, Any] = {}
        self.main_queue: queue.SimpleQueue = queue.SimpleQueue()
        self.actor: Any = None
        self.actor_id: str | None = None
        self.actor_name: str | None = None
        self.actor_reconstructed = False
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.async_slots: AsyncSlots | None = None  # an async actor's default group
        self._title: str | None = None  # what the process title shows (show_title)
        self.groups: GroupRouter | None = None  # the actor's concurrency groups, if it has any
        self.state_lock = threading.Lock()
        self.running: dict[str, int] = {}  # task id -> thread ident
        self.async_tasks: dict[str, asyncio.Task] = {}
        self.cancelled_early: set[str] = set()  # answered already; skip when reached
        self.cancel_requested: set[str] = set()  # main thread's tasks to cancel (by a signal)
        self.interrupted: set[str] = set()  # tasks cancelled already, or past cancelling

    # ---- reader thread
    def read_loop(self) -> None:
        client = self.client
        try:
            while True:
                msg = msgs.decode(self.conn.recv())
                kind = type(msg)
                if kind is msgs.Reply:
                    client.on_reply(msg.req_id, msg.ok, msg.value)
                elif kind is msgs.Cancel:
                    self.cancel(msg.task_id)
                elif kind is msgs.Exit:
                    break
                elif kind is msgs.TaskSpec and msg.is_call and self.loop is not None:
                    self.loop.call_soon_threadsafe(self._schedule_async_call, msg)
                elif kind is msgs.TaskSpec and msg.is_call and self.groups is not None:
                    self._run_in_group(msg)
                elif kind is msgs.TaskSpec and msg.is_call and self.pool is not None:
                    self.pool.submit(self.run, msg)
                else:
                    self.main_queue.put(msg)
        except (EOFError, OSError):
            pass
        except Exception:  # noqa: BLE001 - a message it cannot handle: leave (the driver sees a death), never hang
            traceback.print_exc()
            os._exit(1)
        # the driver is gone or said exit: leave at once
        os._exit(0)

    def _run_in_group(self, msg: msgs.TaskSpec) -> None:
        """A threaded actor's call, on its concurrency group's pool."""
        assert self.groups is not None
        method, pool = self.groups.route(msg.target)
        pool.submit(self.run, msg._replace(target=method))

    def cancel(self, task_id: str) -> None:
        """Cancel a task of this worker: one not started yet is answered at once
        (and skipped later); a running one is interrupted."""
        with self.state_lock:
            ident = self.running.get(task_id)
            async_task = self.async_tasks.get(task_id)
            if ident is None and async_task is None:
                self.cancelled_early.add(task_id)
        if async_task is not None:
            assert self.loop is not None
            self.loop.call_soon_threadsafe(async_task.cancel)
        elif ident is None:
            self.client.send(msgs.TaskDone(task_id, None, _cancelled_payload(task_id)))
        elif ident == threading.main_thread().ident:
            self.cancel_requested.add(task_id)
            os.kill(os.getpid(), signal.SIGUSR2)  # interrupts a sleep in the main thread
        else:
            self._interrupt_thread(task_id, ident)

    @cancellation.redelivery
    def _interrupt_thread(self, task_id: str, ident: int, *, leaving_guard: bool = False) -> None:
        """Raise TaskCancelledError once in the pool thread running ``task_id``, where
        :mod:`~streamdata.core.cancellation` allows it (else later: as the thread leaves
        the runtime's code, and on a timer). ``leaving_guard``: called by that thread
        itself as it leaves its outermost uninterruptible call."""
        with self.state_lock:
            if self.running.get(task_id) != ident or task_id in self.interrupted:
                return  # finished, or interrupted already
            if (cancellation.may_interrupt_here(sys._getframe()) if leaving_guard
                    else cancellation.may_interrupt(sys._current_frames().get(ident))):
                self.interrupted.add(task_id)
                cancellation.raise_in_thread(ident, TaskCancelledError)
                return
        cancellation.defer(ident, functools.partial(self._interrupt_thread, task_id, ident, leaving_guard=True))
        threading.Timer(_CANCEL_RETRY_S, self._interrupt_thread, (task_id, ident)).start()

    def _claim(self, task_id: str, ident: int | None, async_task: Any = None) -> bool:
        """Mark a task as running; False when it was cancelled before it started."""
        with self.state_lock:
            if task_id in self.cancelled_early:
                self.cancelled_early.discard(task_id)
                return False
            if async_task is not None:
                self.async_tasks[task_id] = async_task
            else:
                self.running[task_id] = ident  # type: ignore[assignment]
            return True

    def _on_sigusr2(self, signum: int, frame: Any) -> None:
        """The main thread's task was cancelled: raise where
        :mod:`~streamdata.core.cancellation` allows it, else ask again later."""
        current = self.client.context.task_id
        if current is None or current not in self.cancel_requested or current in self.interrupted:
            return  # not this task's, or its end is being reported
        if cancellation.may_interrupt_here(frame):
            self.cancel_requested.discard(current)
            raise TaskCancelledError(f"task {current} was cancelled")
        if cancellation.inside_uninterruptible_here():  # as the runtime's code returns
            cancellation.defer(threading.get_ident(), _signal_self)
        else:  # an import, or run's own accounting
            threading.Timer(_CANCEL_RETRY_S, _signal_self).start()

    # ---- main thread
    def main_loop(self) -> None:
        preload = list(PRELOAD)
        while True:
            if preload:  # idle: import one more module a task will likely need
                try:
                    msg = self.main_queue.get_nowait()
                except queue.Empty:
                    _import_quietly(preload.pop(0))
                    continue
            else:
                msg = self.main_queue.get()
            kind = type(msg)
            if kind is msgs.TaskSpec:
                self.run(msg)
            elif kind is msgs.ActorInit:
                self.init_actor(msg)
                if self.loop is not None:
                    self.run_async_loop()
                    return
            self.client.flush_refs()

    def load_function(self, fn_id: str, fn_bytes: bytes | None) -> Any:
        """The function (or class) ``fn_id``, unpickled once and cached.

        The driver sends the bytes with the first task of a function a worker
        gets, so they are cached here even when that task fails or is cancelled;
        a function that cannot be unpickled is cached as its error.
        """
        fn = self.functions.get(fn_id)
        if fn is None:
            if fn_bytes is None:
                raise RuntimeError(f"worker lacks function {fn_id}")
            try:
                fn = loads_function(fn_bytes)
            except Exception as exc:  # noqa: BLE001 - e.g. a module missing in the worker
                fn = _Unloadable(exc)
            self.functions[fn_id] = fn
        if type(fn) is _Unloadable:
            raise fn.error
        return fn

    def resolve_args(self, args_blob: bytes, deps: list) -> tuple[tuple, dict]:
        values = {}
        for dep_id, location in deps:
            values[dep_id] = self.client.read(dep_id, location, error_of=_dep_error)
        args, kwargs = deserialize(args_blob)
        if values:
            args = tuple(values[a.obj_id] if type(a) is client_mod.Dep else a for a in args)
            kwargs = {k: (values[v.obj_id] if type(v) is client_mod.Dep else v) for k, v in kwargs.items()}
        return args, kwargs

    @cancellation.bookkeeping
    def run(self, spec: msgs.TaskSpec) -> None:
        """Run a task or an actor call and report its result."""
        task_id, target, fn_bytes, args_blob, deps, return_ids, env, gpu_ids, name = (
            spec.task_id, spec.target, spec.fn_bytes, spec.args, spec.deps, spec.return_ids, spec.env,
            spec.gpu_ids, spec.name)
        load_error: BaseException | None = None
        saved_env = apply_task_env(env)  # first: runtime_env's py_modules may be what the function imports
        try:  # load first: the function's bytes come with the first task only
            check_not_shadowed(os.environ.get(PIP_ENV_KEY))
            run_setup_hook(os.environ.get(SETUP_HOOK_ENV))
            fn = self._actor_method(target) if self.actor_id is not None else self.load_function(target, fn_bytes)
        except BaseException as exc:  # noqa: BLE001
            fn, load_error = None, exc
        if not self._claim(task_id, threading.get_ident()):
            restore_task_env(saved_env)
            return
        ctx = self.client.context
        ctx.task_id, ctx.gpu_ids, ctx.task_name, ctx.device_ids = task_id, gpu_ids, name, spec.device_ids or {}
        self.show_title(name)
        ctx.resources = dict(spec.resources or {})
        if self.actor_id is not None:
            ctx.actor_id, ctx.actor_name = self.actor_id, self.actor_name
            ctx.reconstructed = self.actor_reconstructed
        try:
            if load_error is not None:
                raise load_error
            args, kwargs = self.resolve_args(args_blob, deps)
            result = fn(*args, **kwargs)
            if spec.streaming:
                result = self.stream_items(task_id, result, name)
            elif asyncio.iscoroutine(result) and not inspect.isgenerator(result):  # (3.11's takes generators)
                result = asyncio.run(result)
            self.report_result(task_id, return_ids, result, name)
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the caller
            self.report_error(task_id, exc, name)
        finally:
            with self.state_lock:
                self.running.pop(task_id, None)
                self.interrupted.discard(task_id)
            self.cancel_requested.discard(task_id)
            ctx.task_id = None
            restore_task_env(saved_env)

    @cancellation.uninterruptible  # run() calls it outside its try: a cancellation must not land here
    def show_title(self, what: str | None) -> None:
        """The process title Ray's workers have: ``ray::<what>`` (see core/proctitle.py).
        Written only when it changes, and left as it is after a call (a worker that runs
        the same function or method again and again writes it once)."""
        if what != self._title:
            self._title = what
            set_title(f"ray::{what}", "streamdata.core.worker", self.client.worker_id)

    def _actor_method(self, target: str) -> Any:
        method, group = split_target(target)
        if group is not None:  # a call that named a group, on an actor without groups
            warn_undefined(group, [])
        builtin = _BUILTIN_METHODS.get(method)
        if builtin is not None:
            return functools.partial(builtin, self.actor)
        return getattr(self.actor, method)

    def report_result(self, task_id: str, return_ids: list[str], result: Any, name: str) -> None:
        """Store a finished task's returns and report its end."""
        failed = None  # what the refs past a failed generator's items hold
        if inspect.isgenerator(result):  # a fixed num_returns: the items are the returns
            values, error = collect_yielded(result, len(return_ids), name)  # (the task's code runs)
            if error is not None:
                tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
                failed = ("error", (dumps_exception(error), tb, name))
        elif len(return_ids) == 1:
            values = [result]
        elif isinstance(result, (tuple, list)) and len(result) == len(return_ids):
            values = list(result)
        else:
            raise ValueError(f"{name} was declared with num_returns={len(return_ids)} but returned "
                             f"{type(result).__name__}"
                             + (f" of length {len(result)}" if hasattr(result, "__len__") else ""))
        del result
        self._report_outputs(task_id, return_ids, values, failed)

    @cancellation.uninterruptible
    def _report_outputs(self, task_id: str, return_ids: list[str], values: list, failed: tuple | None) -> None:
        self._task_ending(task_id)
        outputs = [(obj_id, *put_value(obj_id, value, self.client.shm_dir, self.client.spill_dir))
                   for obj_id, value in zip(return_ids, values)]
        if failed is not None:
            outputs += [(obj_id, failed, []) for obj_id in return_ids[len(values):]]
        self.client.send(msgs.TaskDone(task_id, outputs, None))

    def _task_ending(self, task_id: str) -> None:
        """The task's end is being reported: a cancellation no longer applies to it."""
        with self.state_lock:
            self.interrupted.add(task_id)
        self.cancel_requested.discard(task_id)

    def stream_items(self, task_id: str, items: Any, name: str) -> int:
        """Store and report each item a generator task yields as it comes; the task's
        own value is the number of items (the stream holds them, not the task)."""
        if not hasattr(items, "__iter__") or isinstance(items, (str, bytes, dict)):
            raise TypeError(f"{name} was declared with num_returns='streaming' but returned "
                            f"{type(items).__name__}, not a generator")
        count = 0
        for item in items:
            self._stream_one(task_id, count, item)
            count += 1
        return count

    async def stream_async_items(self, task_id: str, items: Any) -> int:
        """:meth:`stream_items` of an async generator (an async actor's method)."""
        count = 0
        async for item in items:
            self._stream_one(task_id, count, item)
            count += 1
        return count

    @cancellation.uninterruptible
    def _stream_one(self, task_id: str, index: int, item: Any) -> None:
        ref = self.client.put(item)
        self.client.send(msgs.GeneratorItem(task_id, index, ref.id))  # before the ref's release

    @cancellation.uninterruptible
    def report_error(self, task_id: str, exc: BaseException, name: str) -> None:
        self._task_ending(task_id)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        payload = (dumps_exception(exc), tb, name)
        self.client.send(msgs.TaskDone(task_id, None, payload))

    # ---- actors
    def init_actor(self, msg: msgs.ActorInit) -> None:
        actor_id, cls_id, cls_bytes, args_blob, deps, env, gpu_ids, name, max_concurrency, is_async = (
            msg.actor_id, msg.fn_id, msg.fn_bytes, msg.args, msg.deps, msg.env, msg.gpu_ids, msg.name,
            msg.max_concurrency, msg.is_async)
        ctx = self.client.context
        ctx.gpu_ids, ctx.device_ids = gpu_ids, msg.device_ids or {}
        ctx.actor_id, ctx.actor_name = actor_id, name
        ctx.resources = dict(msg.resources or {})
        ctx.reconstructed = self.actor_reconstructed = msg.restarts > 0
        self.actor_name = name
        self.show_title(name)
        # every thread of the actor (its pool, its event loop) sees these
        self.client.actor_info = (actor_id, name, dict(msg.resources or {}), msg.restarts > 0, msg.registered_name)
        apply_task_env(env)  # for the actor's whole life
        try:
            check_not_shadowed(os.environ.get(PIP_ENV_KEY))
            run_setup_hook(os.environ.get(SETUP_HOOK_ENV))
            cls = self.load_function(cls_id, cls_bytes)
            args, kwargs = self.resolve_args(args_blob, deps)
            self.actor = cls(*args, **kwargs)
            self.actor_id = actor_id
            if msg.concurrency_groups:
                self.groups = GroupRouter(cls, msg.concurrency_groups, max_concurrency, is_async)
            if is_async:
                self.loop = asyncio.new_event_loop()
                asyncio.set_event_loop(self.loop)
                self.async_slots = AsyncSlots(max_concurrency)
            elif max_concurrency > 1 and self.groups is None:
                self.pool = concurrent.futures.ThreadPoolExecutor(max_concurrency, thread_name_prefix="actor")
            self.client.send(msgs.ActorReady(actor_id))
        except BaseException as exc:  # noqa: BLE001
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.client.send(msgs.ActorFailed(actor_id, (dumps_exception(exc), tb, name)))

    def run_async_loop(self) -> None:
        loop = self.loop
        assert loop is not None

        def drain_main_queue() -> None:  # calls queued before the loop started
            while True:
                try:
                    msg = self.main_queue.get_nowait()
                except queue.Empty:
                    return
                if type(msg) is msgs.TaskSpec:
                    self._schedule_async_call(msg)

        loop.call_soon(drain_main_queue)
        loop.run_forever()

    def _schedule_async_call(self, msg: msgs.TaskSpec) -> None:
        """Start a call on the loop once its group has a free slot (see AsyncSlots)."""
        loop, method, slots = self.loop, msg.target, self.async_slots
        if self.groups is not None:
            method, slots = self.groups.route(method)
        assert loop is not None and slots is not None
        slots.submit(lambda: loop.create_task(self._run_async_call(msg, method, slots)))

    async def _run_async_call(self, spec: msgs.TaskSpec, method: str, slots: AsyncSlots) -> None:
        task_id, args_blob, deps, return_ids, name = spec.task_id, spec.args, spec.deps, spec.return_ids, spec.name
        if not self._claim(task_id, None, asyncio.current_task()):
            slots.done()
            return
        try:  # the call holds its slot until it ends
            if deps:
                args, kwargs = await asyncio.get_running_loop().run_in_executor(
                    None, self.resolve_args, args_blob, deps)
            else:
                args, kwargs = self.resolve_args(args_blob, deps)
            result = self._actor_method(method)(*args, **kwargs)
            if spec.streaming and hasattr(result, "__aiter__"):
                result = await self.stream_async_items(task_id, result)
            elif spec.streaming:
                result = self.stream_items(task_id, result, name)
            elif asyncio.iscoroutine(result) and not inspect.isgenerator(result):
                result = await result
            self.report_result(task_id, return_ids, result, name)
        except asyncio.CancelledError:
            self.client.send(msgs.TaskDone(task_id, None, _cancelled_payload(task_id)))
        except BaseException as exc:  # noqa: BLE001
            self.report_error(task_id, exc, name)
        finally:
            with self.state_lock:
                self.async_tasks.pop(task_id, None)
                self.interrupted.discard(task_id)
            slots.done()
        self.client.flush_refs()


class _Unloadable:
    """A function whose bytes could not be unpickled in this worker."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _cancelled_payload(task_id: str) -> tuple:
    return (dumps_exception(TaskCancelledError(f"task {task_id} was cancelled")), "", task_id)


def _dep_error(payload: tuple) -> BaseException:
    """A dependency's stored error, raised in the task that needed it (always a TaskError)."""
    from streamdata.errors import TaskError
    exc_bytes, tb, name = payload
    return TaskError.wrap(pickle.loads(exc_bytes), tb, name)


#: how soon a cancellation that arrived where it may not raise is tried again
_CANCEL_RETRY_S = 0.005


@cancellation.redelivery
def _signal_self() -> None:
    """Deliver the main thread's cancellation signal again."""
    os.kill(os.getpid(), signal.SIGUSR2)


def main() -> None:
    if sys.argv[1] == "--forkserver":  # the template process workers are forked from
        from streamdata.core.forkserver import serve
        serve(int(sys.argv[2]), main, float(sys.argv[3]) if len(sys.argv) > 3 else None)
        return
    fd, worker_id, shm_dir, spill_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    # No PR_SET_PDEATHSIG: Linux ties it to the thread that spawned us, not the
    # driver process. The reader thread exits at once when the driver's end of the
    # socket closes, which happens however the driver dies.
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a notebook must not kill workers
    raise_open_file_limit()
    conn = MessageChannel(socket.socket(fileno=fd))
    worker = Worker(conn, worker_id, shm_dir, spill_dir)
    signal.signal(signal.SIGUSR2, worker._on_sigusr2)
    context.set_client(worker.client)
    if os.environ.get("STREAMDATA_LOGGING_CONFIG"):
        from streamdata.core.logging_config import apply_from_env
        apply_from_env()
    conn.send(msgs.encode(msgs.Hello(worker_id, os.getpid())))
    threading.Thread(target=worker.read_loop, name="streamdata-reader", daemon=True).start()
    worker.main_loop()


#: modules nearly every data task needs: imported one at a time while the worker is
#: idle (a task that arrives meanwhile waits for one import at most, not for all)
PRELOAD = ("numpy", "pyarrow", "pyarrow.compute", "pyarrow.parquet", "pandas", "fsspec")


def _import_quietly(name: str) -> None:
    import importlib
    try:
        importlib.import_module(name)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
