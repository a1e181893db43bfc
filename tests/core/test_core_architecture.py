"""The shape of streamdata.core, read from its source (no process is started).

* no import cycle among core's modules (imports inside functions and under
  ``TYPE_CHECKING`` count too);
* core imports nothing of streamdata but ``streamdata.errors``;
* the state machine imports no I/O module; no core module is over 600 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import streamdata.core

CORE = Path(streamdata.core.__file__).parent
PKG = "streamdata.core"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PKG, *parts])


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def core_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in CORE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in files and m != name and m != PKG}
            for name, path in files.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_has_no_import_cycle() -> None:
    assert strongly_connected(core_graph()) == []


def test_core_imports_only_errors_of_streamdata() -> None:
    bad = {}
    for path in CORE.rglob("*.py"):
        outside = {m for m in imports_of(path) if m.split(".")[0] == "streamdata"
                   and not m.startswith(PKG) and m != "streamdata.errors"
                   and not m.startswith("streamdata.errors.")}
        if outside:
            bad[module_name(path)] = sorted(outside)
    assert bad == {}


def test_the_state_machine_does_no_io() -> None:
    io_modules = {"os", "socket", "selectors", "subprocess", "threading", "shutil", "multiprocessing",
                  f"{PKG}.processes", f"{PKG}.runtime", f"{PKG}.worker"}
    for name in ("state", "events", "object_directory", "actor_manager", "placement", "requests", "tasks",
                 "host"):
        found = {m.split(".")[0] if not m.startswith(PKG) else m for m in imports_of(CORE / f"{name}.py")}
        assert not (found & io_modules), f"{name}.py imports {sorted(found & io_modules)}"


def test_no_core_module_over_600_lines() -> None:
    sizes = {module_name(p): len(p.read_text().splitlines()) for p in CORE.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > 600} == {}
