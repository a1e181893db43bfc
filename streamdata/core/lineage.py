"""Lineage reconstruction: rebuild a lost object by re-running the task that made it.

An object's value lives in a file (shared memory, or disk once spilled). If the
file vanishes (deleted, or its storage lost) a reader finds it missing and
reports it (the ``lost`` request). The driver then re-executes the object's
producing task, as Ray does:

* only outputs of tasks with retries left (``max_retries``; for actor calls
  ``max_task_retries`` on a live actor) can be rebuilt, and each reconstruction
  uses up one retry (:class:`~streamdata.errors.ObjectReconstructionFailedMaxAttemptsExceededError`
  once none is left);
* objects made by ``put`` are never rebuilt (:class:`~streamdata.errors.ObjectLostError`);
* arguments of the task are rebuilt first, recursively, if they were freed or
  are lost too; a freed argument whose lineage was evicted cannot be
  (:class:`~streamdata.errors.ObjectReconstructionFailedLineageEvictedError`).

What is kept is the minimum: the submission of a finished task (its spec: the
function id and the pickled arguments, not values) while one of its outputs is
referenced, or while the lineage of a task that took one of them as an argument
is kept. Released with the last reference, recursively. A freed argument is
rebuilt from its own lineage; an argument that has none (made by ``put``, or by a
task without retries) keeps its value while the lineage naming it is kept (Ray
does the same), so it is never the missing link.

The kept specs' argument bytes are capped (``max_lineage_bytes``, Ray's setting and
default: 1 GiB, ``sd.init(_system_config={"max_lineage_bytes": ...})``): past it the
oldest records are evicted, and their outputs, if lost, raise
:class:`~streamdata.errors.ObjectReconstructionFailedLineageEvictedError`.

Pure bookkeeping, driven by :class:`~streamdata.core.state.RuntimeState`.

Example:
    >>> from streamdata.core.state import RuntimeState
    >>> state = RuntimeState(token="t", num_cpus=1, total={"CPU": 1.0}, object_store_memory=1 << 20)
    >>> state.lineage.records
    {}
"""

from __future__ import annotations

from typing import Any, Callable

from streamdata.core.host import StateHost
from streamdata.core.serialization import dumps_exception
from streamdata.core.tasks import TaskRecord
from streamdata.errors import (
    ObjectLostError,
    ObjectReconstructionFailedError,
    ObjectReconstructionFailedLineageEvictedError,
    ObjectReconstructionFailedMaxAttemptsExceededError,
)


#: Ray's default cap on the bytes of lineage kept (``max_lineage_bytes``)
MAX_LINEAGE_BYTES = 1 << 30


class LineageRecord:
    """The spec of one finished task whose outputs may still be needed."""

    __slots__ = ("spec", "return_ids", "deps", "retries_left", "running", "size", "pinned")

    def __init__(self, task: TaskRecord) -> None:
        spec = self.spec = task.spec
        self.return_ids = task.return_ids
        #: every object id the task's arguments name (top-level and nested)
        contained = spec["contained"]
        self.deps = list(dict.fromkeys(spec["deps"] + contained)) if contained else spec["deps"]
        self.retries_left = task.retries_left
        self.running = False
        self.size = len(spec["args"]) + 200  # what keeping it costs, roughly
        #: arguments that cannot be rebuilt (put objects, outputs of tasks without retries):
        #: their values are kept while this record is
        self.pinned: list[str] = []


class LineageManager:
    """Lineage records of finished tasks, and the reconstruction of lost objects."""

    def __init__(self, rt: StateHost) -> None:
        self.rt = rt
        #: task id -> its record
        self.records: dict[str, LineageRecord] = {}
        #: object id -> the id of the task that returned it (for recorded tasks)
        self.producer: dict[str, str] = {}
        #: object id -> how many kept records name it as an argument
        self.lineage_refs: dict[str, int] = {}
        #: task outputs without lineage, with why: ``(task name, kind)`` of a task without
        #: retries, or a message (evicted); forgotten when the object is freed
        self.no_lineage: dict[str, tuple | str] = {}
        self.max_bytes = MAX_LINEAGE_BYTES
        #: bytes of the kept records
        self.bytes = 0

    # ------------------------------------------------------------------ recording
    def record(self, task: TaskRecord) -> None:
        """Keep ``task``'s lineage (called before its outputs are stored)."""
        rec = self.records.get(task.task_id)
        if rec is not None:  # a reconstruction finished
            rec.running = False
            rec.retries_left = task.retries_left
            return
        if task.retries_left == 0:  # (the why is formatted only if the object is ever lost)
            why = (task.name, task.kind)
            for obj_id in task.return_ids:
                self.no_lineage[obj_id] = why
            return
        rec = self.records[task.task_id] = LineageRecord(task)
        for obj_id in task.return_ids:
            self.producer[obj_id] = task.task_id
        refs, producer, objects = self.lineage_refs, self.producer, self.rt.directory.objects
        for dep in rec.deps:
            refs[dep] = refs.get(dep, 0) + 1
            if dep not in producer and dep in objects and objects[dep].state != "actor":
                rec.pinned.append(dep)  # no lineage of its own: keep its value (as Ray does)
        for dep in rec.pinned:
            self.rt.directory.change_refs(dep, +1)
        self.bytes += rec.size
        if self.bytes > self.max_bytes:
            self._evict()

    def _evict(self) -> None:
        """Drop the oldest records until the kept lineage fits ``max_bytes`` again."""
        why = (f"its lineage was evicted to keep the lineage under max_lineage_bytes={self.max_bytes} "
               f"(raise it with sd.init(_system_config={{'max_lineage_bytes': ...}}))")
        for task_id in list(self.records):
            if self.bytes <= self.max_bytes:
                return
            rec = self.records.get(task_id)
            if rec is None or rec.running:
                continue
            for obj_id in rec.return_ids:
                if obj_id in self.rt.directory.objects:
                    self.no_lineage[obj_id] = why
            for producer in self._drop(rec):
                self._release_if_unused(producer)

    def on_free(self, obj_id: str) -> None:
        """The directory freed ``obj_id`` (its last reference is gone)."""
        if self.no_lineage:
            self.no_lineage.pop(obj_id, None)
        task_id = self.producer.get(obj_id)
        if task_id is not None:
            self._release_if_unused(task_id)

    def _release_if_unused(self, task_id: str) -> None:
        stack = [task_id]
        objects, refs = self.rt.directory.objects, self.lineage_refs
        while stack:
            rec = self.records.get(stack.pop())
            if rec is None or rec.running:
                continue
            for obj_id in rec.return_ids:  # still referenced, or named by another record's lineage
                if obj_id in objects or obj_id in refs:
                    break
            else:
                stack.extend(self._drop(rec))

    def _drop(self, rec: LineageRecord) -> list[str]:
        """Forget ``rec``; returns the producers of its arguments that nothing names any more."""
        del self.records[rec.spec["task_id"]]
        self.bytes -= rec.size
        for obj_id in rec.return_ids:
            self.producer.pop(obj_id, None)
        refs = self.lineage_refs
        unused = []
        for dep in rec.deps:
            count = refs.get(dep, 0) - 1
            if count > 0:
                refs[dep] = count
                continue
            refs.pop(dep, None)
            producer = self.producer.get(dep)
            if producer is not None:
                unused.append(producer)
        pinned, rec.pinned = rec.pinned, []
        for dep in pinned:
            self.rt.directory.change_refs(dep, -1)
        return unused

    # ------------------------------------------------------------------ reconstruction
    def on_lost(self, obj_id: str, location: tuple, reply: Callable[[Any], None]) -> None:
        """A reader found ``location`` of ``obj_id`` gone: rebuild the object, then
        ``reply`` with its new location (or the error location saying why not)."""
        directory = self.rt.directory
        entry = directory.objects.get(obj_id)
        if entry is not None and entry.state == "ready" and entry.location == location:
            self.reconstruct(obj_id)

        def answer(_obj_id: str) -> None:
            reply(directory.location_of(obj_id))

        if directory.when_ready([obj_id], answer):
            answer(obj_id)

    def reconstruct(self, obj_id: str) -> None:
        """Mark ``obj_id`` lost and re-run its producer (or store the error saying why not)."""
        directory = self.rt.directory
        old_contained = directory.mark_lost(obj_id)
        if old_contained:  # hold what the lost value contained until the new value is in
            def release(_obj_id: str) -> None:
                for inner in old_contained:
                    directory.change_refs(inner, -1)
            directory.when_ready([obj_id], release)
        error = self._rerun(obj_id)
        if error is not None:
            directory.set_error(obj_id, (dumps_exception(error), "", ""))

    def _rerun(self, obj_id: str) -> BaseException | None:
        """Re-submit the producer of ``obj_id`` (pending now); returns the error if it cannot be."""
        task_id = self.producer.get(obj_id)
        rec = self.records.get(task_id) if task_id is not None else None
        if rec is None:
            why = self.no_lineage.get(obj_id)
            if why is None:
                return ObjectLostError(
                    f"object {obj_id} is lost (its stored copy is gone) and cannot be reconstructed: "
                    f"it was created by put(), which has no lineage (only task outputs are re-executed)")
            if isinstance(why, str):  # evicted
                return ObjectReconstructionFailedLineageEvictedError(
                    f"object {obj_id} is lost and cannot be reconstructed: {why}")
            name, kind = why
            option = "max_task_retries" if kind == "call" else "max_retries"
            return ObjectReconstructionFailedMaxAttemptsExceededError(
                f"object {obj_id} is lost and cannot be reconstructed: the task that created it ({name}) "
                f"has no retries left ({option})")
        if rec.running:
            return None  # already being re-run: the object is pending, its waiters wait
        name = rec.spec["name"]
        if rec.retries_left == 0:
            return ObjectReconstructionFailedMaxAttemptsExceededError(
                f"object {obj_id} is lost and cannot be reconstructed: the task that created it ({name}) "
                f"has used up its retries (max_retries)")
        if rec.spec["kind"] == "call" and self.rt.actors.state_of(rec.spec.get("actor_id", "")) == "dead":
            return ObjectReconstructionFailedError(
                f"object {obj_id} is lost and cannot be reconstructed: the actor that ran {name} is dead")
        directory = self.rt.directory
        for dep in rec.deps:  # freed arguments are rebuilt first, from their own lineage
            if dep in directory.objects or dep in self.rt.actors.actors:  # (an actor handle argument)
                continue
            dep_task = self.records.get(self.producer.get(dep, ""))
            if dep_task is None:
                return ObjectReconstructionFailedLineageEvictedError(
                    f"object {obj_id} is lost and cannot be reconstructed: argument {dep} of the task that "
                    f"created it ({name}) was freed and its own lineage was evicted (max_lineage_bytes)")
        if rec.retries_left > 0:
            rec.retries_left -= 1
        rec.running = True
        task = TaskRecord(rec.spec)
        task.retries_left = rec.retries_left
        freed = [dep for dep in rec.deps if dep not in directory.objects and dep not in self.rt.actors.actors]
        self.rt.resubmit(task)  # pins its arguments: the freed ones are pending entries now
        for dep in freed:
            error = self._rerun(dep)
            if error is not None:
                directory.set_error(dep, (dumps_exception(error), "", ""))
        return None
