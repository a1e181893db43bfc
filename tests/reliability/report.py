"""Figures of the reliability suite, written to benchmarks/results/reliability-<date>.md/.json.

Each test records one row (its name and figures). They are written to the repository only when
``STREAMDATA_RECORD=1`` is set (a recorded run); otherwise to the temp directory, so that a test run
never changes tracked files. ``python -m tests.reliability.report`` prints the
latest summary as a markdown table.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import sys
import tempfile
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDED = os.path.join(ROOT, "benchmarks", "results")
RESULTS = (RECORDED if os.environ.get("STREAMDATA_RECORD", "") not in ("", "0")
           else os.path.join(tempfile.gettempdir(), "streamdata-reliability"))
COLUMNS = ["test", "runs", "kills", "rows_checked", "inputs_tried", "peak_mem_mb", "budget_mb",
           "requests_lost_per_kill", "notes"]


class Figures:
    """A session's rows of figures."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self._lock = threading.Lock()

    def record(self, test: str, **figs: object) -> None:
        with self._lock:
            self.rows.append({"test": test, **figs})

    def write(self) -> str:
        os.makedirs(RESULTS, exist_ok=True)
        date = datetime.date.today().isoformat()
        base = os.path.join(RESULTS, f"reliability-{date}")
        soak = os.environ.get("STREAMDATA_SOAK", "") not in ("", "0")
        meta = {"date": date, "soak": soak, "seed": os.environ.get("STREAMDATA_RELIABILITY_SEED", "1616"),
                "cpus": os.cpu_count(), "command": "python -m pytest -m reliability tests/reliability"
                + (" (STREAMDATA_SOAK=1)" if soak else "")}
        with open(base + ".json", "w") as f:
            json.dump({"meta": meta, "rows": self.rows}, f, indent=1)
        with open(base + ".md", "w") as f:
            f.write(f"# Reliability suite, {date}\n\n`{meta['command']}` on {meta['cpus']} CPUs, "
                    f"seed {meta['seed']}.\n\n{table(self.rows)}\n")
        return base + ".md"


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in COLUMNS) + " |")
    return "\n".join(lines)


def main() -> int:
    files = sorted(glob.glob(os.path.join(RESULTS, "reliability-*.json"))
                   + glob.glob(os.path.join(RECORDED, "reliability-*.json")), key=os.path.getmtime)
    if not files:
        print("no reliability results yet: run python -m pytest -m reliability tests/reliability")
        return 1
    data = json.load(open(files[-1]))
    print(f"{files[-1]} ({data['meta']['command']})\n")
    print(table(data["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
