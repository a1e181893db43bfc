"""Split Ray's files into the units the probe runs, in the order a reader meets them.

- ``py_sections``: a ``doc_code/*.py`` file at its section markers.
- ``page_blocks``: a MyST ``.md`` or ``.rst`` page's ``testcode`` / ``testsetup`` / ``doctest`` blocks
  (a ``testoutput`` block becomes the expected output of the testcode before it).
- ``Fence`` / ``plain_fences``: a page's untested ```` ``` ```` blocks, for the probe's additions.
- ``docstring_examples``: the ``>>>`` transcripts and ``.. testcode::`` blocks of a module's docstrings.
- ``doctest_steps``: a ``>>>`` transcript as (source, expected output) pairs.
"""
import ast
import re
import textwrap
from dataclasses import asdict, dataclass, field


@dataclass
class Unit:
    """One thing that passes, fails or is skipped: code run with ``exec``, or doctest steps."""

    name: str
    code: str = ""
    steps: list[tuple[str, str]] | None = None  # doctest: (source, expected output)
    skip: str | None = None
    want: str | None = None  # testcode: the {testoutput} its stdout must match (None: not checked)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Block:
    """A docs block: ``kind`` is testcode, testsetup or doctest; ``opts`` its ``:name: value`` lines;
    ``want``: the ``testoutput`` block that follows a testcode (None if none, or ``+MOCK``)."""

    kind: str
    code: str
    opts: dict[str, str] = field(default_factory=dict)
    line: int = 0
    want: str | None = None


_MARKER = re.compile(r"#\s*__(\w+?)_*\s*$")


def _marker(line: str) -> str | None:
    """The section a marker line starts ("" for a marker that starts none); None if no marker.

    ``# __x_begin__`` / ``# __x_start__`` / ``# __begin_x__`` start section x, and so does a bare
    ``# __x__`` (some Train files); ``# __x_end__``, ``# __end__`` and ``# __name__`` start nothing.
    """
    m = _MARKER.match(line.strip())
    if not m:
        return None
    tag = m.group(1)
    if tag in ("name", "end") or tag.endswith("_end") or tag.startswith("end_"):
        return ""
    for word in ("begin", "start"):
        if tag.endswith("_" + word):
            return tag[: -len(word) - 1]
        if tag.startswith(word + "_"):
            return tag[len(word) + 1:]
    return tag


def _has_code(lines: list[str]) -> bool:
    return any(l.strip() and not l.strip().startswith("#") for l in lines)


def py_sections(src: str) -> list[tuple[str, str]]:
    """(name, code) per section; code before the first marker is ``preamble``.

    A section whose first line of code is indented continues the block before it (a class body
    split by markers), so it joins that section as ``first+second``.
    """
    out: list[tuple[str, str]] = []
    cur: list[str] = []
    name = "preamble"
    for line in src.splitlines():
        tag = _marker(line)
        if tag is None:
            cur.append(line)
        elif tag:
            if _has_code(cur):
                out.append((name, "\n".join(cur)))
            cur, name = [], tag
    if _has_code(cur):
        out.append((name, "\n".join(cur)))
    merged: list[tuple[str, str]] = []
    for name, code in out:
        first = next(l for l in code.splitlines() if l.strip() and not l.strip().startswith("#"))
        if merged and first[:1] in " \t":
            merged[-1] = (merged[-1][0] + "+" + name, merged[-1][1] + "\n" + code)
        else:
            merged.append((name, code))
    return merged


def _opts_and_body(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    i = 0
    while i < len(lines) and (m := re.match(r"^\s*:([\w-]+):\s*(.*)$", lines[i])):
        opts[m.group(1)] = m.group(2).strip()
        i += 1
    return opts, lines[i:]


def _md_blocks(text: str) -> list[Block]:
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        # a language may follow the directive: ```{testcode} python
        m = re.match(r"^(\s*)(`{3,}|~{3,})\{(testcode|testsetup|doctest|testoutput)\}(\s+\w+)?\s*$", lines[i])
        if not m:
            i += 1
            continue
        fence, j = m.group(2), i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        opts, body = _opts_and_body(lines[i + 1:j])  # a fence inside a list item is indented
        out.append(Block(m.group(3), textwrap.dedent("\n".join(body)).strip("\n"), opts, i + 1))
        i = j + 1
    return out


def _rst_blocks(text: str) -> list[Block]:
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)\.\. (testcode|testsetup|doctest|testoutput)::", lines[i])
        if not m:
            i += 1
            continue
        indent, j, body = len(m.group(1)), i + 1, []
        while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
            body.append(lines[j])
            j += 1
        opts, body = _opts_and_body(body)
        code = textwrap.dedent("\n".join(body)).strip("\n")
        out.append(Block(m.group(2), code, opts, i + 1))
        i = j
    return out


@dataclass
class Fence:
    """A page's untested fenced block (```` ``` ```` or ```` ```python ````) holding ``contains``,
    run as a probe addition; ``replace`` (old, new) changes it first (e.g. to not execute it).
    ``skipif``: a ``{testcode}`` block marked ``:skipif: True`` instead of a plain fence."""

    contains: str
    replace: tuple[str, str] | None = None
    skipif: bool = False

    def code(self, text: str) -> str:
        pool = ([b.code for b in _md_blocks(text) if b.opts.get("skipif", "").strip() == "True"]
                if self.skipif else plain_fences(text))
        found = [c for c in pool if self.contains in c]
        if not found:
            kind = "skipif testcode" if self.skipif else "plain fenced"
            raise LookupError(f"no {kind} block holding {self.contains!r}")
        return found[0].replace(*self.replace) if self.replace else found[0]


def plain_fences(text: str) -> list[str]:
    """The code of a MyST page's plain ```` ``` ```` / ```` ```python ```` fences (not run by Sphinx)."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^\s*(`{3,}|~{3,})(.*)$", lines[i])  # any fence; directives are skipped whole
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(m.group(1)):
            j += 1
        if m.group(2).strip() in ("", "python", "py"):
            out.append("\n".join(lines[i + 1:j]))
        i = j + 1
    return out


def _attach_outputs(blocks: list[Block]) -> list[Block]:
    """Drop the ``testoutput`` blocks, giving each one's text to the testcode just before it
    (as Sphinx compares them); ``:options: +MOCK`` (Ray's docs: output not compared) gives none."""
    out: list[Block] = []
    for b in blocks:
        if b.kind != "testoutput":
            out.append(b)
        elif out and out[-1].kind == "testcode" and "+MOCK" not in b.opts.get("options", ""):
            out[-1].want = b.code
    return out


def page_blocks(text: str, rst: bool = False) -> list[Block]:
    """A page's testable blocks, ``testsetup`` first (Sphinx runs them first), then in page order;
    a ``testoutput`` block becomes the ``want`` of the testcode before it."""
    blocks = _attach_outputs(_rst_blocks(text) if rst else _md_blocks(text))
    return [b for b in blocks if b.kind == "testsetup"] + [b for b in blocks if b.kind != "testsetup"]


def _docstring_blocks(doc: str) -> list[Block]:
    lines, out, i = doc.splitlines(), [], 0
    while i < len(lines):
        m = re.match(r"^(\s*)\.\. (testcode|testsetup)::", lines[i])
        if m:
            indent, body, opts, i = len(m.group(1)), [], {}, i + 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                o = re.match(r"^\s*:(\w+):\s*(.*)$", lines[i])
                if o and not any(b.strip() for b in body):
                    opts[o.group(1)] = o.group(2).strip()
                else:
                    body.append(lines[i])
                i += 1
            out.append(Block(m.group(2), textwrap.dedent("\n".join(body)).strip("\n"), opts))
            continue
        if lines[i].strip().startswith(">>>"):
            indent, body = len(lines[i]) - len(lines[i].lstrip()), []
            while i < len(lines) and lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) >= indent:
                body.append(lines[i][indent:])
                i += 1
            out.append(Block("doctest", "\n".join(body)))
            continue
        i += 1
    return [b for b in out if b.kind == "testsetup"] + [b for b in out if b.kind != "testsetup"]


def docstring_examples(src: str) -> list[tuple[str, list[Block]]]:
    """(qualified name, blocks) for each function or class docstring of ``src`` that has examples."""
    def walk(node: ast.AST, prefix: str):
        for ch in ast.iter_child_nodes(node):
            if isinstance(ch, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(ch)
                if doc and (blocks := _docstring_blocks(doc)):
                    yield prefix + ch.name, blocks
                if isinstance(ch, ast.ClassDef):
                    yield from walk(ch, prefix + ch.name + ".")
    return list(walk(ast.parse(src), ""))


def doctest_steps(code: str) -> list[tuple[str, str]]:
    """[(source, expected output)] of a ``>>>`` transcript (``...`` lines continue the source)."""
    steps: list[tuple[str, str]] = []
    src: str | None = None
    want: list[str] = []
    for line in code.splitlines():
        if line.startswith(">>> ") or line.rstrip() == ">>>":
            if src is not None:
                steps.append((src, "\n".join(want).strip()))
            src, want = line[4:], []
        elif (line.startswith("... ") or line == "...") and src is not None and not want:
            src += "\n" + line[4:]
        elif src is not None:
            want.append(line)
    if src is not None:
        steps.append((src, "\n".join(want).strip()))
    return steps
