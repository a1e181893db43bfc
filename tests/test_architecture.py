"""The architecture's rules, checked on the source: who may import whom (DESIGN.md "Who
may import whom"), no import cycles between modules, no module over 600 lines.

Imports are read with :mod:`ast` from every module of ``streamdata/`` (module level and
inside functions; imports under ``if TYPE_CHECKING:`` are left out: they never run).
An import names the most specific module it loads: ``from a.b import c`` is an import
of ``a.b.c`` when that is a module, else of ``a.b``.

Violations that work in progress is removing sit in :data:`PENDING`, each with the work
that removes it. The test fails on any violation not listed there, and on any listed
one that is gone (remove it from the list when its work lands).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "streamdata"
MAX_LINES = 600

#: base types: blocks, metadata, read/write tasks, tensor types, errors, context, expressions,
#: data types, aggregation kernels (a package here stands for its modules too)
BASE = frozenset({
    "streamdata.aggregation", "streamdata.block", "streamdata.block_metadata", "streamdata.context",
    "streamdata.datatype", "streamdata.errors", "streamdata.exceptions", "streamdata.expression_parser",
    "streamdata.expressions", "streamdata.read_task", "streamdata.tensor", "streamdata.write_context",
    "streamdata.context_fields", "streamdata.context_options", "streamdata.configs",
    "streamdata.schema", "streamdata.summary", "streamdata.lazy", "streamdata.numpy_batch",
    "streamdata.block_rows", "streamdata.kept_dictionary", "streamdata.block_pandas", "streamdata.batcher",
    "streamdata.block_accessor", "streamdata.block_concat", "streamdata.dataset_repr",
})
#: the Dataset facade and the execution layer above plan
FACADE = frozenset({"streamdata.dataset", "streamdata.grouped", "streamdata.iterator", "streamdata.read_api",
                    "streamdata.dataset_columns", "streamdata.dataset_meta", "streamdata.dataset_interop",
                    "streamdata.iterator_extras", "streamdata.read_refs", "streamdata.dataset_display",
                    "streamdata.dataset_display_plan"})
EXECUTION = frozenset({"streamdata.execution"})

#: (rule, importer, imported) or ("cycle", first module of the cycle, "") or ("lines", module, "")
#: that work in progress removes; each entry names that work.
PENDING: dict[tuple[str, str, str], str] = {
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, *, type_checking: bool = False) -> set[str]:
    """The streamdata modules ``module`` imports (TYPE_CHECKING blocks left out unless
    ``type_checking``)."""
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test) and not type_checking:
                for stmt in child.orelse:
                    visit(stmt)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.add(alias.name)
            elif isinstance(child, ast.ImportFrom):
                target = _resolve(module, is_package, child)
                for alias in child.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in MODULES else target)
            visit(child)

    visit(tree)
    return {m for m in found if m in MODULES and m != module}


GRAPH: dict[str, set[str]] = {m: _imports(m, p) for m, p in MODULES.items()}
#: with the imports type checkers read too
TYPED_GRAPH: dict[str, set[str]] = {m: _imports(m, p, type_checking=True) for m, p in MODULES.items()}



def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _base(module: str) -> bool:
    return any(_in(module, b) for b in BASE)


def _layer_violation(importer: str, imported: str) -> str | None:
    """The rule ``importer`` → ``imported`` breaks, or None."""
    if importer == "streamdata" or _in(importer, "streamdata.air"):  # the public API (and Ray's ray.air
        return None                                                  # names over train) may import anything
    for client in ("streamdata.train", "streamdata.serve"):
        if _in(imported, client) and not _in(importer, client):
            return f"nothing below {client} imports it"
    if _in(imported, "streamdata.util") and (_in(importer, "streamdata.exec") or _in(importer, "streamdata.plan")):
        return "util (Ray's ray.util, a client of core) is never imported by exec or plan"
    if _in(importer, "streamdata.util") and not (_in(imported, "streamdata.util") or _in(imported, "streamdata.core")
                                                or imported in ("streamdata.errors", "streamdata.lazy")):
        return "util (Ray's ray.util on the runtime) imports only util, core, errors and lazy"
    if _base(importer) and not _base(imported):
        return "base types import only base types"
    if _in(importer, "streamdata.core") and not (_in(imported, "streamdata.core")
                                                or imported == "streamdata.errors"):
        return "core imports only core and streamdata.errors"
    if _in(importer, "streamdata.io") and not (_in(imported, "streamdata.io") or _base(imported)):
        return "io imports only io and the base types"
    if _in(importer, "streamdata.exec") and (_in(imported, "streamdata.plan") or _in(imported, "streamdata.io")
                                            or imported in FACADE or imported in EXECUTION):
        return "exec never imports plan, io or the facade"
    if _in(importer, "streamdata.plan") and (imported in FACADE or imported in EXECUTION):
        return "plan never imports the facade or the execution layer"
    return None


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
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


def _violations() -> dict[tuple[str, str, str], str]:
    found: dict[tuple[str, str, str], str] = {}
    for importer, imported in sorted((a, b) for a, bs in GRAPH.items() for b in bs):
        rule = _layer_violation(importer, imported)
        if rule is not None:
            found[("layer", importer, imported)] = rule
    for component in _strongly_connected(GRAPH):
        found[("cycle", component[0], "")] = "import cycle: " + " ↔ ".join(component)
    for module, path in MODULES.items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            found[("lines", module, "")] = f"{lines} lines (at most {MAX_LINES})"
    return found


def test_the_import_reader_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from streamdata import dataset\n"
              "def f():\n    from streamdata.plan import logical\n    import streamdata.errors\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert _imports("streamdata.probe", path) == {"streamdata.plan.logical", "streamdata.errors"}


def test_tarjan_finds_cycles_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert _strongly_connected(graph) == [["a", "b", "c"]]
    assert _strongly_connected({"x": {"y"}, "y": set()}) == []


def test_type_annotations_close_no_cycle() -> None:
    """Counting ``if TYPE_CHECKING:`` imports too, no module imports one that imports it back
    (a node family's lowering sees the lowerer through a protocol; the Dataset's mixins
    return the class they are given, ``ColumnsMixin["Dataset"]``, instead of importing it)."""
    assert _strongly_connected(TYPED_GRAPH) == []


def test_the_rules_catch_what_design_md_forbids() -> None:
    assert _layer_violation("streamdata.exec.executor", "streamdata.plan.logical")
    assert _layer_violation("streamdata.exec.executor", "streamdata.io.parquet")
    assert _layer_violation("streamdata.core.api", "streamdata.block")
    assert _layer_violation("streamdata.io.csv", "streamdata.exec.interfaces")
    assert _layer_violation("streamdata.plan.lowering", "streamdata.dataset")
    assert _layer_violation("streamdata.block", "streamdata.io.tensor")
    assert _layer_violation("streamdata.dataset", "streamdata.train.trainer")
    assert _layer_violation("streamdata.aggregation.base", "streamdata.exec.shuffle.grouping")
    assert _layer_violation("streamdata.expressions.core", "streamdata.plan.logical")
    assert _layer_violation("streamdata.expressions", "streamdata.expressions.core") is None
    assert _layer_violation("streamdata.exec.shuffle.groupby", "streamdata.aggregation.grouping") is None
    assert _layer_violation("streamdata.plan.lowering.maps", "streamdata.exec.interfaces") is None
    assert _layer_violation("streamdata.core.api", "streamdata.errors") is None
    assert _layer_violation("streamdata", "streamdata.train") is None


def test_no_new_violations() -> None:
    new = {k: v for k, v in _violations().items() if k not in PENDING}
    assert not new, "architecture violations (DESIGN.md):\n" + "\n".join(
        f"  {kind}: {a}{' -> ' + b if b else ''}: {why}" for (kind, a, b), why in sorted(new.items()))


def test_pending_violations_still_exist() -> None:
    gone = [k for k in PENDING if k not in _violations()]
    assert not gone, ("these PENDING entries are fixed: remove them from tests/test_architecture.py: "
                      + ", ".join(map(str, gone)))


LOGICAL_NODE_NAMES = frozenset({
    "Read", "InputData", "Write", "MapBatches", "MapRows", "FlatMap", "Filter", "Project", "WithColumn",
    "RandomSample", "FusedMap", "Limit", "Union", "Zip", "Sort", "RandomShuffle", "RandomizeBlockOrder",
    "Repartition", "Aggregate", "MapGroups", "Join", "ActorPoolStrategy", "TaskPoolStrategy",
})


def test_exec_never_compares_class_names() -> None:
    """exec never recognizes a logical node by its class name (``type(x).__name__ == "Sort"``,
    ``kind == "Sort"``): no comparison in exec names a logical node class."""
    found = []
    for module, path in MODULES.items():
        if not _in(module, "streamdata.exec"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                names = [c.value for c in [node.left, *node.comparators]
                         if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                for c in [node.left, *node.comparators]:
                    if isinstance(c, (ast.Tuple, ast.Set, ast.List)):
                        names += [e.value for e in c.elts if isinstance(e, ast.Constant)]
                if LOGICAL_NODE_NAMES.intersection(names):
                    found.append(f"{module}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "exec dispatches on logical class names:\n" + "\n".join(found)
