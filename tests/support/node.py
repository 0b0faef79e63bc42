"""Node.js and npm for the tests that need them (the JavaScript client, the browser tests' axe-core):
each folder's packages installed with `npm ci` from its lock file. Without node or npm those tests skip,
and fail instead under CI=true."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.databases import in_ci


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if in_ci():
            pytest.fail(f"{name} is required under CI=true but is not on PATH")
        pytest.skip(f"{name} is not on PATH")
    return path


def npm_installed(folder: Path) -> Path:
    """`folder`'s locked packages in its node_modules, installed now unless they are there already."""
    npm = tool("npm")
    lock, installed = folder / "package-lock.json", folder / "node_modules" / ".package-lock.json"
    # npm ci writes node_modules/.package-lock.json once every package is in place; missing or older
    # than the lock file means an install that never finished, or one from an earlier lock file.
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        command = [npm, "ci", "--no-audit", "--no-fund"]
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    return folder / "node_modules"
