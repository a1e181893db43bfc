"""The one interface every runtime backend implements (what :mod:`streamdata.core.api` delegates to).

:class:`~streamdata.core.backends.local.LocalBackend` runs on the embedded
runtime (this process's driver or a worker of it);
:class:`~streamdata.core.backends.ray.RayBackend` on a Ray cluster. The API
checks nothing backend-specific and picks the backend once, at ``init`` (or on
first use).

Example:
    >>> from streamdata.core.backend import Backend
    >>> sorted(Backend.__abstractmethods__)[:3]
    ['available_resources', 'cancel', 'cluster_resources']
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class Backend(ABC):
    """Ray Core's API on some runtime."""

    name: str = ""

    @abstractmethod
    def remote(self, *args: Any, **options: Any) -> Any:
        """``@remote`` / ``@remote(...)`` of a function or class."""

    @abstractmethod
    def get(self, refs: Any, timeout: float | None) -> Any:
        """The value(s) of ``refs`` (one ref or a list)."""

    @abstractmethod
    def put(self, value: Any) -> Any:
        """Store ``value``; returns its ref."""

    @abstractmethod
    def wait(self, refs: Any, num_returns: int, timeout: float | None,
             fetch_local: bool) -> tuple[list, list]:
        """``(ready, not_ready)``, each in the order of ``refs``."""

    @abstractmethod
    def cancel(self, ref: Any, force: bool, recursive: bool) -> None:
        """Cancel the task that produces ``ref``."""

    @abstractmethod
    def kill(self, actor: Any, no_restart: bool) -> None:
        """Kill an actor's process."""

    @abstractmethod
    def exit_actor(self) -> None:
        """End the actor whose code calls it (no restart); never returns."""

    @abstractmethod
    def get_actor(self, name: str, namespace: str | None) -> Any:
        """The handle of the live named actor ``name``."""

    @abstractmethod
    def available_resources(self) -> dict[str, float]:
        """Resources free now."""

    @abstractmethod
    def cluster_resources(self) -> dict[str, float]:
        """Resources in total."""

    @abstractmethod
    def get_gpu_ids(self) -> list:
        """Inside a task or actor: the GPUs assigned to it."""

    @abstractmethod
    def object_store_stats(self) -> dict[str, int]:
        """``used_bytes``, ``capacity_bytes``, ``spilled_bytes``, ``spilled_total_bytes``, ``num_objects``."""

    @abstractmethod
    def placement_group(self, bundles: list[dict[str, float]], strategy: str, name: str, **options: Any) -> Any:
        """Reserve ``bundles`` together (validated already); ``options``: the rest of Ray's
        ``placement_group`` arguments (``lifetime``, ``bundle_label_selector``, ...), None when unset."""

    @abstractmethod
    def remove_placement_group(self, pg: Any) -> None:
        """Release a placement group; its actors are killed."""

    @abstractmethod
    def placement_group_table(self, pg: Any) -> dict:
        """The state of a placement group."""

    @abstractmethod
    def is_ref(self, value: Any) -> bool:
        """Whether ``value`` is an object ref of this backend."""

    def check_feasible(self, what: str, demand: dict[str, float]) -> None:
        """Raise ``InfeasibleResourceError`` if no resource can ever meet ``demand``.

        A cluster (Ray) may grow, so by default nothing is infeasible: tasks wait.
        """

    @abstractmethod
    def shutdown(self) -> None:
        """Stop what this backend started (workers, objects)."""
