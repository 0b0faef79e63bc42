"""Redis is the optional `redis` extra: a server without --redis never imports it, and one given
--redis without it installed stops with one line that names the extra.

Each case runs in a fresh interpreter, since this one has imported redis already (tests/support).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Without GRAPHTASKS_* from the caller's environment (GRAPHTASKS_DEBUG would print a traceback).
ENV = {name: value for name, value in os.environ.items() if not name.startswith("GRAPHTASKS_")}


def _python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )


def test_an_app_without_redis_url_does_not_import_redis() -> None:
    done = _python(
        "import sys\n"
        "from graphtasks.app import create_app\n"
        "from graphtasks.config import MEMORY_DATABASE, Settings\n"
        "create_app(Settings(database_url=MEMORY_DATABASE))\n"
        "print('redis' in sys.modules)\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "False\n", "")


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_with_redis_but_no_redis_client_fails_in_one_line(tmp_path: Path, workers: int) -> None:
    # None in sys.modules makes `import redis` fail as if it were not installed. Port 0: should the
    # server start after all, it binds no fixed port, and the timeout ends the test. Worker processes
    # need a database file.
    database = "memory" if workers == 1 else f"sqlite:///{tmp_path / 'workers.db'}"
    arguments = ["serve", "--database", database, "--port", "0", "--workers", str(workers)]
    arguments += ["--redis", "redis://127.0.0.1:6379/0"]
    done = _python(
        "import sys\n"
        "sys.modules['redis'] = None\n"
        "from graphtasks.cli import main\n"
        f"sys.exit(main({arguments!r}))\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "graphtasks: throttling counters in Redis need the redis client: pip install 'graphtasks[redis]'\n",
    )
