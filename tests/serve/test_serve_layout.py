"""serve's house rules, read from its source: no import cycles between its modules
(imports inside functions included), the proxy never imports the controller,
nothing in streamdata below serve imports serve, no module over 600 lines."""

from __future__ import annotations

import ast
import pathlib

import streamdata

PACKAGE = pathlib.Path(streamdata.__file__).parent
SERVE = PACKAGE / "serve"


def _imports(path: pathlib.Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "streamdata.serve":
                out |= {f"streamdata.serve.{a.name}" for a in node.names}
            elif node.module == "streamdata":
                out |= {f"streamdata.{a.name}" for a in node.names}
            else:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _serve_graph() -> dict[str, set[str]]:
    graph = {}
    for path in SERVE.glob("*.py"):
        name = "streamdata.serve" if path.stem == "__init__" else f"streamdata.serve.{path.stem}"
        graph[name] = {m for m in _imports(path) if m.startswith("streamdata.serve.")}
    return graph


def test_no_import_cycles_in_serve() -> None:
    graph = _serve_graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path[path.index(dep):] + [dep])}")
            if dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for module in sorted(graph):
        if module != "streamdata.serve" and module not in state:
            visit(module, [module])


def test_the_proxy_and_the_data_plane_do_not_import_the_controller() -> None:
    graph = _serve_graph()
    for module in ("http_proxy", "grpc_proxy", "client", "router", "channel", "replica", "handle"):
        deps = graph[f"streamdata.serve.{module}"]
        assert "streamdata.serve.controller" not in deps and "streamdata.serve.api" not in deps, module


def test_nothing_below_serve_imports_it_and_modules_stay_small() -> None:
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "serve" or rel == pathlib.Path("__init__.py"):
            continue
        assert not any(m == "streamdata.serve" or m.startswith("streamdata.serve.") for m in _imports(path)), rel
    for path in SERVE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 600, path.name
