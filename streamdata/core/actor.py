"""``@sd.remote`` classes: actor classes, handles and methods (Ray's names).

Example:
    >>> import streamdata as sd
    >>> @sd.remote
    ... class Counter:
    ...     def __init__(self):
    ...         self.n = 0
    ...     def incr(self):
    ...         self.n += 1
    ...         return self.n
    >>> c = Counter.remote()
    >>> sd.get([c.incr.remote(), c.incr.remote()])
    [1, 2]
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Callable, TypeVar, Union

from streamdata.core import context, serialization
from streamdata.core.concurrency_groups import call_target, check_groups
from streamdata.core.object_ref import ObjectRefGenerator, tracker
from streamdata.core.validate import check_int
from streamdata.core.remote_function import (
    ACTOR_OPTIONS,
    PickledCallable,
    check_options,
    placement_env,
    placement_fields,
    runtime_env_vars,
    submission_env,
)
from streamdata.core.resources import normalize_demand


def method(*args: Any, num_returns: int | str | None = None, concurrency_group: str | None = None,
           max_task_retries: int | None = None, retry_exceptions: Any = None,
           _generator_backpressure_num_objects: int | None = None, enable_task_events: bool | None = None,
           tensor_transport: str | None = None) -> Callable:
    """Declare options of an actor method: ``@sd.method(num_returns=2)``; bare ``@sd.method``
    (Ray's way to give type checkers an actor method's signature) declares none.

    ``num_returns`` is honoured, and ``concurrency_group`` (one of the actor's
    ``concurrency_groups``: see :mod:`streamdata.core.concurrency_groups`); the
    other options are accepted for Ray's signature.

    Example:
        >>> @method(num_returns=2)
        ... def pair(self):
        ...     return 1, 2
        >>> pair.__sd_num_returns__
        2
        >>> @method
        ... def one(self) -> int:
        ...     return 1
        >>> one.__name__
        'one'
    """
    if len(args) == 1 and callable(args[0]) and num_returns is None and concurrency_group is None:
        return args[0]  # bare @sd.method
    if args:
        raise TypeError("use @sd.method or @sd.method(num_returns=...) with keyword arguments")
    _check_num_returns(num_returns)
    if concurrency_group is not None and not isinstance(concurrency_group, str):
        raise TypeError(f"concurrency_group must be a str, got {concurrency_group!r}")

    def decorate(fn: Callable) -> Callable:
        if num_returns is not None:
            fn.__sd_num_returns__ = num_returns  # type: ignore[attr-defined]
        fn.__sd_concurrency_group__ = concurrency_group  # type: ignore[attr-defined]
        return fn
    return decorate


def _check_num_returns(num_returns: Any) -> None:
    if num_returns is not None and num_returns != "streaming" and (
            not isinstance(num_returns, int) or isinstance(num_returns, bool) or num_returns < 0):
        raise ValueError(f"num_returns must be an int >= 0 or 'streaming', got {num_returns!r}")


def _method_table(cls: type) -> tuple[dict[str, Any], bool]:
    methods: dict[str, Any] = {}
    is_async = False
    for name, member in inspect.getmembers(cls, predicate=callable):
        if name.startswith("__") and name not in ("__call__",):
            continue
        # as Ray: a generator method's default is a streaming generator
        default = "streaming" if inspect.isgeneratorfunction(member) or inspect.isasyncgenfunction(member) else 1
        methods[name] = getattr(member, "__sd_num_returns__", default)
        if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member):
            is_async = True
    return methods, is_async


T = TypeVar("T")


class ActorClass:
    """A class whose instances live in their own worker process; ``ActorClass[Counter]``
    annotates ``sd.remote(Counter)``, as in Ray."""

    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, cls: type, options: dict | None = None, pickled: PickledCallable | None = None) -> None:
        options = dict(options or {})
        check_options(options, ACTOR_OPTIONS, "actor")
        self._cls = cls
        self._options = options
        self._pickled = pickled or PickledCallable(cls)
        self._methods, self._is_async = _method_table(cls)
        self.__name__ = cls.__name__
        self._demand = normalize_demand(options.get("num_cpus"), options.get("num_gpus"),
                                        options.get("memory"), options.get("resources"), default_cpus=0)
        runtime_env_vars(options.get("runtime_env"), install=False)
        self._env: dict[str, str] | None = None  # at the first creation: a pip env installs then
        max_concurrency = check_int("max_concurrency", options.get("max_concurrency", 1000 if self._is_async else 1),
                                    minimum=1)
        check_int("max_restarts", options.get("max_restarts", 0), minimum=-1, what="(-1: restart forever)")
        check_int("max_task_retries", options.get("max_task_retries", 0), minimum=-1,
                  what="(-1: retry forever)")
        lifetime = options.get("lifetime")
        if lifetime not in (None, "detached", "non_detached"):
            raise ValueError(f"lifetime must be None, 'detached' or 'non_detached', got {lifetime!r}")
        self._max_concurrency = max_concurrency
        self._groups = check_groups(options.get("concurrency_groups"), cls)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor class {self.__name__} cannot be instantiated directly; "
                        f"use {self.__name__}.remote(...)")

    def options(self, **options: Any) -> "ActorClass":
        return ActorClass(self._cls, {**self._options, **options}, self._pickled)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A graph node that makes this actor when the graph runs (``node.execute()``)."""
        from streamdata.core.dag import ClassNode
        return ClassNode(self, args, kwargs)

    def get_or_create(self, *args: Any, **kwargs: Any) -> "ActorHandle":
        """The named actor if it exists (the arguments are then ignored), else a new one
        made with them: ``Cls.options(name="a").get_or_create(...)``, as Ray's.

        Raises:
            ValueError: no ``name`` was given in ``options``.
        """
        if not self._options.get("name"):
            raise ValueError(f"{self.__name__}.get_or_create needs a name: "
                             f"use {self.__name__}.options(name=...).get_or_create(...)")
        return self.options(get_if_exists=True).remote(*args, **kwargs)

    def _actor_env(self) -> dict[str, str]:
        if self._env is None:
            self._env = runtime_env_vars(self._options.get("runtime_env"))
        return self._env

    def remote(self, *args: Any, **kwargs: Any) -> "ActorHandle":
        opts = self._options
        name = opts.get("name")
        client = context.current_client()
        if name and opts.get("get_if_exists"):
            try:
                info = client.call("get_actor", name, None)
                return ActorHandle(info["actor_id"], info["class_name"], info["methods"])
            except ValueError:
                pass
        fn_id, fn_bytes = self._pickled.get()
        blob, deps, contained, temps = client.prepare_args(args, kwargs)
        actor_id = client.new_id()
        placement = placement_fields(opts)
        env, env_error = submission_env(self._actor_env, placement_env(placement, opts))
        spec = {
            "kind": "actor", "actor_id": actor_id, "task_id": actor_id, "fn_id": fn_id,
            "fn_bytes": client.function_bytes(fn_id, fn_bytes), "name": self.__name__, "actor_name": name,
            "args": blob, "deps": deps, "contained": contained, "demand": self._demand,
            "max_restarts": opts.get("max_restarts", 0), "max_task_retries": opts.get("max_task_retries", 0),
            "max_concurrency": self._max_concurrency, "is_async": self._is_async,
            "detached": opts.get("lifetime") == "detached",
            "concurrency_groups": self._groups or None,
            "methods": self._methods, "env": env, "env_error": env_error, **placement,
        }
        client.submit(spec, 0)
        del temps
        return ActorHandle(actor_id, self.__name__, self._methods, opts.get("max_task_retries", 0))

    def __repr__(self) -> str:
        return f"ActorClass({self.__name__})"


#: the methods every actor has, as in Ray: ``__ray_ready__()`` (True once the actor is
#: constructed) and ``__ray_call__(fn, *args, **kwargs)`` (``fn(the actor, *args, **kwargs)``
#: run in the actor)
BUILTIN_ACTOR_METHODS = frozenset({"__ray_ready__", "__ray_call__"})


class ActorHandle:
    """A handle to a live actor; method calls go through ``handle.method.remote()``.
    ``ActorHandle[Counter]`` (or Ray's ``ActorProxy[Counter]``) annotates one."""

    __class_getitem__ = classmethod(types.GenericAlias)

    def __init__(self, actor_id: str, class_name: str, methods: dict[str, int], max_task_retries: int = 0) -> None:
        self._actor_id = actor_id
        self._class_name = class_name
        self._methods = methods
        self._max_task_retries = max_task_retries
        # handles are counted like ObjectRefs: the actor is reclaimed when the last
        # one (in any process, or inside a stored object or a pending task) is gone
        tracker.incr(actor_id)

    def __del__(self) -> None:
        try:
            tracker.decr(self._actor_id)
        except Exception:  # interpreter shutdown
            pass

    def __getattr__(self, name: str) -> "ActorMethod":
        if name in BUILTIN_ACTOR_METHODS:
            return ActorMethod(self, name, 1)
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._methods:
            raise AttributeError(f"actor {self._class_name} has no method {name!r}; "
                                 f"methods: {sorted(self._methods)}")
        return ActorMethod(self, name, self._methods[name])

    def __reduce__(self) -> tuple:
        contained = serialization.current_contained_ids()
        if contained is not None:  # kept alive by the task or object it travels in
            contained.append(self._actor_id)
        return (ActorHandle, (self._actor_id, self._class_name, self._methods, self._max_task_retries))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __repr__(self) -> str:
        return f"Actor({self._class_name}, {self._actor_id})"


#: what ``ActorClass[T].remote()`` returns, for annotations (Ray's alias, subscriptable:
#: ``counter: ActorProxy[Counter] = CounterActor.remote()``)
ActorProxy = Union["ActorHandle[T]", type[T]]


class ActorMethod:
    def __init__(self, handle: ActorHandle, name: str, num_returns: int | str,
                 concurrency_group: str | None = None) -> None:
        self._handle = handle
        self._name = name
        self._num_returns = num_returns
        self._group = concurrency_group

    def options(self, *, num_returns: int | str | None = None, concurrency_group: str | None = None,
                **_ignored: Any) -> "ActorMethod":
        _check_num_returns(num_returns)
        if concurrency_group is not None and not isinstance(concurrency_group, str):
            raise TypeError(f"concurrency_group must be a str, got {concurrency_group!r}")
        return ActorMethod(self._handle, self._name, self._num_returns if num_returns is None else num_returns,
                           concurrency_group or self._group)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor methods cannot be called directly; use .{self._name}.remote(...)")

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A graph node that calls this method when the graph runs (``node.execute()``)."""
        from streamdata.core.dag import ClassMethodNode
        return ClassMethodNode(self._handle, self._name, args, kwargs)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        client = context.current_client()
        blob, deps, contained, temps = client.prepare_args(args, kwargs)
        handle = self._handle
        spec = {
            "kind": "call", "task_id": client.new_id(), "actor_id": handle._actor_id,
            "method": call_target(self._name, self._group),
            "name": f"{handle._class_name}.{self._name}", "args": blob, "deps": deps, "contained": contained,
            "max_retries": handle._max_task_retries,
        }
        if self._num_returns == "streaming":
            spec["streaming"] = True
            refs = client.submit(spec, 1)
            return ObjectRefGenerator(refs[0])
        refs = client.submit(spec, self._num_returns)
        del temps
        if self._num_returns == 1:
            return refs[0]
        return refs if self._num_returns else None
