"""A private PostgreSQL cluster that a test may stop and start at will: the machine's shared server on
127.0.0.1:5432 serves other tests and people, and must never be stopped.

initdb and pg_ctl come from GRAPHTASKS_PG_BIN (default: Debian's PostgreSQL 15). PostgreSQL refuses to
run as root, so under root they run as the `postgres` user (runuser), on a data directory it owns. The
cluster listens on 127.0.0.1 on a free port with trust authentication, and keeps its unix socket in
its own directory, so it never touches the system's. fsync is off: the tests stop PostgreSQL's
processes, never the machine, and the kernel's page cache survives a killed process.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.databases import in_ci
from tests.support.server import free_port

PG_BIN = Path(os.environ.get("GRAPHTASKS_PG_BIN", "/usr/lib/postgresql/15/bin"))
_START_TIMEOUT_S = 30


def _as_owner(command: list[str]) -> list[str]:
    """`command` as the cluster's owner: the postgres user when we are root, else ourselves."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass(frozen=True)
class PgCluster:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60"
        )
        command = [str(PG_BIN / "pg_ctl"), "start", "-w", "-t", str(_START_TIMEOUT_S)]
        self._pg_ctl([*command, "-D", str(self.data), "-l", str(self.log), "-o", options])

    def stop(self, mode: str = "fast") -> None:
        """`pg_ctl stop -m mode`: fast ends every session (57P01 to each client), immediate kills the
        server processes outright (crash recovery on the next start)."""
        self._pg_ctl([str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data)])

    def _pg_ctl(self, command: list[str]) -> None:
        result = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(command[:2])} failed: {result.stdout}{result.stderr}\n{log}")


def _initdb(data: Path) -> None:
    command = [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]
    command += ["-E", "UTF8", "--locale=C"]
    subprocess.run(_as_owner(command), capture_output=True, check=True)


@contextmanager
def pg_cluster() -> Iterator[PgCluster]:
    """A fresh cluster, started; stopped (immediately) and removed afterwards. Skips when PostgreSQL's
    binaries are missing, except under CI=true, where that is a failure."""
    if not (PG_BIN / "initdb").exists():
        if in_ci():
            pytest.fail(f"initdb is required under CI=true but is missing from {PG_BIN}")
        pytest.skip(f"no initdb in {PG_BIN} (set GRAPHTASKS_PG_BIN)")
    root = Path(tempfile.mkdtemp(prefix="graphtasks-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    cluster = PgCluster(root, free_port())
    try:
        _initdb(cluster.data)
        cluster.start()
        yield cluster
    finally:
        subprocess.run(
            _as_owner([str(PG_BIN / "pg_ctl"), "stop", "-m", "immediate", "-D", str(cluster.data)]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
