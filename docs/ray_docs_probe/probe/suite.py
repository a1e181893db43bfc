"""What a suite declares (its manifest), and the command line every suite's entry point shares.

    python docs/ray_docs_probe/<suite>.py [NAME ...]   # run (all files, or these) on this checkout
    ... --ray        # the same files on the installed Ray, imports unchanged, for comparison
    ... --report     # counts of the last runs, and each streamdata failure with Ray's result
    ... --gen        # rebuild the local stand-in data first
    ... --urls       # print where to fetch Ray's files (the manifest's commits) and stop

Ray's files go in ``$PROBE_DIR/<suite>/`` (default PROBE_DIR: /tmp/ray-docs-probe), named as in
the suite's manifest; everything the runs make goes in ``$PROBE_DIR/work/<suite>/``.
"""
import argparse
import contextlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Protocol

from . import HERE, REPO, report, spawn
from .rewrite import rewrite_imports, rewrite_paths
from .units import Fence, Unit, docstring_examples, doctest_steps, page_blocks, py_sections

RAW = "https://raw.githubusercontent.com/ray-project/ray"


class Hooks(Protocol):
    """Around each file of a suite (serve: free ports, a Ray cluster for ``--ray``)."""

    def before(self, engine: str) -> dict[str, str]: ...  # extra environment for the run
    def after(self, engine: str) -> str: ...  # a note for the log ("" if none)


@dataclass
class Suite:
    """A suite's manifest and settings; ``kind`` is sections, pages, docstrings or scripts."""

    name: str
    kind: str
    # local name -> (path in ray-project/ray, commit); docstrings: (path in the ray package, Ray version)
    files: dict[str, tuple[str, str]]
    gen: Callable[[Path, Path], None]  # stand-ins: (data folder, folder of Ray's files)
    alarm_s: int = 90  # per unit
    timeout_s: int = 180  # per process (per group where one process runs several)
    ray_timeout_s: int | None = None
    script_timeout_s: int = 180  # scripts: per whole-script run
    skip_words: dict[str, str] = field(default_factory=dict)  # word of a section name -> reason, any file
    skip: dict[str, str] = field(default_factory=dict)  # "group/unit" -> reason
    ray_skip: dict[str, str] = field(default_factory=dict)  # the same, only with --ray
    additions: dict[str, list[str | Fence]] = field(default_factory=dict)  # page -> blocks run after the page's
    env: dict[str, str] = field(default_factory=dict)  # "{work}" expands
    streamdata_env: dict[str, str] = field(default_factory=dict)  # only when running on streamdata
    pythonpath: list[str] = field(default_factory=list)  # "{work}" and "{here}" expand
    clean: list[str] = field(default_factory=list)  # removed before each file ("~" expands)
    sections_too: list[str] = field(default_factory=list)  # scripts: files also run section by section
    check_output: bool = False  # pages: a testcode's stdout must match its {testoutput} (as Sphinx checks)
    hooks: Hooks | None = None


def manifest(table: str, base: str) -> dict[str, tuple[str, str]]:
    """``{local name: (path in ray-project/ray, commit)}`` from lines ``LOCAL COMMIT [PATH under base]``
    (PATH defaults to LOCAL; ``#`` starts a comment)."""
    files = {}
    for line in table.splitlines():
        if not (line := line.split("#", 1)[0].strip()):
            continue
        local, commit, *path = line.split()
        files[local] = (base + (path[0] if path else local), commit)
    return files


@dataclass
class Ctx:
    suite: Suite
    engine: str  # "streamdata" or "ray"
    src: Path  # Ray's files
    work: Path

    def rewrite(self, code: str, group: str, imports: bool = True) -> str:
        tmp = self.work / "tmp" / self.engine / group
        code = rewrite_paths(code, str(self.work / "data"), str(tmp))
        return rewrite_imports(code) if imports and self.engine == "streamdata" else code

    def expand(self, s: str) -> str:
        return s.format(work=self.work, here=HERE)


def _skip(ctx: Ctx, group: str, unit: str) -> str | None:
    """Why to skip a unit: a word of its name in ``skip_words``, or ``group/unit`` in ``skip``
    (or, on Ray, in ``ray_skip``)."""
    s = ctx.suite
    by_word = next((r for w, r in s.skip_words.items() if re.search(rf"(^|_){w}(_|$)", unit)), None)
    on_ray = s.ray_skip.get(f"{group}/{unit}") if ctx.engine == "ray" else None
    return by_word or s.skip.get(f"{group}/{unit}") or on_ray


def section_units(ctx: Ctx, group: str, path: Path) -> list[Unit]:
    code = ctx.rewrite(path.read_text(), group)
    return [Unit(n, c, skip=_skip(ctx, group, n)) for n, c in py_sections(code)]


def _block_unit(ctx: Ctx, group: str, name: str, kind: str, code: str, skip: str | None,
                want: str | None = None) -> Unit:
    if kind != "doctest":
        return Unit(name, ctx.rewrite(code, group), skip=skip, want=want if ctx.suite.check_output else None)
    steps = doctest_steps(ctx.rewrite(code, group, imports=False))
    return Unit(name, steps=[(ctx.rewrite(s, group), w) for s, w in steps], skip=skip)


def block_units(ctx: Ctx, group: str, blocks: list, text: str = "") -> list[Unit]:
    """Units of a page's blocks ("#i"), then of the suite's additions for the page."""
    units = []
    for i, b in enumerate(blocks):
        skip = "skipif in docs" if b.opts.get("skipif", "").strip() == "True" else _skip(ctx, group, f"#{i}")
        units.append(_block_unit(ctx, group, f"#{i}", b.kind, b.code, skip, b.want))
    for j, add in enumerate(ctx.suite.additions.get(group, []), start=len(blocks)):
        code = add.code(text) if isinstance(add, Fence) else add
        units.append(_block_unit(ctx, group, f"#{j} (probe addition)", "testcode", code, None))
    return units


def docstring_groups(ctx: Ctx) -> list[tuple[str, list[Unit]]]:
    """(module.qualname, units) of the installed Ray's docstrings (found, not imported)."""
    base = Path(importlib.util.find_spec("ray").origin).parent.parent
    wanted = {v for _, v in ctx.suite.files.values()}
    if (have := importlib.metadata.version("ray")) not in wanted:
        print(f"# note: ray {have} is installed; the manifest names {', '.join(sorted(wanted))}", flush=True)
    groups = []
    for mod, (rel, _version) in ctx.suite.files.items():
        for qualname, blocks in docstring_examples((base / rel).read_text()):
            group = f"{mod}.{qualname}"
            groups.append((group, block_units(ctx, group, blocks)))
    return groups


def _env(ctx: Ctx, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    paths = [ctx.expand(p) for p in ctx.suite.pythonpath] + ([str(REPO)] if ctx.engine == "streamdata" else [])
    env.update({k: ctx.expand(v) for k, v in ctx.suite.env.items()}, PYTHONPATH=os.pathsep.join(paths), **extra)
    if ctx.engine == "streamdata":
        env.update(ctx.suite.streamdata_env)
    return env


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@contextlib.contextmanager
def _around(ctx: Ctx, label: str, groups: list[str]) -> Iterator[dict[str, str]]:
    """Fresh /tmp folders, the suite's clean-up and hooks around one run; yields its environment."""
    for name in groups:
        _fresh(ctx.work / "tmp" / ctx.engine / name)
    for p in ctx.suite.clean:
        shutil.rmtree(os.path.expanduser(p), ignore_errors=True)
    hooks = ctx.suite.hooks
    yield _env(ctx, hooks.before(ctx.engine) if hooks else {})
    if hooks and (note := hooks.after(ctx.engine)):
        print(f"# {label}: {note}", flush=True)


def _run_groups(ctx: Ctx, groups: list[tuple[str, list[Unit]]], label: str) -> list[spawn.Row]:
    s = ctx.suite
    timeout = s.ray_timeout_s if ctx.engine == "ray" and s.ray_timeout_s else s.timeout_s
    with _around(ctx, label, [n for n, _ in groups]) as env:
        return spawn.run_units([{"name": n, "units": [u.to_json() for u in us]} for n, us in groups],
                               engine=ctx.engine, alarm_s=s.alarm_s, timeout_s=timeout, env=env,
                               cwd=ctx.work / "cwd" / ctx.engine, log=ctx.work / "logs" / ctx.engine / label)


def _run_script(ctx: Ctx, name: str, path: Path) -> spawn.Row:
    cwd = ctx.work / "cwd" / ctx.engine
    script = cwd / path.name
    script.write_text(ctx.rewrite(path.read_text(), name))
    with _around(ctx, name, [name]) as env:
        result = spawn.run_script(script, timeout_s=ctx.suite.script_timeout_s, env=env, cwd=cwd,
                                  log=ctx.work / "logs" / ctx.engine / name)
    return (name, "(script)", result)


def run(ctx: Ctx, names: list[str]) -> list[spawn.Row]:
    """Run the manifest's files (or ``names``), printing each row as its file finishes."""
    s, rows = ctx.suite, []
    if s.kind == "docstrings":
        groups = docstring_groups(ctx)
        rows = _run_groups(ctx, [g for g in groups if not names or g[0] in names], "docstrings")
        for r in rows:
            print("\t".join(r), flush=True)
        return rows
    for local in s.files:
        path, stem = ctx.src / local, Path(local).stem
        if names and stem not in names or path.suffix not in (".py", ".md", ".rst"):
            continue
        if s.kind == "scripts":
            new = [_run_script(ctx, stem, path)]
            if stem in s.sections_too:
                new += _run_groups(ctx, [(f"{stem} (sections)", section_units(ctx, f"{stem} (sections)", path))],
                                   f"{stem}.sections")
        elif s.kind == "sections":
            new = _run_groups(ctx, [(stem, section_units(ctx, stem, path))], stem)
        else:
            text = path.read_text()
            blocks = page_blocks(text, rst=path.suffix == ".rst")
            new = _run_groups(ctx, [(stem, block_units(ctx, stem, blocks, text))], stem)
        for r in new:
            print("\t".join(r), flush=True)
        rows += new
    return rows


def main(suite: Suite) -> None:
    ap = argparse.ArgumentParser(description=f"Ray docs probe: {suite.name}")
    ap.add_argument("names", nargs="*", help="only these files (names without .py/.md)")
    ap.add_argument("--ray", action="store_true", help="run on the installed Ray, imports unchanged")
    ap.add_argument("--report", action="store_true", help="only print the counts of the last runs")
    ap.add_argument("--gen", action="store_true", help="rebuild the stand-in data")
    ap.add_argument("--urls", action="store_true", help="print curl commands for Ray's files")
    a = ap.parse_args()
    probe_dir = Path(os.environ.get("PROBE_DIR", "/tmp/ray-docs-probe")).resolve()
    ctx = Ctx(suite, "ray" if a.ray else "streamdata", probe_dir / suite.name, probe_dir / "work" / suite.name)
    results = {e: ctx.work / f"results.{e}.tsv" for e in ("streamdata", "ray")}
    if a.urls:
        if suite.kind == "docstrings":
            version = next(iter(suite.files.values()))[1]
            print(f"pip install ray=={version}  # the docstrings come from the installed package")
            return
        for local, (path, commit) in suite.files.items():
            print(f"curl -fsSL --create-dirs -o {ctx.src / local} {RAW}/{commit}/{path}")
        return
    if not a.report:
        missing = [f for f in suite.files if suite.kind != "docstrings" and not (ctx.src / f).exists()
                   and (not a.names or Path(f).stem in a.names)]
        if missing:
            sys.exit(f"missing in {ctx.src}: {', '.join(missing)} (see --urls and the README)")
        data = ctx.work / "data"
        if a.gen or not (data / ".done").exists():
            suite.gen(_fresh(data), ctx.src)
            (data / ".done").touch()
        _fresh(ctx.work / "cwd" / ctx.engine)
        rows = run(ctx, a.names)
        order = list(dict.fromkeys(g for g, _, _ in report.read(results[ctx.engine]) + rows))
        report.write(results[ctx.engine], rows, order)
    for engine, path in results.items():
        if path.exists():
            report.summary(report.read(path), f"{suite.name} on {engine} ({path})")
    if a.report and results["ray"].exists():
        report.compare(report.read(results["streamdata"]), report.read(results["ray"]))
