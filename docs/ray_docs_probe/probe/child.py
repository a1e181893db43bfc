"""The process that runs a job's units (started by spawn.py): ``python child.py JOB.json``.

Each group (a file, a page, a docstring) runs in a fresh namespace named ``__main__``; its units
run in order in that namespace, each under its own alarm, so a later unit sees the earlier ones'
names (as on the docs page) and one failure does not hide the rest. A testcode unit with a
``want`` (its page's ``{testoutput}``, for a suite with ``check_output``) fails when its stdout
does not match it (doctest's ELLIPSIS and NORMALIZE_WHITESPACE). For every unit it prints
``RESULT<TAB>name<TAB>pass | fail: first error line | skip: reason`` to stdout and appends
the same line to the job's results file (with ``GROUP<TAB>name`` before each group), which the
parent reads even if this process is killed.
"""
import contextlib
import doctest
import faulthandler
import io
import json
import os
import re
import signal
import sys
import traceback

_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


class UnitTimeout(BaseException):
    """Raised by the alarm; a BaseException, so the example's ``except Exception`` keeps out of it."""


def output_matches(want: str, got: str) -> bool:
    """The doctest check: ``got`` matches ``want`` with ELLIPSIS and NORMALIZE_WHITESPACE."""
    return _CHECKER.check_output(want + "\n", got, _FLAGS)


def _is_blank(src: str) -> bool:
    return all(not l.strip() or l.strip().startswith("#") for l in src.splitlines())


def run_steps(steps: list[list[str]], ns: dict, filename: str) -> None:
    """Run ``>>>`` steps as the interactive prompt does; AssertionError listing the mismatches."""
    mismatches = []
    for src, want in steps:
        if "+SKIP" in src or _is_blank(src):
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(src, filename, "single"), ns)
        got = out.getvalue()
        if want and not output_matches(want, got):
            mismatches.append(f"{src.splitlines()[0]!r}: expected {want[:150]!r}, got {got.strip()[:150]!r}")
    if mismatches:
        raise AssertionError("doctest output mismatch: " + " | ".join(mismatches))


class _Tee(io.StringIO):
    """Keeps what is written and passes it on (the log still shows a block's output)."""

    def __init__(self, out) -> None:
        super().__init__()
        self._out = out

    def write(self, s: str) -> int:
        self._out.write(s)
        return super().write(s)


def run_testcode(code: str, want: str, ns: dict, filename: str) -> None:
    """Run a testcode block; AssertionError if its stdout does not match its ``{testoutput}``."""
    out = _Tee(sys.stdout)
    with contextlib.redirect_stdout(out):
        exec(compile(code, filename, "exec"), ns)
    got = out.getvalue()
    if not output_matches(want, got):
        raise AssertionError(f"testoutput mismatch: expected {want.strip()[:150]!r}, got {got.strip()[:150]!r}")


def _first_line(e: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()  # Ray colours its task errors
    return f"{type(e).__name__}: {text.splitlines()[0]}"[:200] if text else type(e).__name__


def run_group(group: dict, alarm_s: int, emit) -> None:
    """Run one group's units in a fresh namespace, emitting a RESULT line for each."""
    ns: dict = {"__name__": "__main__"}
    for unit in group["units"]:
        name = unit["name"]
        if unit["skip"]:
            emit(f"RESULT\t{name}\tskip: {unit['skip']}")
            continue
        filename = f"<{group['name']}:{name}>"
        signal.alarm(alarm_s)
        try:
            if unit["steps"] is not None:
                run_steps(unit["steps"], ns, filename)
            elif unit.get("want") is not None:
                run_testcode(unit["code"], unit["want"], ns, filename)
            else:
                exec(compile(unit["code"], filename, "exec"), ns)
            result = "pass"
        except BaseException as e:  # noqa: BLE001 - every failure of the example is its result
            result = "fail: " + _first_line(e)
            traceback.print_exc(limit=-4, file=sys.stderr)
        finally:
            signal.alarm(0)
        emit(f"RESULT\t{name}\t{result}")


def _shutdown(engine: str) -> None:
    """Stop what the examples started (Serve, then the engine) so no process or port is left."""
    signal.alarm(30)
    try:
        top = "ray" if engine == "ray" else "streamdata"
        if f"{top}.serve" in sys.modules:
            sys.modules[f"{top}.serve"].shutdown()
        if top in sys.modules and hasattr(sys.modules[top], "shutdown"):
            sys.modules[top].shutdown()
    except BaseException as e:  # noqa: BLE001
        print(f"shutdown: {_first_line(e)}", file=sys.stderr)
    finally:
        signal.alarm(0)


def main(job_path: str) -> None:
    sys.path[0] = os.getcwd()  # as for a script in the working folder, not this tool's folder
    with open(job_path) as f:
        job = json.load(f)
    results = open(job["results"], "a", buffering=1)

    def emit(line: str) -> None:
        print(line, flush=True)
        results.write(line + "\n")

    def alarm(*_: object) -> None:
        raise UnitTimeout(f"ran over {job['alarm_s']} s")

    signal.signal(signal.SIGALRM, alarm)
    faulthandler.register(signal.SIGUSR1)  # spawn.py asks for the stacks before it kills a hung run
    for group in job["groups"]:
        results.write(f"GROUP\t{group['name']}\n")
        run_group(group, job["alarm_s"], emit)
    sys.stdout.flush()
    _shutdown(job["engine"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # don't wait on threads or processes the examples left behind


if __name__ == "__main__":
    main(sys.argv[1])
