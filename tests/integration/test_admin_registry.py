"""The admin API of the tenant registry and the app registrations (web/admin_registry.py; docs/testing.md,
"The admin API"), in process on each backend: tenants listed and relicensed, with the change in force at
once; an app registered over HTTP whose secret gets a token that Graph serves, rotated, removed; errors
Graph-shaped; and the admin key required where loopback is not trusted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from graphtasks.auth.admin import admin_key
from graphtasks.auth.permissions import ALL_PERMISSIONS, CONFIGURATION_READ
from graphtasks.config import DEFAULT_TENANT
from tests.integration.test_errors import assert_graph_error
from tests.integration.test_token_service import client_credentials
from tests.support.server import TASKS_PATH, Server, app_server

ADMIN = "/graphtasks/admin"
NOT_APPLICABLE = "Request not applicable to target tenant."
APP_MEMBERS = {"tenantId", "clientId", "displayName", "permissions", "secretHint", "certificates"}


def admin(server: Server, method: str, path: str, **options: Any) -> httpx.Response:
    """An admin request without a key, as a loopback client may send it."""
    return server.request(method, server.url + ADMIN + path, **options)


def register_tenant(server: Server, name: str, *, licensed: bool = True) -> str:
    tenant = str(uuid.uuid4())
    answer = admin(
        server, "POST", "/tenants", json={"tenant": tenant, "displayName": name, "licensed": licensed}
    )
    assert answer.status_code == 201, answer.text
    return tenant


def register_app(server: Server, tenant: str, **body: Any) -> dict[str, Any]:
    answer = admin(server, "POST", f"/tenants/{tenant}/apps", json=body)
    assert answer.status_code == 201, answer.text
    app: dict[str, Any] = answer.json()
    return app


def request_token(server: Server, tenant: str, client_id: str, secret: str) -> httpx.Response:
    form = client_credentials({"clientId": client_id}, secret=secret)
    return server.request("POST", f"{server.url}/{tenant}/oauth2/v2.0/token", data=form)


def assert_lists_tasks(server: Server, tenant: str, client_id: str, secret: str) -> None:
    """The secret gets a token, and Graph serves that token the tenant's tasks (none yet)."""
    answer = request_token(server, tenant, client_id, secret)
    assert answer.status_code == 200, answer.text
    with server.client(answer.json()["access_token"]) as client:
        listing = client.get(TASKS_PATH)
    assert listing.status_code == 200, listing.text
    assert listing.json()["value"] == []


def graph_status(server: Server, tenant: str) -> httpx.Response:
    with server.client(server.token(tenant=tenant)) as client:
        return client.get(TASKS_PATH)


# --- tenants ---


def test_listing_tenants_sorted_by_name_then_id_with_the_default_tenant(server: Server) -> None:
    second, first = register_tenant(server, "Zeta"), register_tenant(server, "Alpha", licensed=False)
    answer = admin(server, "GET", "/tenants")
    assert answer.status_code == 200, answer.text
    listed = answer.json()["value"]
    assert listed == sorted(listed, key=lambda tenant: (tenant["displayName"], tenant["tenant"]))
    by_id = {tenant["tenant"]: tenant for tenant in listed}
    assert by_id[first] == {"tenant": first, "displayName": "Alpha", "licensed": False}
    assert by_id[second] == {"tenant": second, "displayName": "Zeta", "licensed": True}
    assert by_id[DEFAULT_TENANT]["licensed"] is True


def test_a_licence_change_is_in_force_at_once(server: Server) -> None:
    tenant = register_tenant(server, "Fabrikam")
    assert graph_status(server, tenant).status_code == 200
    answer = admin(server, "PATCH", f"/tenants/{tenant}", json={"licensed": False})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"tenant": tenant, "displayName": "Fabrikam", "licensed": False}
    assert_graph_error(graph_status(server, tenant), 400, "BadRequest", NOT_APPLICABLE)
    assert admin(server, "PATCH", f"/tenants/{tenant}", json={"licensed": True}).status_code == 200
    assert graph_status(server, tenant).status_code == 200


def test_renaming_a_tenant_keeps_its_licence(server: Server) -> None:
    tenant = register_tenant(server, "Northwind", licensed=False)
    answer = admin(server, "PATCH", f"/tenants/{tenant.upper()}", json={"displayName": "Northwind Traders"})
    assert answer.json() == {"tenant": tenant, "displayName": "Northwind Traders", "licensed": False}
    assert admin(server, "PATCH", f"/tenants/{tenant}", json={}).json() == answer.json()


def test_changing_an_unregistered_tenant_is_404(server: Server) -> None:
    tenant = str(uuid.uuid4())
    answer = admin(server, "PATCH", f"/tenants/{tenant}", json={"licensed": False})
    message = f"The tenant {tenant} is not registered; POST /tenants registers it."
    assert_graph_error(answer, 404, "ResourceNotFound", message)
    assert tenant not in [listed["tenant"] for listed in admin(server, "GET", "/tenants").json()["value"]]


# --- apps ---


def test_a_registered_apps_secret_gets_a_token_that_lists_tasks(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register_app(server, tenant, displayName="Reporting", permissions=[CONFIGURATION_READ])
    assert set(app) == APP_MEMBERS | {"clientSecret"}
    assert (app["tenantId"], app["displayName"], app["permissions"]) == (
        tenant,
        "Reporting",
        [CONFIGURATION_READ],
    )
    assert app["secretHint"] == app["clientSecret"][:3]
    assert app["certificates"] == []
    assert_lists_tasks(server, tenant, app["clientId"], app["clientSecret"])


def test_an_app_without_a_body_gets_every_permission_and_the_default_name(server: Server) -> None:
    tenant = str(uuid.uuid4())
    answer = admin(server, "POST", f"/tenants/{tenant}/apps")
    assert answer.status_code == 201, answer.text
    assert answer.json()["displayName"] == "graphtasks app"
    assert answer.json()["permissions"] == list(ALL_PERMISSIONS)


def test_listing_a_tenants_apps_shows_no_secret(server: Server) -> None:
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = register_app(server, tenant, displayName="one"), register_app(server, tenant)
    register_app(server, other)
    answer = admin(server, "GET", f"/tenants/{tenant}/apps")
    assert answer.status_code == 200, answer.text
    listed = answer.json()["value"]
    assert [app["clientId"] for app in listed] == [first["clientId"], second["clientId"]]
    assert all(set(app) == APP_MEMBERS for app in listed)
    assert first["clientSecret"] not in answer.text
    assert admin(server, "GET", f"/tenants/{uuid.uuid4()}/apps").json() == {"value": []}


def test_rotating_a_secret_refuses_the_old_one_and_accepts_the_new(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register_app(server, tenant)
    answer = admin(server, "POST", f"/tenants/{tenant}/apps/{app['clientId']}/secret")
    assert answer.status_code == 200, answer.text
    rotated = answer.json()
    assert set(rotated) == {"tenantId", "clientId", "clientSecret"}
    assert (rotated["tenantId"], rotated["clientId"]) == (tenant, app["clientId"])
    refused = request_token(server, tenant, app["clientId"], app["clientSecret"])
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert_lists_tasks(server, tenant, app["clientId"], rotated["clientSecret"])
    listed = admin(server, "GET", f"/tenants/{tenant}/apps").json()["value"]
    assert listed[0]["secretHint"] == rotated["clientSecret"][:3]


def test_removing_an_app_refuses_its_secret_and_a_second_removal_is_404(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register_app(server, tenant)
    assert admin(server, "DELETE", f"/tenants/{tenant}/apps/{app['clientId']}").status_code == 204
    refused = request_token(server, tenant, app["clientId"], app["clientSecret"])
    assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")
    again = admin(server, "DELETE", f"/tenants/{tenant}/apps/{app['clientId']}")
    message = f"The tenant {tenant} has no app with client id {app['clientId']}."
    assert_graph_error(again, 404, "ResourceNotFound", message)
    assert admin(server, "GET", f"/tenants/{tenant}/apps").json() == {"value": []}


def test_an_app_is_changed_only_through_its_own_tenant(server: Server) -> None:
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    app = register_app(server, tenant)
    for method, suffix in (("POST", "/secret"), ("DELETE", "")):
        answer = admin(server, method, f"/tenants/{other}/apps/{app['clientId']}{suffix}")
        assert_graph_error(answer, 404, "ResourceNotFound")
    assert_lists_tasks(server, tenant, app["clientId"], app["clientSecret"])


# --- errors ---

GUID = "8d4c1a7e-2f3b-4c5d-9e6f-0a1b2c3d4e5f"
DEFAULT = f"/tenants/{DEFAULT_TENANT}"
APPS = f"/tenants/{GUID}/apps"
CHOICES = ", ".join(ALL_PERMISSIONS)


@pytest.mark.parametrize(
    ("method", "path", "body", "message"),
    [
        pytest.param(
            "PATCH", DEFAULT, {"licensed": "yes"}, "'licensed' must be a boolean.", id="licensed-not-bool"
        ),
        pytest.param(
            "PATCH", DEFAULT, {"displayName": 7}, "'displayName' must be a string.", id="name-not-string"
        ),
        pytest.param(
            "PATCH",
            DEFAULT,
            {"intuneLicense": False},
            "A tenant change has no member 'intuneLicense'; it takes displayName, licensed.",
            id="tenant-unknown-member",
        ),
        pytest.param("PATCH", DEFAULT, [True], "A tenant change is a JSON object.", id="tenant-not-object"),
        pytest.param(
            "PATCH",
            "/tenants/contoso",
            {"licensed": True},
            "The tenant id 'contoso' is not a GUID.",
            id="tenant-not-guid",
        ),
        pytest.param(
            "GET",
            "/tenants/contoso/apps",
            None,
            "The tenant id 'contoso' is not a GUID.",
            id="apps-tenant-not-guid",
        ),
        pytest.param(
            "POST",
            APPS,
            {"permissions": ["Nope.All"]},
            f"Unknown permission 'Nope.All'; choose from {CHOICES}.",
            id="unknown-permission",
        ),
        pytest.param(
            "POST",
            APPS,
            {"permissions": CONFIGURATION_READ},
            "'permissions' must be a list of permission names.",
            id="permissions-not-list",
        ),
        pytest.param(
            "POST",
            APPS,
            {"permissions": []},
            f"'permissions' names none; choose from {CHOICES}.",
            id="no-permissions",
        ),
        pytest.param(
            "POST", APPS, {"displayName": None}, "'displayName' must be a string.", id="app-name-null"
        ),
        pytest.param(
            "POST",
            APPS,
            {"clientSecret": "mine"},
            "An app registration has no member 'clientSecret'; it takes displayName, permissions.",
            id="app-unknown-member",
        ),
        pytest.param(
            "POST",
            f"/tenants/{GUID}/apps/app-1/secret",
            None,
            "The client id 'app-1' is not a GUID.",
            id="rotate-client-not-guid",
        ),
        pytest.param(
            "DELETE",
            f"/tenants/{GUID}/apps/app-1",
            None,
            "The client id 'app-1' is not a GUID.",
            id="remove-client-not-guid",
        ),
        pytest.param(
            "DELETE",
            f"/tenants/x/apps/{GUID}",
            None,
            "The tenant id 'x' is not a GUID.",
            id="remove-tenant-not-guid",
        ),
    ],
)
def test_a_wrong_request_is_a_graph_shaped_400(
    server: Server, method: str, path: str, body: object, message: str
) -> None:
    answer = admin(server, method, path, json=body) if body is not None else admin(server, method, path)
    assert_graph_error(answer, 400, "BadRequest", message)


def test_a_body_that_is_not_json_is_400(server: Server) -> None:
    headers = {"Content-Type": "application/json"}
    answer = admin(server, "PATCH", f"/tenants/{DEFAULT_TENANT}", content=b"{licensed", headers=headers)
    assert_graph_error(answer, 400, "BadRequest")


# --- who may call them ---


@pytest.fixture(scope="module")
def everywhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server bound to every address: loopback clients are not trusted, so the key is required."""
    directory = tmp_path_factory.mktemp("registry-everywhere")
    with app_server("sqlite", directory, "--host", "0.0.0.0") as running:  # noqa: S104 - what is under test
        yield running


ENDPOINTS = [
    pytest.param("GET", "/tenants", id="list-tenants"),
    pytest.param("PATCH", f"/tenants/{DEFAULT_TENANT}", id="change-tenant"),
    pytest.param("GET", f"/tenants/{GUID}/apps", id="list-apps"),
    pytest.param("POST", f"/tenants/{GUID}/apps", id="add-app"),
    pytest.param("POST", f"/tenants/{GUID}/apps/{GUID}/secret", id="rotate-secret"),
    pytest.param("DELETE", f"/tenants/{GUID}/apps/{GUID}", id="remove-app"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_without_loopback_trust_the_admin_key_is_required(everywhere: Server, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-key"}):
        answer = admin(everywhere, method, path, json={}, headers=headers)
        assert_graph_error(answer, 401, "InvalidAuthenticationToken")


def test_with_the_admin_key_the_endpoints_answer(everywhere: Server) -> None:
    headers = {"Authorization": f"Bearer {admin_key(everywhere.keys())}"}
    tenant = str(uuid.uuid4())
    assert admin(everywhere, "GET", "/tenants", headers=headers).status_code == 200
    app = admin(everywhere, "POST", f"/tenants/{tenant}/apps", json={}, headers=headers)
    assert app.status_code == 201, app.text
    assert_lists_tasks(everywhere, tenant, app.json()["clientId"], app.json()["clientSecret"])
    removed = admin(everywhere, "DELETE", f"/tenants/{tenant}/apps/{app.json()['clientId']}", headers=headers)
    assert removed.status_code == 204
