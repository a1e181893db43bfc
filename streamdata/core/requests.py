"""The operations clients ask of the driver: ``get``, ``wait``, ``cancel``, ...

Each handler runs inside :meth:`RuntimeState.handle <streamdata.core.state.RuntimeState.handle>`
and answers through ``reply(value)`` or ``fail(error)``, at once or later (``get``
and ``wait`` answer when objects become ready). The driver's own API calls and
workers' requests go through the same handlers (a ``Request`` message).
"""

from __future__ import annotations

from typing import Any, Callable

from streamdata.core.host import StateHost


def op_get(rt: StateHost, reply: Callable, fail: Callable, ids: list[str], timeout: float | None = None) -> None:
    remaining = set(ids)

    def on_ready(obj_id: str) -> None:
        remaining.discard(obj_id)
        if not remaining and not done[0]:
            done[0] = True
            reply([rt.directory.location_of(i) for i in ids])

    done = [False]
    for obj_id in rt.directory.when_ready(list(remaining), on_ready):
        remaining.discard(obj_id)
    if not remaining:
        done[0] = True
        reply([rt.directory.location_of(i) for i in ids])


def op_wait(rt: StateHost, reply: Callable, fail: Callable, ids: list, num_returns: int,
            timeout: float | None) -> None:
    """Answer the set of ``ids`` ready once ``num_returns`` are (or at ``timeout``). An id may be
    a generator's cursor ``("gen", gen_id, index)``: ready when item ``index`` is yielded or the
    task has ended, as Ray's ``wait`` treats a generator."""
    directory = rt.directory
    objects = [i for i in ids if type(i) is not tuple]
    ready: set = set(directory.ready_ids(objects))
    done = [False]

    def finish() -> None:
        if not done[0]:
            done[0] = True
            directory.forget_waiter([i for i in objects if i not in ready], on_ready)
            reply(ready)

    def on_ready(key: Any) -> None:
        if done[0]:
            return
        ready.add(key)
        if len(ready) >= num_returns:
            finish()

    for cursor in ids:
        if type(cursor) is tuple:  # answered at once when the item is there
            rt.streams.next(cursor[1], cursor[2], lambda answer, key=cursor: on_ready(key))
    if len(ready) >= num_returns or timeout == 0:  # a poll: nothing (more) to register
        finish()
        return
    directory.when_ready([i for i in objects if i not in ready], on_ready)
    if timeout is not None:
        rt.add_timer(timeout, finish)


def op_lost(rt: StateHost, reply: Callable, fail: Callable, obj_id: str, location: tuple) -> None:
    """A reader found ``location`` of ``obj_id`` gone: rebuild it from lineage, answer its new location."""
    rt.lineage.on_lost(obj_id, tuple(location), reply)


def op_stream_next(rt: StateHost, reply: Callable, fail: Callable, gen_id: str, index: int) -> None:
    """Item ``index`` of generator ``gen_id`` (``("item", id)``), now or once yielded; ``("end", None)``
    once its task has finished without yielding it."""
    rt.streams.next(gen_id, index, reply)


def op_store_stats(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply(rt.directory.stats())


def op_available_resources(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply({k: v for k, v in rt.node.available.items() if v > 1e-9 or k in ("CPU",)})


def op_cluster_resources(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply(dict(rt.node.total))


def op_cancel(rt: StateHost, reply: Callable, fail: Callable, obj_id: str, force: bool) -> None:
    rt.cancel_task_of(obj_id, force)
    reply(None)


def op_kill(rt: StateHost, reply: Callable, fail: Callable, actor_id: str, no_restart: bool) -> None:
    rt.actors.kill(actor_id, no_restart)
    reply(None)


def op_exit_actor(rt: StateHost, reply: Callable, fail: Callable, actor_id: str) -> None:
    rt.actors.exit_intentionally(actor_id)
    reply(None)


def op_get_actor(rt: StateHost, reply: Callable, fail: Callable, name: str, namespace: str | None) -> None:
    reply(rt.actors.lookup(name))


def op_list_named_actors(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply(sorted(rt.actors.named))


def op_pg_list(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply({pg_id: {**rt.placement.table(pg_id), "placement_group_id": pg_id}
           for pg_id in rt.placement.groups})


def op_pg_create(rt: StateHost, reply: Callable, fail: Callable, pg_id: str, ready_id: str,
                 bundles: list[dict], strategy: str, name: str) -> None:
    rt.placement.create(pg_id, ready_id, bundles, strategy, name)
    reply(None)


def op_pg_remove(rt: StateHost, reply: Callable, fail: Callable, pg_id: str) -> None:
    rt.placement.remove(pg_id)
    reply(None)


def op_pg_table(rt: StateHost, reply: Callable, fail: Callable, pg_id: str) -> None:
    reply(rt.placement.table(pg_id))


def op_timeline(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply(rt.task_log.records())


def op_state(rt: StateHost, reply: Callable, fail: Callable, resource: str, newest: int | None = None) -> None:
    from streamdata.core.state_query import rows, task_counts
    reply(task_counts(rt) if resource == "task_counts" else rows(rt, resource, newest))


def _metrics_store(rt: StateHost) -> Any:
    store = getattr(rt, "custom_metrics", None)
    if store is None:
        from streamdata.core.metrics_agg import MetricsAggregator
        store = rt.custom_metrics = MetricsAggregator()  # type: ignore[attr-defined]
    return store


def op_metrics_push(rt: StateHost, reply: Callable, fail: Callable, batch: dict) -> None:
    _metrics_store(rt).merge(batch)
    reply(None)


def op_metrics_snapshot(rt: StateHost, reply: Callable, fail: Callable) -> None:
    reply(_metrics_store(rt).snapshot())


REQUESTS: dict[str, Callable] = {
    "state": op_state,
    "metrics_push": op_metrics_push,
    "metrics_snapshot": op_metrics_snapshot,
    "timeline": op_timeline,
    "get": op_get,
    "wait": op_wait,
    "lost": op_lost,
    "stream_next": op_stream_next,
    "store_stats": op_store_stats,
    "available_resources": op_available_resources,
    "cluster_resources": op_cluster_resources,
    "cancel": op_cancel,
    "kill": op_kill,
    "exit_actor": op_exit_actor,
    "get_actor": op_get_actor,
    "list_named_actors": op_list_named_actors,
    "pg_list": op_pg_list,
    "pg_create": op_pg_create,
    "pg_remove": op_pg_remove,
    "pg_table": op_pg_table,
}
