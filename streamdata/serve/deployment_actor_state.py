"""The deployment-scoped actors of one deployment version as the controller runs them
(see :mod:`.deployment_actors` for what they are and their lifecycle).

Runs on the controller's event loop, owned by the deployment's
:class:`~.deployment_state.DeploymentState`: :meth:`DeploymentActors.start_initial`
before the first replicas, :meth:`~DeploymentActors.reconcile` at every step of the
control loop (health checks, starting again what died), :meth:`~DeploymentActors.stop`
after the last replica stopped. The actors are detached and named, so a controller
that restarts takes the live ones back by name.

Example:
    >>> from streamdata.serve.deployment_actors import DeploymentActorConfig
    >>> actors = DeploymentActors("app", "Model", "0123456789abcdef",
    ...                           [DeploymentActorConfig(name="counter", actor_class="pkg:Counter")])
    >>> actors.names()
    {'counter': 'SERVE_DEPLOYMENT_ACTOR::app#Model#0123456789abcdef#counter'}
    >>> actors.ready
    False
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from streamdata.serve._runtime import runtime
from streamdata.serve.deployment_actors import DeploymentActorConfig, deployment_actor_name
from streamdata.serve.logs import logger

#: health checks in a row that may time out before a live actor is replaced (one that died is at once)
MAX_MISSED_HEALTH_CHECKS = 3
#: the longest wait before starting an actor again after it failed to start
MAX_RETRY_DELAY_S = 2.0
#: how long stopping waits for the runtime to drop the names of the killed actors
NAME_RELEASE_TIMEOUT_S = 10.0


@dataclass(eq=False)
class ActorRecord:
    """One deployment actor: its config, runtime name and live handle (None: not started)."""

    config: DeploymentActorConfig
    actor_name: str
    handle: Any = None
    running: bool = False
    checking: bool = False
    next_health_check: float = 0.0
    missed_checks: int = 0
    releasing: bool = False  # killed; its name is not free yet
    starting: asyncio.Future | None = None  # a start under way (a second start waits for it)


class DeploymentActors:
    """The deployment actors of one deployment at one code version."""

    def __init__(self, app_name: str, deployment: str, code_version: str, configs: Sequence[DeploymentActorConfig],
                 *, runtime_env: dict[str, Any] | None = None, health_check_period_s: float = 10.0,
                 health_check_timeout_s: float = 30.0, max_start_tries: int = 3) -> None:
        self.app_name, self.deployment = app_name, deployment
        self.records = {c.name: ActorRecord(c, deployment_actor_name(app_name, deployment, code_version, c.name))
                        for c in configs}
        self.runtime_env = dict(runtime_env or {})
        self.health_check_period_s = health_check_period_s
        self.health_check_timeout_s = health_check_timeout_s
        self.max_start_tries = max(1, max_start_tries)
        self.message = ""
        self._starting = False
        self._failures = 0
        self._retry_after = 0.0

    def names(self) -> dict[str, str]:
        """Each actor's name in the deployment → its runtime name."""
        return {name: record.actor_name for name, record in self.records.items()}

    @property
    def ready(self) -> bool:
        """Every actor has run its constructor and is alive (as last seen)."""
        return all(record.running for record in self.records.values())

    # ---- starting
    async def start(self) -> None:
        """Start (or take back by name, after a controller restart) every actor not
        running and wait for their constructors; raises the first failure."""
        starts = []
        for record in self.records.values():
            if record.running:
                continue
            if record.starting is None or record.starting.done():
                record.starting = asyncio.ensure_future(self._start_one(record))
            starts.append(record.starting)
        results = await asyncio.gather(*starts, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        self._failures, self.message = 0, ""

    async def start_initial(self) -> None:
        """:meth:`start`, tried again (with a backoff) until ``max_start_tries`` tries failed;
        then the last failure is raised (the deploy fails, as Ray's DEPLOY_FAILED)."""
        while True:
            try:
                await self.start()
                return
            except Exception as exc:  # noqa: BLE001 - a constructor that raised, an unknown import path, ...
                self._failed(exc)
                if self._failures >= self.max_start_tries:
                    raise RuntimeError(f"{self.message} (tried {self._failures} time(s))") from exc
                await asyncio.sleep(max(0.0, self._retry_after - time.monotonic()))

    def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self.message = (f"a deployment actor of deployment {self.deployment!r} (application {self.app_name!r}) "
                        f"failed to start: {exc}")
        self._retry_after = time.monotonic() + min(MAX_RETRY_DELAY_S, 0.1 * 2 ** self._failures)
        logger.warning("%s", self.message)

    async def _start_one(self, record: ActorRecord) -> None:
        sd = runtime()
        try:
            record.handle = sd.get_actor(record.actor_name)  # alive: a restarted controller takes it back
        except ValueError:
            record.handle = self._create(record)
        try:
            await asyncio.wrap_future(record.handle.__ray_ready__.remote().future())
        except BaseException as exc:
            self._kill(record)
            if isinstance(exc, Exception):
                raise RuntimeError(f"deployment actor {record.config.name!r}: {exc}") from exc
            raise
        record.running, record.missed_checks = True, 0
        record.next_health_check = time.monotonic() + self.health_check_period_s
        logger.info("deployment actor %s of %s started", record.config.name, self.deployment)

    def _create(self, record: ActorRecord) -> Any:
        config = record.config
        options = dict(config.actor_options)
        runtime_env = {**self.runtime_env, **(options.get("runtime_env") or {})}
        if runtime_env:
            options["runtime_env"] = runtime_env
        # detached: the actors outlive a controller that dies (the next takes them back by name); the
        # controller, not the runtime, starts a dead one again
        options.update(name=record.actor_name, lifetime="detached", max_restarts=0)
        return config.remote_class().options(**options).remote(*config.init_args, **config.init_kwargs)

    # ---- the control loop's step
    def reconcile(self, now: float, spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        """Start again what is not running (after a backoff); health-check the running ones."""
        releasing = any(r.releasing for r in self.records.values())
        if not self.ready and not self._starting and not releasing and now >= self._retry_after:
            self._starting = True
            spawn(self._start_again())
        for record in self.records.values():
            if record.running and not record.checking and now >= record.next_health_check:
                record.checking = True
                spawn(self._health_check(record))

    async def _start_again(self) -> None:
        try:
            await self.start()
        except Exception as exc:  # noqa: BLE001 - recorded in self.message; tried again after a backoff
            self._failed(exc)
        finally:
            self._starting = False

    async def _health_check(self, record: ActorRecord) -> None:
        from streamdata.errors import ActorError

        try:
            ready = record.handle.__ray_ready__.remote().future()
            await asyncio.wait_for(asyncio.wrap_future(ready), self.health_check_timeout_s)
            record.missed_checks = 0
        except ActorError as exc:  # it died: start another
            self.message = f"deployment actor {record.config.name!r} of {self.deployment!r} died: {exc}"
            logger.warning("%s; starting it again", self.message)
            await self._replace(record)
        except Exception as exc:  # noqa: BLE001 - it took too long (busy, or hung)
            record.missed_checks += 1
            if record.missed_checks >= MAX_MISSED_HEALTH_CHECKS:
                self.message = (f"deployment actor {record.config.name!r} of {self.deployment!r} failed "
                                f"{record.missed_checks} health checks in a row ({type(exc).__name__}); replacing it")
                logger.warning("%s", self.message)
                await self._replace(record)
        finally:
            record.checking = False
            record.next_health_check = time.monotonic() + self.health_check_period_s

    async def _replace(self, record: ActorRecord) -> None:
        """Kill ``record``'s actor; :meth:`reconcile` starts a new one once its name is free."""
        record.releasing = True
        self._kill(record)
        try:
            await _names_released([record.actor_name])
        finally:
            record.releasing = False

    # ---- stopping
    def _kill(self, record: ActorRecord) -> None:
        record.running = False
        handle, record.handle = record.handle, None
        if handle is not None:
            try:
                runtime().kill(handle)
            except Exception:  # noqa: BLE001 - already gone, or the runtime stops
                pass

    async def stop(self) -> None:
        """Kill every actor (after the deployment's replicas stopped) and wait until their
        names are free, so that a deploy right after starts new ones."""
        sd = runtime()
        for record in self.records.values():
            self._kill(record)
            try:  # one started by a start that was cancelled before it kept the handle
                sd.kill(sd.get_actor(record.actor_name))
            except Exception:  # noqa: BLE001 - none (the usual case)
                pass
        await _names_released([r.actor_name for r in self.records.values()])


async def _names_released(names: list[str], timeout_s: float = NAME_RELEASE_TIMEOUT_S) -> None:
    """Wait (at most ``timeout_s``) until no live actor has one of ``names``."""
    sd = runtime()
    deadline = time.monotonic() + timeout_s
    for name in names:
        while time.monotonic() < deadline:
            try:
                sd.get_actor(name)
            except Exception:  # noqa: BLE001 - gone (or the runtime is)
                break
            await asyncio.sleep(0.01)


__all__ = ["ActorRecord", "DeploymentActors"]
