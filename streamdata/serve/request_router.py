"""Custom request routing (Ray Serve's ``ray.serve.request_router``): subclass
:class:`RequestRouter`, implement ``async choose_replicas(candidate_replicas,
pending_request)`` returning ranked lists of :class:`RunningReplica` (the first list
the most preferred), and give the class to a deployment with
``request_router_config=RequestRouterConfig(request_router_class=...)``.

The router runs in each caller's process (a handle's driver or replica, the proxy),
where streamdata routes: for every request it asks ``choose_replicas`` and sends the
request to the least loaded replica with a free slot of the first rank that has one;
when no rank has one it waits (backing off) and asks again. ``routing_stats`` holds
what the replica's ``record_routing_stats()`` returned at its last report (every
``request_routing_stats_period_s``). The mixins add Ray's helpers: ranking by
multiplexed model (:class:`MultiplexMixin`) and by locality (:class:`LocalityMixin`;
the local runtime is one node, so every replica is on the caller's node);
:class:`FIFOMixin` is accepted as a marker: requests that wait already go in arrival
order.

Example:
    >>> class First(RequestRouter):
    ...     async def choose_replicas(self, candidate_replicas, pending_request=None):
    ...         return [candidate_replicas[:1]]
    >>> router = First(deployment_id=DeploymentID("D", "app"))
    >>> router.update_replicas([RunningReplica(ReplicaID("r1", DeploymentID("D", "app")))])
    >>> [r.replica_id.unique_id for r in router.select_available_replicas()]
    ['r1']
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from streamdata.serve.context import DeploymentID, ReplicaID

#: the single node of the local runtime (every replica and every caller runs on it)
LOCAL_NODE_ID = "local"


@dataclass
class RequestMetadata:
    """What a router knows of a request besides its arguments."""

    request_id: str = ""
    internal_request_id: str = ""
    call_method: str = "__call__"
    route: str = ""
    app_name: str = ""
    multiplexed_model_id: str = ""
    session_id: str = ""
    is_streaming: bool = False


@dataclass
class RequestRoutingContext:
    """What the routing of one request tried so far (the mixins' bookkeeping)."""

    multiplexed_start_matching_time: float | None = None
    tried_fewest_multiplexed_models: bool = False
    tried_first_multiplexed_models: bool = False
    tried_same_node: bool = False
    tried_same_az: bool = False
    should_backoff: bool = False


@dataclass
class PendingRequest:
    """A request waiting for a replica: its arguments and metadata."""

    args: list[Any]
    kwargs: dict[Any, Any]
    metadata: RequestMetadata
    created_at: float = field(default_factory=time.time)
    routing_context: RequestRoutingContext = field(default_factory=RequestRoutingContext)
    resolved: bool = True


class ReplicaResult:
    """Ray passes a handle on the replica's answer to ``on_request_routed``; streamdata
    passes None there (the answer is not an object of the router's)."""


class RunningReplica:
    """A replica as a request router sees it."""

    def __init__(self, replica_id: ReplicaID, *, node_id: str = LOCAL_NODE_ID,
                 availability_zone: str | None = None, max_ongoing_requests: int = 5,
                 multiplexed_model_ids: set[str] | None = None, routing_stats: dict[str, Any] | None = None) -> None:
        self._replica_id = replica_id
        self._node_id = node_id
        self._availability_zone = availability_zone
        self._max_ongoing_requests = max_ongoing_requests
        self._multiplexed_model_ids: set[str] = set(multiplexed_model_ids or ())
        self._routing_stats: dict[str, Any] = dict(routing_stats or {})

    @property
    def replica_id(self) -> ReplicaID:
        return self._replica_id

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def availability_zone(self) -> str | None:
        return self._availability_zone

    @property
    def multiplexed_model_ids(self) -> set[str]:
        """The models the replica has loaded (at its last report, and those sent to it since)."""
        return self._multiplexed_model_ids

    @property
    def routing_stats(self) -> dict[str, Any]:
        """What the replica's ``record_routing_stats()`` returned last ({} before its first report)."""
        return self._routing_stats

    @property
    def max_ongoing_requests(self) -> int:
        return self._max_ongoing_requests

    @property
    def replica_metadata(self) -> dict[str, Any]:
        return {}

    @property
    def is_cross_language(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"RunningReplica({self._replica_id.unique_id!r}, routing_stats={self._routing_stats!r})"


class RequestRouter(ABC):
    """The base of a custom request router: implement :meth:`choose_replicas`.

    streamdata builds it with keyword arguments (``deployment_id``, and the
    :class:`LocalityMixin`'s ``self_node_id``...), then calls
    :meth:`initialize_state` with ``request_router_kwargs``."""

    def __init__(self, deployment_id: DeploymentID | None = None, handle_source: Any = None,
                 self_actor_id: str | None = None, self_actor_handle: Any = None,
                 use_replica_queue_len_cache: bool = False, get_curr_time_s: Callable[[], float] | None = None,
                 create_replica_wrapper_func: Any = None, initial_backoff_s: float = 0.025,
                 backoff_multiplier: float = 2.0, max_backoff_s: float = 0.5, *args: Any, **kwargs: Any) -> None:
        self._deployment_id = deployment_id or DeploymentID("")
        self._handle_source = handle_source
        self._get_curr_time_s = get_curr_time_s or time.time
        self.initial_backoff_s = initial_backoff_s
        self.backoff_multiplier = backoff_multiplier
        self.max_backoff_s = max_backoff_s
        self._replica_id_set: set[ReplicaID] = set()
        self._replicas: dict[ReplicaID, RunningReplica] = {}
        self._replicas_list: list[RunningReplica] = []
        #: the caller's requests in flight on a replica (set by streamdata's router; None: unknown)
        self._queue_len: Callable[[ReplicaID], int | None] = lambda replica_id: None

    def initialize_state(self, **kwargs: Any) -> None:
        """Called once with the config's ``request_router_kwargs``."""

    @abstractmethod
    async def choose_replicas(self, candidate_replicas: list[RunningReplica],
                              pending_request: PendingRequest | None = None) -> list[list[RunningReplica]]:
        """Ranked lists of replicas for ``pending_request`` (the first list the most preferred)."""

    def on_request_routed(self, pending_request: PendingRequest, replica_id: ReplicaID, result: Any) -> None:
        """Called when the request was sent to ``replica_id`` (``result`` is None in streamdata)."""

    def on_request_completed(self, replica_id: ReplicaID, internal_request_id: str) -> None:
        """Called when a request sent to ``replica_id`` ended (answered or failed)."""

    @property
    def supports_rejection_protocol(self) -> bool:
        return True

    @property
    def curr_replicas(self) -> dict[ReplicaID, RunningReplica]:
        return self._replicas

    @property
    def app_name(self) -> str:
        return self._deployment_id.app_name

    def update_replicas(self, replicas: list[RunningReplica]) -> None:
        """Route among ``replicas`` from now on (the mixins refresh their indexes)."""
        if hasattr(self, "_update_colocated_replica_ids_with_replicas"):
            self._update_colocated_replica_ids_with_replicas(replicas)
        if hasattr(self, "_update_multiplexed_model_ids_with_replicas"):
            self._update_multiplexed_model_ids_with_replicas(replicas)
        self._replicas = {r.replica_id: r for r in replicas}
        self._replicas_list = list(self._replicas.values())
        self._replica_id_set = set(self._replicas)

    def on_replica_actor_died(self, replica_id: ReplicaID) -> None:
        """Forget a replica whose connection dropped."""
        self._replicas.pop(replica_id, None)
        self._replicas_list = list(self._replicas.values())
        self._replica_id_set.discard(replica_id)
        for ids in getattr(self, "_colocated_replica_ids", {}).values():
            ids.discard(replica_id)
        for ids in getattr(self, "_multiplexed_model_id_to_replica_ids", {}).values():
            ids.discard(replica_id)

    def select_available_replicas(self, candidates: list[RunningReplica] | None = None) -> list[RunningReplica]:
        """The replicas (of ``candidates``; None: all) with a free slot for this caller."""
        if candidates is None:
            candidates = self._replicas_list
        out = []
        for r in candidates:
            load = self._queue_len(r.replica_id)
            if load is None or load < r.max_ongoing_requests:
                out.append(r)
        return out


class LocalityMixin:
    """Ranks replicas by locality: the caller's node, its availability zone, the rest."""

    def __init__(self, self_node_id: str | None = None, prefer_local_node_routing: bool = False,
                 prefer_local_az_routing: bool = False, self_availability_zone: str | None = None,
                 *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._self_node_id = self_node_id
        self._prefer_local_node_routing = prefer_local_node_routing
        self._prefer_local_az_routing = prefer_local_az_routing
        self._self_availability_zone = self_availability_zone
        self._colocated_replica_ids: defaultdict[str, set[ReplicaID]] = defaultdict(set)

    def _update_colocated_replica_ids_with_replicas(self, replicas: list[RunningReplica]) -> None:
        colocated: defaultdict[str, set[ReplicaID]] = defaultdict(set)
        for r in replicas:
            if self._self_node_id is not None and r.node_id == self._self_node_id:
                colocated["NODE"].add(r.replica_id)
            if self._self_availability_zone is not None and r.availability_zone == self._self_availability_zone:
                colocated["AVAILABILITY_ZONE"].add(r.replica_id)
        self._colocated_replica_ids = colocated

    def apply_locality_routing(self, pending_request: PendingRequest | None = None) -> set[ReplicaID]:
        """The candidates of this try: the caller's node first (once), then its zone (once), then all."""
        everyone = self._replica_id_set  # type: ignore[attr-defined]
        if pending_request is None:
            return everyone
        context = pending_request.routing_context
        node = self._colocated_replica_ids["NODE"]
        zone = self._colocated_replica_ids["AVAILABILITY_ZONE"]
        if self._prefer_local_node_routing and not context.tried_same_node and node:
            context.tried_same_node, context.should_backoff = True, False
            return node
        if self._prefer_local_az_routing and not context.tried_same_az and zone:
            context.tried_same_az, context.should_backoff = True, False
            return zone
        context.should_backoff = True
        return everyone

    def rank_replicas_via_locality(self, replicas: list[RunningReplica]) -> list[list[RunningReplica]]:
        """Three ranks: on the caller's node, in its availability zone, elsewhere."""
        ranks: list[list[RunningReplica]] = [[], [], []]
        node = self._colocated_replica_ids["NODE"]
        zone = self._colocated_replica_ids["AVAILABILITY_ZONE"]
        for r in replicas:
            ranks[0 if r.replica_id in node else 1 if r.replica_id in zone else 2].append(r)
        return ranks


#: how long a request for a model looks for replicas that have it before it takes any
MULTIPLEXED_MATCHING_TIMEOUT_S = 1.0


class MultiplexMixin:
    """Ranks replicas by multiplexed model: those that have it, those with fewest models, the rest."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._multiplexed_model_id_to_replica_ids: defaultdict[str, set[ReplicaID]] = defaultdict(set)
        self._multiplexed_model_id_fallback_match: set[str] = set()

    def _update_multiplexed_model_ids_with_replicas(self, replicas: list[RunningReplica]) -> None:
        index: defaultdict[str, set[ReplicaID]] = defaultdict(set)
        for r in replicas:
            for model_id in r.multiplexed_model_ids:
                index[model_id].add(r.replica_id)
        self._multiplexed_model_id_to_replica_ids = index

    def _get_replica_ids_with_fewest_multiplexed_models(self) -> set[ReplicaID]:
        replicas = self._replicas_list  # type: ignore[attr-defined]
        if not replicas:
            return set()
        fewest = min(len(r.multiplexed_model_ids) for r in replicas)
        return {r.replica_id for r in replicas if len(r.multiplexed_model_ids) == fewest}

    def apply_multiplex_routing(self, pending_request: PendingRequest | None = None) -> set[ReplicaID]:
        """The candidates of this try: replicas with the model (or, when none has it or
        they were tried, those with fewest models) until the matching timeout, then
        those with fewest models once, then all."""
        everyone = self._replica_id_set  # type: ignore[attr-defined]
        if pending_request is None:
            return everyone
        context = pending_request.routing_context
        if not context.multiplexed_start_matching_time:
            context.multiplexed_start_matching_time = time.time()
        model_id = pending_request.metadata.multiplexed_model_id
        context.should_backoff = True
        if time.time() - context.multiplexed_start_matching_time < MULTIPLEXED_MATCHING_TIMEOUT_S:
            having = self._multiplexed_model_id_to_replica_ids.get(model_id, set())
            first_fallback = not having and model_id not in self._multiplexed_model_id_fallback_match
            if first_fallback or context.tried_first_multiplexed_models:
                having = self._get_replica_ids_with_fewest_multiplexed_models()
                self._multiplexed_model_id_fallback_match.add(model_id)
            elif having:
                self._multiplexed_model_id_fallback_match.discard(model_id)
            context.tried_first_multiplexed_models = True
            return having
        if not context.tried_fewest_multiplexed_models:
            context.tried_fewest_multiplexed_models = True
            return self._get_replica_ids_with_fewest_multiplexed_models()
        return everyone

    def rank_replicas_via_multiplex(self, replicas: list[RunningReplica],
                                    multiplexed_model_id: str) -> list[list[RunningReplica]]:
        """Three ranks: replicas that have the model, those with fewest models, the rest."""
        having = self._multiplexed_model_id_to_replica_ids.get(multiplexed_model_id, set())
        fewest = self._get_replica_ids_with_fewest_multiplexed_models()
        ranks: list[list[RunningReplica]] = [[], [], []]
        for r in replicas:
            ranks[0 if r.replica_id in having else 1 if r.replica_id in fewest else 2].append(r)
        return ranks


class FIFOMixin:
    """Requests are served in arrival order (streamdata's routers queue waiting requests
    in that order already, so this mixin only marks the intent)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


def pick_from_ranks(ranks: list[list[RunningReplica]], load: Callable[[ReplicaID], int],
                    known: dict[ReplicaID, Any]) -> ReplicaID | None:
    """The replica a request goes to: of the first rank with a replica that has a free
    slot (and that the caller still routes to: in ``known``), the least loaded (ties:
    the first listed); None when no rank has one.

    Example:
        >>> d = DeploymentID("D")
        >>> a, b = RunningReplica(ReplicaID("a", d)), RunningReplica(ReplicaID("b", d))
        >>> loads = {a.replica_id: 5, b.replica_id: 1}
        >>> pick_from_ranks([[a], [b]], loads.get, loads).unique_id  # a is full (5 of 5)
        'b'
    """
    for rank in ranks:
        best, lowest = None, math.inf
        for replica in rank:
            rid = replica.replica_id
            if rid not in known:
                continue
            ongoing = load(rid)
            if ongoing < replica.max_ongoing_requests and ongoing < lowest:
                best, lowest = rid, ongoing
        if best is not None:
            return best
    return None


def backoff_s(attempt: int, initial_s: float, multiplier: float, most_s: float) -> float:
    """Seconds to wait before the ``attempt``-th (0-based) new choice.

    Example:
        >>> [backoff_s(i, 0.025, 2, 0.1) for i in range(4)]
        [0.025, 0.05, 0.1, 0.1]
    """
    return min(most_s, initial_s * multiplier ** attempt)


__all__ = ["FIFOMixin", "LocalityMixin", "MultiplexMixin", "PendingRequest", "ReplicaID", "ReplicaResult",
           "RequestMetadata", "RequestRouter", "RunningReplica", "DeploymentID"]
