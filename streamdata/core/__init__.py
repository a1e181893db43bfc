"""The embedded task/actor runtime (Ray Core's model on one machine).

What core owns: the runtime API (``api``: ``init``, ``remote``, ``get``, ``put``,
``wait``, ...), the backends it delegates to (``backend``: the interface;
``backends.local``: the embedded runtime; ``backends.ray``: a Ray cluster),
and the embedded runtime itself:

* ``state`` — :class:`~streamdata.core.state.RuntimeState`, the scheduler's
  state machine (objects, tasks, actors, workers, resource grants):
  ``handle(event) -> commands``, no I/O; its parts ``object_directory``,
  ``actor_manager``, ``placement``, ``requests``, ``resources``, ``tasks``, typed
  against ``host.StateHost``; ``events`` (its inputs and outputs);
* ``runtime`` — the driver's loop around the state: processes, sockets, timers,
  files; ``processes`` starts and stops worker processes;
* ``protocol`` — the wire messages (immutable named tuples); ``worker`` — the
  worker process; ``client`` — what driver and workers share (ids, arguments,
  reading values); ``context`` — this process's active client and backend;
* ``object_ref``, ``object_store``, ``serialization``, ``actor``,
  ``remote_function``, ``placement_group`` — objects, their storage and the
  user-facing handles.

What core may import: the standard library, third-party libraries, and of
streamdata only :mod:`streamdata.errors`. Nothing in core imports a layer above
it (exec, plan, execution, the Dataset facade, io, train, serve), and core's
modules import one another without cycles (``tests/core/test_core_architecture.py``
checks both, reading the source).
"""
