"""Lazy call graphs (Ray's DAG API): ``f.bind(...)``, ``Cls.bind(...)``,
``actor.method.bind(...)``, ``InputNode`` and ``MultiOutputNode``, run by
``node.execute(...)``.

``bind`` records a call instead of making it; ``execute`` submits the graph's calls
as ordinary tasks and actor calls (an upstream node's ObjectRef becomes the
downstream call's argument, so nothing waits in the driver) and returns the
output node's ref (a list of refs for a ``MultiOutputNode``). Each ``execute``
runs every node once, however many nodes share it. A ``Cls.bind`` node makes a
new actor on each ``execute``; its bound method calls run in the order they were
bound. Compiled graphs (``experimental_compile``) are not supported.

Example:
    >>> import streamdata as sd
    >>> from streamdata.dag import InputNode
    >>> @sd.remote
    ... def add(a, b):
    ...     return a + b
    >>> with InputNode() as x:
    ...     dag = add.bind(add.bind(x, 1), x)
    >>> sd.get(dag.execute(5))
    11
"""

from __future__ import annotations

from typing import Any


class DAGNode:
    """A node of a call graph; ``execute`` runs the graph that ends here."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the graph's calls with ``args``/``kwargs`` as the ``InputNode``'s value;
        the refs of this node's result."""
        return _Run(args, kwargs).resolve(self)

    def experimental_compile(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("compiled graphs (DAGNode.experimental_compile) are not supported by "
                                  "streamdata; call execute() to run the graph as tasks")

    def _run(self, run: "_Run") -> Any:  # pragma: no cover - every node defines it
        raise NotImplementedError(f"{type(self).__name__} must implement _run()")


class FunctionNode(DAGNode):
    """``remote_function.bind(*args, **kwargs)``."""

    def __init__(self, fn: Any, args: tuple, kwargs: dict) -> None:
        self._fn, self._args, self._kwargs = fn, args, kwargs

    def _run(self, run: "_Run") -> Any:
        return self._fn.remote(*run.values(self._args), **run.values(self._kwargs))

    def __repr__(self) -> str:
        return f"FunctionNode({self._fn.__name__})"


class ClassNode(DAGNode):
    """``ActorClass.bind(*args, **kwargs)``: an actor made when the graph runs."""

    def __init__(self, cls: Any, args: tuple, kwargs: dict) -> None:
        self._cls, self._args, self._kwargs = cls, args, kwargs
        self._last_call: ClassMethodNode | None = None

    def __getattr__(self, name: str) -> "_BindableMethod":
        if name.startswith("_"):
            raise AttributeError(name)
        return _BindableMethod(self, name)

    def _run(self, run: "_Run") -> Any:
        return self._cls.remote(*run.values(self._args), **run.values(self._kwargs))

    def __repr__(self) -> str:
        return f"ClassNode({self._cls.__name__})"


class _BindableMethod:
    def __init__(self, target: ClassNode, name: str) -> None:
        self._target, self._name = target, name

    def bind(self, *args: Any, **kwargs: Any) -> "ClassMethodNode":
        node = ClassMethodNode(self._target, self._name, args, kwargs, prev=self._target._last_call)
        self._target._last_call = node
        return node


class ClassMethodNode(DAGNode):
    """``actor.method.bind(...)`` on a ``ClassNode`` or on a live actor handle."""

    def __init__(self, target: Any, method: str, args: tuple, kwargs: dict,
                 prev: "ClassMethodNode | None" = None) -> None:
        self._target, self._method, self._args, self._kwargs, self._prev = target, method, args, kwargs, prev

    def _run(self, run: "_Run") -> Any:
        if self._prev is not None:  # the calls bound before this one go first, in order
            run.resolve(self._prev)
        handle = run.resolve(self._target) if isinstance(self._target, DAGNode) else self._target
        return getattr(handle, self._method).remote(*run.values(self._args), **run.values(self._kwargs))

    def __repr__(self) -> str:
        return f"ClassMethodNode({self._method})"


class InputNode(DAGNode):
    """The graph's input: the arguments of ``execute`` (one positional argument: that
    value). ``node[key]`` and ``node.attr`` select from it. Use as a context manager."""

    def __enter__(self) -> "InputNode":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __getitem__(self, key: Any) -> "InputAttributeNode":
        return InputAttributeNode(self, key, "item")

    def __getattr__(self, name: str) -> "InputAttributeNode":
        if name.startswith("_"):
            raise AttributeError(name)
        return InputAttributeNode(self, name, "attr")

    def _run(self, run: "_Run") -> Any:
        if len(run.args) == 1 and not run.kwargs:
            return run.args[0]
        if not run.args and not run.kwargs:
            raise ValueError("the graph has an InputNode: pass its value to execute(...)")
        return _Input(run.args, run.kwargs)

    def __repr__(self) -> str:
        return "InputNode()"


class _Input:
    """Several ``execute`` arguments: ``input[0]`` is positional, ``input["k"]``/``input.k`` by name."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self.args, self.kwargs = args, kwargs

    def __getitem__(self, key: Any) -> Any:
        return self.args[key] if isinstance(key, int) else self.kwargs[key]


class InputAttributeNode(DAGNode):
    """``input_node[key]`` or ``input_node.name``."""

    def __init__(self, source: InputNode, key: Any, how: str) -> None:
        self._source, self._key, self._how = source, key, how

    def _run(self, run: "_Run") -> Any:
        value = run.resolve(self._source)
        if isinstance(value, _Input):
            return value.args[self._key] if isinstance(self._key, int) else value.kwargs[self._key]
        return value[self._key] if self._how == "item" else getattr(value, self._key)


class MultiOutputNode(DAGNode):
    """Several outputs: ``execute`` returns the list of their refs."""

    def __init__(self, outputs: list[DAGNode]) -> None:
        if not isinstance(outputs, (list, tuple)) or not all(isinstance(n, DAGNode) for n in outputs):
            raise TypeError(f"MultiOutputNode takes a list of bound nodes, got {outputs!r}")
        self._outputs = list(outputs)

    def _run(self, run: "_Run") -> list:
        return [run.resolve(node) for node in self._outputs]


class _Run:
    """One ``execute``: each node's result, computed once."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self.args, self.kwargs = args, kwargs
        self._done: dict[int, Any] = {}
        self._keep: list[DAGNode] = []  # (ids stay unique while the run lives)

    def resolve(self, node: DAGNode) -> Any:
        key = id(node)
        if key not in self._done:
            self._keep.append(node)
            self._done[key] = node._run(self)
        return self._done[key]

    def values(self, obj: Any) -> Any:
        """``obj`` with every node in it (also inside lists, tuples and dicts) replaced by its result."""
        if isinstance(obj, DAGNode):
            return self.resolve(obj)
        if isinstance(obj, dict):
            return {k: self.values(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(self.values(v) for v in obj)
        return obj
