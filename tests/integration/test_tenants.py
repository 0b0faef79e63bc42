"""The tenant registry: a tenant without an Intune licence is refused as Graph refuses it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from graphtasks.config import DEFAULT_TENANT
from tests.conftest import BACKENDS
from tests.integration.test_errors import assert_graph_error
from tests.support.cli import in_process
from tests.support.server import TASKS_PATH, Server, backend_server

NOT_APPLICABLE = "Request not applicable to target tenant."
# The servers' --licence-cache: short, so that waiting it out costs the suite little.
LICENCE_CACHE_S = 0.3


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"tenants-{request.param}")
    with backend_server(request.param, directory, "--licence-cache", str(LICENCE_CACHE_S)) as running:
        yield running


def tenants(server: Server, *args: str) -> Any:
    result = in_process("tenants", *args, "--database", server.database_url, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_the_default_tenant_exists_and_is_licensed(server: Server) -> None:
    listed = {t["tenantId"]: t for t in tenants(server, "list")}
    assert listed[DEFAULT_TENANT]["intuneLicense"] is True


def test_an_unlicensed_tenant_is_refused_whatever_its_permissions(server: Server) -> None:
    tenant = str(uuid.uuid4())
    token = server.token(tenant=tenant)
    with server.client(token) as client:
        assert client.post(TASKS_PATH, json={"displayName": "before"}).status_code == 201
        tenants(server, "add", "--tenant", tenant, "--no-intune-license", "--name", "Fabrikam")
        response = _eventually_refused(client)
        assert_graph_error(response, 400, "BadRequest", NOT_APPLICABLE)
        assert_graph_error(client.post(TASKS_PATH, json={}), 400, "BadRequest", NOT_APPLICABLE)
        tenants(server, "add", "--tenant", tenant, "--intune-license")
        time.sleep(LICENCE_CACHE_S + 0.1)  # past the per-instance licence cache
        assert client.get(f"{TASKS_PATH}/$count").text == "1"


def test_other_tenants_are_not_affected(server: Server) -> None:
    refused = str(uuid.uuid4())
    tenants(server, "add", "--tenant", refused, "--no-intune-license")
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        assert client.get(TASKS_PATH).status_code == 200
    with server.client(server.token(tenant=refused)) as client:
        assert_graph_error(client.get(TASKS_PATH), 400, "BadRequest", NOT_APPLICABLE)


def test_removing_a_tenant_from_the_registry(server: Server) -> None:
    tenant = str(uuid.uuid4())
    tenants(server, "add", "--tenant", tenant, "--name", "Northwind")
    assert any(t["tenantId"] == tenant for t in tenants(server, "list"))
    tenants(server, "remove", "--tenant", tenant)
    assert not any(t["tenantId"] == tenant for t in tenants(server, "list"))


def _eventually_refused(client: Any) -> Any:
    """The server caches a tenant's licence for LICENCE_CACHE_S."""
    deadline = time.monotonic() + 10
    while True:
        response = client.get(TASKS_PATH)
        if response.status_code != 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.25)
