"""graphtasks seed: realistic tasks of every type, loaded in bulk, readable through the API."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from graphtasks.app import open_backend
from graphtasks.config import Settings
from tests.support.databases import database
from tests.support.server import TASKS_PATH, Server


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_seed_loads_tasks_of_every_type(backend: str, tmp_path: Path) -> None:
    tenant = str(uuid.uuid4())
    with database(backend, tmp_path) as url:
        # Only `serve` makes a database; seed loads one made before (here, as serve makes it).
        open_backend(Settings(database_url=url)).database.dispose()
        command = [
            sys.executable,
            "-m",
            "graphtasks",
            "seed",
            "--database",
            url,
            "--count",
            "1200",
            "--tenant",
            tenant,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
        assert "seeded 1200 tasks" in result.stdout
        server = Server(url, tmp_path / "server.log").start()
        try:
            with server.client(server.token(tenant=tenant)) as client:
                assert client.get(f"{TASKS_PATH}/$count").text == "1200"
                page = client.get(TASKS_PATH, params={"$top": "1000"}).json()
                types = Counter(task["@odata.type"] for task in page["value"])
                pending = client.get(f"{TASKS_PATH}/$count", params={"$filter": "status eq 'pending'"}).text
        finally:
            server.stop()
    assert len(types) == 4 and min(types.values()) > 10
    assert "@odata.nextLink" in page
    assert 100 < int(pending) < 1100
