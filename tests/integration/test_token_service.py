"""App registrations (graphtasks apps) and the v2.0 token endpoint's client-credentials grant."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import create_engine, text

from tests.integration.test_errors import assert_graph_error
from tests.support.server import Server

GRAPH_DEFAULT = "https://graph.microsoft.com/.default"


def apps(server: Server, *args: str) -> Any:
    command = [sys.executable, "-m", "graphtasks", "apps", *args, "--database", server.database_url, "--json"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    return json.loads(result.stdout) if result.stdout.strip() else None


def register(server: Server, tenant: str, *permissions: str) -> dict[str, str]:
    registered: dict[str, str] = apps(server, "add", "--tenant", tenant, "--permission", *permissions)
    return registered


def request_token(server: Server, tenant: str, **form: str) -> httpx.Response:
    return httpx.post(f"{server.url}/{tenant}/oauth2/v2.0/token", data=form, timeout=30)


def client_credentials(
    app: dict[str, str], *, secret: str | None = None, scope: str = GRAPH_DEFAULT
) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": app["clientId"],
        "client_secret": secret or app["clientSecret"],
        "scope": scope,
    }


def test_an_apps_secret_buys_a_token_with_its_permissions(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.ReadWrite.All")
    response = request_token(server, tenant, **client_credentials(app))
    assert response.status_code == 200
    answer = response.json()
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 3599)
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert (claims["tid"], claims["azp"], claims["roles"]) == (
        tenant,
        app["clientId"],
        ["DeviceManagementApps.ReadWrite.All"],
    )
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    created = httpx.post(server.tasks_url, json={"displayName": "from the token service"}, headers=headers)
    assert created.status_code == 201


def test_a_read_only_app_cannot_create(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    token = request_token(server, tenant, **client_credentials(app)).json()["access_token"]
    response = httpx.post(server.tasks_url, json={}, headers={"Authorization": f"Bearer {token}"})
    assert_graph_error(response, 403, "Forbidden")


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"client_secret": "not-the-secret"}, 401, "invalid_client", 7000215),
        ({"client_id": str(uuid.uuid4())}, 400, "unauthorized_client", 700016),
        (
            {"scope": "https://graph.microsoft.com/DeviceManagementApps.Read.All"},
            400,
            "invalid_scope",
            1002012,
        ),
        ({"scope": "api://other/.default"}, 400, "invalid_scope", 1002012),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ],
)
def test_token_errors_are_the_identity_platforms(
    server: Server, change: dict[str, str], status: int, error: str, code: int
) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    response = request_token(server, tenant, **{**client_credentials(app), **change})
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "access_token" not in body


def test_an_app_is_known_only_in_its_tenant(server: Server) -> None:
    app = register(server, str(uuid.uuid4()), "DeviceManagementApps.Read.All")
    response = request_token(server, str(uuid.uuid4()), **client_credentials(app))
    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")


def test_rotation_replaces_the_secret_and_removal_ends_the_app(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    rotated = apps(server, "rotate-secret", "--tenant", tenant, "--client-id", app["clientId"])
    assert rotated["clientId"] == app["clientId"] and rotated["clientSecret"] != app["clientSecret"]
    assert request_token(server, tenant, **client_credentials(app)).status_code == 401
    assert request_token(server, tenant, **client_credentials(rotated)).status_code == 200
    listed = apps(server, "list", "--tenant", tenant)
    assert [(a["clientId"], a["secretHint"]) for a in listed] == [
        (app["clientId"], rotated["clientSecret"][:3])
    ]
    apps(server, "remove", "--tenant", tenant, "--client-id", app["clientId"])
    assert request_token(server, tenant, **client_credentials(rotated)).status_code == 400


def test_secrets_are_stored_only_as_salted_hashes(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM app_registrations WHERE tenant_id = :t"), {"t": tenant}
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1
    assert app["clientSecret"] not in json.dumps([list(map(str, row)) for row in rows])


def test_openid_configuration_points_at_the_token_endpoint(server: Server) -> None:
    tenant = str(uuid.uuid4())
    config = httpx.get(f"{server.url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == f"{server.url}/{tenant}/oauth2/v2.0/token"
    assert httpx.get(config["jwks_uri"]).json()["keys"]
