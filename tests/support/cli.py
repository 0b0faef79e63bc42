"""Run the real `graphtasks` command, in a subprocess or in this process (a second less, for commands
whose process is not the point), and check that a failure is one clear line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from graphtasks.cli import main


def graphtasks(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHTASKS_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "graphtasks", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        timeout=timeout,
        check=False,
    )


def failure_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed on stderr; asserts there was exactly that."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("graphtasks"), lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """`graphtasks ARGS`, run in this process: its exit status and what it printed."""
    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            status = main(list(args))
        except SystemExit as leaving:
            status = leaving.code if isinstance(leaving.code, int) else 1
    return subprocess.CompletedProcess(
        ["graphtasks", *args], status, out.getvalue().decode(), err.getvalue().decode()
    )
