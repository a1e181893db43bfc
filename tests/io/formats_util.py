"""Helpers of the connector tests: a real PostgreSQL server started in a temp dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Iterator


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    host: str
    port: int
    user: str = "postgres"
    database: str = "postgres"

    def connect(self):  # a DB-API 2 connection (pg8000, pure Python)
        import pg8000.dbapi

        return pg8000.dbapi.connect(user=self.user, host=self.host, port=self.port, database=self.database)


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL program: on PATH, or where Debian's package puts it (not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    import glob

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return candidates[-1] if candidates else None


def postgres_unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here (None when it can)."""
    for binary in ("initdb", "pg_ctl", "postgres"):
        if _pg_bin(binary) is None:
            return f"PostgreSQL binaries not found ({binary}): apt-get install -y postgresql"
    try:
        import pg8000  # noqa: F401
    except ImportError:
        return "the pg8000 driver is not installed: pip install pg8000"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def start_postgres() -> Iterator[Postgres]:
    """Start a throwaway server on 127.0.0.1 (trust auth) in a temp dir; stop it afterwards."""
    root = tempfile.mkdtemp(prefix="sd-pg-")
    data = os.path.join(root, "data")
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    env = dict(os.environ, LC_ALL="C", LANG="C")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    subprocess.run(prefix + [initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, env=env, timeout=120)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    subprocess.run(prefix + [pg_ctl, "-D", data, "-o", opts, "-l", os.path.join(root, "log"), "-w", "-t", "60",
                             "start"], check=True, capture_output=True, env=env, timeout=90)
    try:
        server = Postgres(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                server.connect().close()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        subprocess.run(prefix + [pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True, env=env,
                       timeout=60)
        shutil.rmtree(root, ignore_errors=True)
