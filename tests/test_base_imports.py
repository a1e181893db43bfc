"""The base-layer packages this layer owns (expressions, aggregation kernels, DataType) import
nothing above them: only pyarrow/numpy/stdlib-level packages and other base modules. Read from
the source, so a new import of the engine, the plan or the facade fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "streamdata"
BASE_FILES = sorted([*ROOT.glob("expressions/*.py"), *ROOT.glob("aggregation/*.py"), ROOT / "datatype.py",
                     ROOT / "expression_parser.py"])
#: streamdata modules a base module may import
ALLOWED = ("streamdata.expressions", "streamdata.aggregation", "streamdata.errors", "streamdata.context",
           "streamdata.tensor", "streamdata.datatype")


def _imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
    return [m for m in out if m == "streamdata" or m.startswith("streamdata.")]


@pytest.mark.parametrize("path", BASE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_base_module_imports_only_base(path: Path) -> None:
    bad = [m for m in _imports(path) if not m.startswith(ALLOWED)]
    assert bad == [], f"{path.relative_to(ROOT)} imports {bad}"


def test_no_module_over_600_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in BASE_FILES if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}


def test_exec_reaches_the_kernels_without_the_public_aggregate_module() -> None:
    for path in (ROOT / "exec").rglob("*.py"):
        assert "streamdata.aggregate" not in _imports(path), path
