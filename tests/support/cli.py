"""Run the real `graphtasks` command in a subprocess, and check that a failure is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
