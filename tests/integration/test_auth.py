"""Bearer tokens and permissions over HTTP (docs/graph-behaviour.md, "Access tokens" and "Permissions").

Tokens that must be refused (forged, expired, malformed, ...) are test_hostile_tokens.py's.
"""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import jwt
import pytest

from graphtasks.auth.permissions import (
    ALL_PERMISSIONS,
    APPS_READ,
    APPS_READ_WRITE,
    CONFIGURATION_READ,
    CONFIGURATION_READ_WRITE,
    PERSONAL_ACCOUNT_TENANT,
)
from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server


def call(server: Server, method: str, token: str | None, json_body: object = None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return server.request(method, server.tasks_url, headers=headers, json=json_body, timeout=30)


@pytest.mark.parametrize(
    "permission", [APPS_READ, APPS_READ_WRITE, CONFIGURATION_READ, CONFIGURATION_READ_WRITE]
)
def test_each_read_permission_reads(server: Server, permission: str) -> None:
    assert call(server, "GET", server.token(roles=(permission,))).status_code == 200


@pytest.mark.parametrize("permission", [APPS_READ_WRITE, CONFIGURATION_READ_WRITE])
def test_each_write_permission_creates(server: Server, permission: str) -> None:
    assert call(server, "POST", server.token(roles=(permission,)), {"displayName": "x"}).status_code == 201


@pytest.mark.parametrize("permission", [APPS_READ, CONFIGURATION_READ, "User.Read.All"])
def test_read_only_tokens_cannot_write(server: Server, permission: str) -> None:
    token = server.token(roles=(permission,))
    with server.client() as admin:
        before = admin.get(f"{TASKS_PATH}/$count").text
        response = call(server, "POST", token, {"displayName": "x"})
        after = admin.get(f"{TASKS_PATH}/$count").text
    assert before == after
    assert_graph_error(response, 403, "Forbidden")
    message = json.loads(response.json()["error"]["message"])["Message"]
    assert message.startswith(
        "Application is not authorized to perform this operation. Application must have one of the following "
        "scopes: DeviceManagementConfiguration.ReadWrite.All, DeviceManagementApps.ReadWrite.All"
    )


def test_a_token_without_any_permission_cannot_read(server: Server) -> None:
    assert_graph_error(call(server, "GET", server.token(roles=("User.Read.All",))), 403, "Forbidden")


def test_delegated_scopes_are_checked(server: Server) -> None:
    reader = server.token(scopes=(APPS_READ, "User.Read"))
    assert call(server, "GET", reader).status_code == 200
    assert_graph_error(call(server, "POST", reader, {"displayName": "x"}), 403, "Forbidden")
    writer = server.token(scopes=(CONFIGURATION_READ_WRITE,))
    assert call(server, "POST", writer, {"displayName": "x"}).status_code == 201


def test_personal_accounts_are_refused(server: Server) -> None:
    token = server.token(tenant=PERSONAL_ACCOUNT_TENANT)
    assert_graph_error(call(server, "GET", token), 403, "Forbidden")


def test_the_token_command_prints_a_working_token_alone(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "graphtasks", "token", "--database", server.database_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    token = result.stdout.strip()
    assert result.stdout.count("\n") == 1 and token.count(".") == 2
    claims = jwt.decode(token, options={"verify_signature": False})
    assert sorted(claims["roles"]) == sorted(ALL_PERMISSIONS)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert call(server, "POST", token, {"displayName": "from the CLI"}).status_code == 201


@pytest.mark.parametrize(("flags", "status"), [(["--expires", "-10m"], 401), (["--roles", APPS_READ], 403)])
def test_token_command_options(server: Server, flags: list[str], status: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "graphtasks", "token", "--database", server.database_url, *flags],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert call(server, "POST", result.stdout.strip(), {"displayName": "x"}).status_code == status


def test_discovery_publishes_the_issuer_and_keys(server: Server) -> None:
    config = server.request("GET", f"{server.url}/common/v2.0/.well-known/openid-configuration").json()
    keys = server.request("GET", config["jwks_uri"]).json()["keys"]
    # The issuer shares the authority's origin, as on Entra.
    assert config["issuer"] == f"{server.url}/common/v2.0"
    token = server.token()
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in keys if k["kid"] == kid)
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(token, public, algorithms=["RS256"], audience="https://graph.microsoft.com")
    assert claims["iss"].endswith(f"/{claims['tid']}/v2.0")
