"""What a run may leave in the temp folder: the session's log directory, kept by design as Ray
keeps ``/tmp/ray/session_*`` (the last 10 sessions)."""

from __future__ import annotations

from pathlib import Path


def not_session_log(rel: Path) -> bool:
    """Whether ``rel`` (relative to the temp folder) is something other than that log directory."""
    parts = rel.parts
    if parts == ("streamdata",):
        return False
    in_session = len(parts) >= 2 and parts[0] == "streamdata" and parts[1].startswith("session_")
    return not (in_session and (len(parts) == 2 or parts[2] == "logs"))
