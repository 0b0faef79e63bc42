"""The examples run as their README says: `pytest` in the example's directory, as a project of its own
(its own pytest.ini, no conftest of ours), in process and against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("mode", ["inprocess", "server"])
def test_the_security_tasks_example_passes(mode: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--graphtasks-mode={mode}"],
        cwd=EXAMPLES / "security_tasks",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b4 passed", result.stdout), result.stdout
