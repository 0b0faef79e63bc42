"""The request log: on by default, one line per request with method, path, status, milliseconds, tenant
and app id, never a token or a secret; --quiet turns it off; --log-format json writes one JSON object a
line, in worker processes too. Real servers, their output read from their log file."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest

from graphtasks.auth.tokens import DEFAULT_CLIENT_ID
from graphtasks.config import DEFAULT_TENANT
from tests.integration.test_token_service import client_credentials, register
from tests.support.server import TASKS_PATH, Server, sqlite_server

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}|-)"
    r" (?P<ms>\d+\.\d)ms tenant=(?P<tenant>\S+) app=(?P<app>\S+) request-id=[0-9a-f-]{36}$"
)


def exercise(server: Server) -> list[str]:
    """A few requests of every kind; returns the secrets and tokens they carried."""
    token = server.token()
    with server.client(token) as client:
        assert client.post(TASKS_PATH, json={"displayName": "logged"}).status_code == 201
        assert client.get(f"{TASKS_PATH}/{uuid.uuid4()}").status_code == 404
        assert client.get(f"{TASKS_PATH}?$filter=displayName eq 'secret-filter'").status_code == 200
    assert httpx.get(f"{server.url}/beta/x%0Aforged 200").status_code == 400
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    answer = httpx.post(f"{server.url}/{tenant}/oauth2/v2.0/token", data=client_credentials(app))
    assert answer.status_code == 200
    return [token, app["clientSecret"], answer.json()["access_token"], "secret-filter"]


def request_lines(server: Server) -> list[str]:
    return [
        line for line in server.log_path.read_text().splitlines() if not line.startswith(("graphtasks ", " "))
    ]


def test_text_log_by_default(tmp_path: Path) -> None:
    with sqlite_server(tmp_path) as server:
        secrets = exercise(server)
    lines = request_lines(server)
    parsed = [TEXT_LINE.match(line) for line in lines]
    assert all(parsed), lines
    seen = [(m["method"], m["path"], m["status"], m["tenant"], m["app"]) for m in parsed if m]
    assert ("POST", TASKS_PATH, "201", DEFAULT_TENANT, DEFAULT_CLIENT_ID) in seen
    assert ("GET", TASKS_PATH, "200", DEFAULT_TENANT, DEFAULT_CLIENT_ID) in seen
    # The decoded line break is written back as %0A: a path cannot forge a line of its own.
    assert ("GET", "/beta/x%0Aforged%20200", "400", "-", "-") in seen
    token_line = next(m for m in parsed if m and m["path"].endswith("/oauth2/v2.0/token"))
    assert token_line["status"] == "200"
    assert re.fullmatch(r"[0-9a-f-]{36}", token_line["tenant"]) and re.fullmatch(
        r"[0-9a-f-]{36}", token_line["app"]
    )
    for secret in secrets:
        assert secret not in server.log_path.read_text()


def test_quiet_logs_no_request(tmp_path: Path) -> None:
    with sqlite_server(tmp_path, "--quiet") as server:
        exercise(server)
    assert request_lines(server) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_json_log_one_object_a_line(tmp_path: Path, workers: int) -> None:
    with sqlite_server(tmp_path, "--log-format", "json", "--workers", str(workers)) as server:
        secrets = exercise(server)
    records = [json.loads(line) for line in request_lines(server)]
    assert {tuple(sorted(record)) for record in records} == {
        ("app", "method", "ms", "path", "requestId", "status", "tenant", "time")
    }
    created = next(r for r in records if r["method"] == "POST" and r["path"] == TASKS_PATH)
    assert (created["status"], created["tenant"], created["app"]) == (201, DEFAULT_TENANT, DEFAULT_CLIENT_ID)
    assert isinstance(created["ms"], float)
    for secret in secrets:
        assert secret not in server.log_path.read_text()
