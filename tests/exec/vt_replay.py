"""Replays what a program wrote to a terminal: the screen's lines afterwards (for progress tests)."""

from __future__ import annotations

import re


def screen(raw: str, width: int = 100) -> list[str]:
    """Replay ``raw`` as a terminal of ``width`` columns would (CR, LF, erase-line, colours, autowrap)."""
    rows: list[list[str]] = [[]]
    col = 0
    for token in re.findall(r"\x1b\[[0-9;]*[A-Za-z]|.|\n", raw, flags=re.S):
        row = rows[-1]
        if token == "\r":
            col = 0
        elif token == "\n":
            rows.append([])
            col = 0
        elif token == "\x1b[K":
            del row[col:]
        elif token.startswith("\x1b["):
            continue
        else:
            if col >= width:  # autowrap
                rows.append([])
                row, col = rows[-1], 0
            row.extend(" " * (col - len(row)))
            if col < len(row):
                row[col] = token
            else:
                row.append(token)
            col += 1
    return ["".join(r).rstrip() for r in rows]
