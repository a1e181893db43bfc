"""``ray.util.state`` for streamdata: list, get and summarize tasks, actors, objects,
placement groups, workers, nodes, jobs and logs, as Ray's state API does.

The queries are :mod:`.api` (tasks, actors, ...) and :mod:`.jobs_logs` (jobs, log files);
the rows and the pure filtering are :mod:`.common`, the error :mod:`.exception`, as in
Ray's package.

Example:
    >>> from streamdata.util import state
    >>> state.list_tasks is state.api.list_tasks, issubclass(state.RayStateApiException, RuntimeError)
    (True, True)
"""

from __future__ import annotations

from streamdata.util.state import api, common, exception
from streamdata.util.state.api import (get_actor, get_node, get_objects, get_placement_group, get_task, get_worker,
                                       list_actors, list_nodes, list_objects, list_placement_groups, list_tasks,
                                       list_workers, summarize_actors, summarize_objects, summarize_tasks)
from streamdata.util.state.common import (DEFAULT_LIMIT, DEFAULT_RPC_TIMEOUT, ActorState, NodeState, ObjectState,
                                          PlacementGroupState, StateSchema, TaskState, WorkerState, apply_filters,
                                          build, summarize_actor_rows, summarize_object_rows, summarize_task_rows)
from streamdata.util.state.exception import RayStateApiException
from streamdata.util.state.jobs_logs import JobState, get_job, get_log, list_jobs, list_logs

__all__ = ["ActorState", "DEFAULT_LIMIT", "DEFAULT_RPC_TIMEOUT", "JobState", "NodeState", "ObjectState",
           "PlacementGroupState", "RayStateApiException", "StateSchema", "TaskState", "WorkerState", "api",
           "apply_filters", "build", "common", "exception", "get_actor", "get_job", "get_log", "get_node", "get_objects",
           "get_placement_group", "get_task", "get_worker", "list_actors", "list_jobs", "list_logs", "list_nodes",
           "list_objects", "list_placement_groups", "list_tasks", "list_workers", "summarize_actor_rows",
           "summarize_actors", "summarize_object_rows", "summarize_objects", "summarize_task_rows",
           "summarize_tasks"]
