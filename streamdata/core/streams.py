"""The items of generator tasks, delivered while the task runs (``num_returns="streaming"``).

A generator task's worker stores each item it yields and reports it
(``GeneratorItem(task_id, index, obj_id)``); :class:`GeneratorStreams` keeps the
items of each generator, keyed by the id of the task's return object (the
generator's own ref), and answers consumers' ``stream_next`` requests at once or
when the next item (or the task's end) arrives. The stream holds a reference to
each item until the consumer has its own: a request for item ``i`` comes after the
consumer's reference to item ``i - 1`` was counted (every client reports its ref
changes before its next message), so the stream lets go of the items before ``i``
then. When the generator's object is freed, the items nobody took are released with
it, as Ray collects the unconsumed refs of a dropped generator.

A retried task yields from its first item again: an index already delivered is
ignored (its new copy is released by the worker that made it).

Example:
    >>> from streamdata.core.object_directory import ObjectDirectory
    >>> from streamdata.core.object_store import StoreAccounting
    >>> directory = ObjectDirectory(StoreAccounting(1 << 20), emit=lambda command: None)
    >>> directory.change_refs("gen", +1)              # the consumer holds the generator
    >>> streams = GeneratorStreams(directory)
    >>> directory.created("item0", ("inline", b""), [])
    >>> streams.item("gen", 0, "item0")
    >>> answers = []
    >>> streams.next("gen", 0, answers.append); streams.next("gen", 1, answers.append)
    >>> directory.created("gen", ("inline", b""), [])  # the task finished
    >>> answers
    [('item', 'item0'), ('end', None)]
"""

from __future__ import annotations

from typing import Callable

from streamdata.core.object_directory import ObjectDirectory


class _Stream:
    __slots__ = ("items", "held_from", "waiters", "watching")

    def __init__(self) -> None:
        self.items: list[str] = []
        #: the stream still holds a reference to items[held_from:]
        self.held_from = 0
        #: consumers waiting for an item not yet yielded: (index, reply)
        self.waiters: list[tuple[int, Callable]] = []
        #: a when_ready callback is registered on the generator's object
        self.watching = False


class GeneratorStreams:
    """The items each running or finished generator task has yielded so far."""

    def __init__(self, directory: ObjectDirectory) -> None:
        self.directory = directory
        self._streams: dict[str, _Stream] = {}

    def item(self, gen_id: str, index: int, obj_id: str) -> None:
        """The task of generator ``gen_id`` yielded item ``index``, stored as ``obj_id``."""
        if gen_id not in self.directory.objects:  # the generator was dropped: nobody will take it
            return
        stream = self._streams.get(gen_id)
        if stream is None:
            stream = self._streams[gen_id] = _Stream()
        if index != len(stream.items):  # a retry re-yielding what was delivered
            return
        self.directory.change_refs(obj_id, +1)
        stream.items.append(obj_id)
        if stream.waiters:
            waiting, stream.waiters = stream.waiters, []
            for want, reply in waiting:
                if want < len(stream.items):
                    reply(("item", stream.items[want]))
                else:
                    stream.waiters.append((want, reply))

    def next(self, gen_id: str, index: int, reply: Callable) -> None:
        """Answer ``("item", obj_id)`` for item ``index`` of ``gen_id``, or ``("end", None)``
        once the task has finished (or failed) without yielding it."""
        stream = self._streams.get(gen_id)
        if stream is None:
            stream = self._streams[gen_id] = _Stream()
        self._handed_out(stream, min(index, len(stream.items)))
        if index < len(stream.items):
            reply(("item", stream.items[index]))
        elif self.directory.ready_ids([gen_id]):  # finished (or failed) without it
            reply(("end", None))
        else:
            stream.waiters.append((index, reply))
            if not stream.watching:
                stream.watching = True
                self.directory.when_ready([gen_id], self._finished)

    def _finished(self, gen_id: str) -> None:
        stream = self._streams.get(gen_id)
        if stream is None:
            return
        stream.watching = False  # (a lost generator object re-runs: watch it again then)
        waiting, stream.waiters = stream.waiters, []
        for want, reply in waiting:
            reply(("item", stream.items[want]) if want < len(stream.items) else ("end", None))

    def _handed_out(self, stream: _Stream, upto: int) -> None:
        """The consumer holds items[:upto] itself now: the stream lets go of them."""
        for obj_id in stream.items[stream.held_from:upto]:
            self.directory.change_refs(obj_id, -1)
        stream.held_from = max(stream.held_from, upto)

    def release(self, gen_id: str) -> None:
        """The generator's object was freed: release the items it still held."""
        stream = self._streams.pop(gen_id, None)
        if stream is not None:
            self._handed_out(stream, len(stream.items))
