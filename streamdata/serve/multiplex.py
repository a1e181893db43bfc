"""``@serve.multiplexed``: a replica keeps up to ``max_num_models_per_replica``
models loaded (least recently used goes first) and loads each at most once,
however many requests ask for it at the same time (Ray Serve's).

Example:
    >>> import asyncio
    >>> class Models:
    ...     loads = 0
    ...     @multiplexed(max_num_models_per_replica=2)
    ...     async def get_model(self, model_id):
    ...         Models.loads += 1
    ...         return f"model-{model_id}"
    >>> m = Models()
    >>> async def main():
    ...     a = await asyncio.gather(m.get_model("a"), m.get_model("a"))
    ...     await m.get_model("b"); await m.get_model("c"); await m.get_model("a")
    ...     return a
    >>> asyncio.run(main()), Models.loads
    (['model-a', 'model-a'], 4)
"""

from __future__ import annotations

import asyncio
import collections
import functools
import inspect
from typing import Any, Callable

_CACHE_ATTR = "__streamdata_serve_models__"


class _ModelCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.models: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self.loading: dict[str, asyncio.Future] = {}

    async def get(self, model_id: str, load: Callable[[str], Any]) -> Any:
        if model_id in self.models:
            self.models.move_to_end(model_id)
            return self.models[model_id]
        pending = self.loading.get(model_id)
        if pending is not None:
            return await asyncio.shield(pending)
        fut = asyncio.get_running_loop().create_future()
        self.loading[model_id] = fut
        try:
            model = load(model_id)
            if inspect.isawaitable(model):
                model = await model
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters get it through shield
            raise
        finally:
            self.loading.pop(model_id, None)
        while len(self.models) >= self.capacity:
            _, old = self.models.popitem(last=False)
            del old
        self.models[model_id] = model
        fut.set_result(model)
        return model

    def model_ids(self) -> list[str]:
        return list(self.models)


def loaded_model_ids(obj: Any) -> list[str]:
    """The model ids ``obj``'s multiplexed loaders hold."""
    caches = getattr(obj, "__dict__", {}).get(_CACHE_ATTR, {})
    return sorted({mid for cache in caches.values() for mid in cache.model_ids()})


def multiplexed(func: Callable | None = None, max_num_models_per_replica: int = 3) -> Any:
    """Cache the models a loader method returns, per replica (``@serve.multiplexed``).

    Args:
        max_num_models_per_replica: how many models one replica keeps loaded.
    """
    if isinstance(max_num_models_per_replica, bool) or not isinstance(max_num_models_per_replica, int) \
            or (max_num_models_per_replica < 1 and max_num_models_per_replica != -1):
        raise ValueError(f"max_num_models_per_replica must be an int >= 1 (or -1: no limit), got "
                         f"{max_num_models_per_replica!r}")
    capacity = max_num_models_per_replica if max_num_models_per_replica > 0 else 2 ** 62

    def decorate(fn: Callable) -> Callable:
        params = list(inspect.signature(fn).parameters)
        is_method = len(params) == 2
        if len(params) not in (1, 2):
            raise TypeError(f"@serve.multiplexed function {fn.__qualname__!r} must take the model id (and "
                            "self, for a method)")
        key = fn.__qualname__
        function_cache: dict[str, _ModelCache] = {}

        @functools.wraps(fn)
        async def wrapper(*args: Any) -> Any:
            if is_method:
                owner, model_id = args
                caches = owner.__dict__.setdefault(_CACHE_ATTR, {})
                load = functools.partial(fn, owner)
            else:
                (model_id,) = args
                caches, load = function_cache, fn
            if not isinstance(model_id, str):
                raise TypeError(f"a multiplexed model id must be a str, got {type(model_id).__name__}")
            cache = caches.get(key)
            if cache is None:
                cache = caches[key] = _ModelCache(capacity)
            return await cache.get(model_id, load)

        return wrapper

    if func is not None:
        return decorate(func)
    return decorate


__all__ = ["loaded_model_ids", "multiplexed"]
