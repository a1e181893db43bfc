"""The state machine of streamdata.core does no I/O, read from its source (no process is
started). Core's other rules (no import cycle, even counting ``TYPE_CHECKING`` imports;
nothing of streamdata imported but ``streamdata.errors``; no module over 600 lines) are
checked with the whole package's in tests/test_architecture.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import streamdata.core

CORE = Path(streamdata.core.__file__).parent
PKG = "streamdata.core"


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


def test_the_state_machine_does_no_io() -> None:
    io_modules = {"os", "socket", "selectors", "subprocess", "threading", "shutil", "multiprocessing",
                  f"{PKG}.processes", f"{PKG}.runtime", f"{PKG}.worker"}
    for name in ("state", "events", "object_directory", "actor_manager", "placement", "requests", "tasks",
                 "host"):
        found = {m.split(".")[0] if not m.startswith(PKG) else m for m in imports_of(CORE / f"{name}.py")}
        assert not (found & io_modules), f"{name}.py imports {sorted(found & io_modules)}"
