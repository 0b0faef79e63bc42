"""The derived types' navigation collections over HTTP, and $expand
(docs/graph-behaviour.md, "Navigation collections")."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server

APP_VULNERABILITY = {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "displayName": "Update Reader"}
SECURITY_CONFIGURATION = {
    "@odata.type": "#microsoft.graph.securityConfigurationTask",
    "displayName": "Harden",
}
# The docs' example (appVulnerabilityManagedDevice create).
MANAGED_DEVICE = {
    "@odata.type": "#microsoft.graph.appVulnerabilityManagedDevice",
    "managedDeviceId": "Managed Device Id value",
    "displayName": "Display Name value",
    "lastSyncDateTime": "2017-01-01T00:02:49.3205976-08:00",
}
MOBILE_APP = {
    "@odata.type": "#microsoft.graph.appVulnerabilityMobileApp",
    "mobileAppId": "22222222-2222-2222-2222-222222222222",
    "displayName": "Contoso Reader",
    "createdDateTime": "2024-05-01T00:00:00Z",
    "lastModifiedDateTime": "2024-05-02T00:00:00Z",
    "mobileAppType": "win32LobApp",
    "version": "1.2.3",
}


@pytest.fixture
def tenant_client(server: Server) -> Iterator[httpx.Client]:
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        yield client


def create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_and_get_a_managed_device(tenant_client: httpx.Client, server: Server) -> None:
    task = create(tenant_client, TASKS_PATH, APP_VULNERABILITY)
    response = tenant_client.post(f"{TASKS_PATH}/{task['id']}/managedDevices", json=MANAGED_DEVICE)
    assert response.status_code == 201
    device = response.json()
    assert device["@odata.context"] == (
        f"https://graph.microsoft.com/beta/$metadata#deviceAppManagement/deviceAppManagementTasks('{task['id']}')"
        "/microsoft.graph.appVulnerabilityTask/managedDevices/$entity"
    )
    assert device["lastSyncDateTime"] == "2017-01-01T08:02:49.3205976Z"
    assert str(uuid.UUID(device["id"])) == device["id"]
    assert response.headers["location"].endswith(f"/{task['id']}/managedDevices/{device['id']}")
    for prefix in (
        f"{TASKS_PATH}/{task['id']}",
        f"{TASKS_PATH}/{task['id']}/microsoft.graph.appVulnerabilityTask",
    ):
        fetched = tenant_client.get(f"{prefix}/managedDevices/{device['id']}").json()
        assert {k: v for k, v in fetched.items() if k != "@odata.context"} == {
            k: v for k, v in device.items() if k != "@odata.context"
        }


def test_the_entity_type_follows_the_parent(tenant_client: httpx.Client) -> None:
    task = create(tenant_client, TASKS_PATH, SECURITY_CONFIGURATION)
    device = create(tenant_client, f"{TASKS_PATH}/{task['id']}/managedDevices", {"displayName": "PC-1"})
    assert device["@odata.type"] == "#microsoft.graph.vulnerableManagedDevice"
    assert device["lastSyncDateTime"] == "0001-01-01T00:00:00Z"


def test_list_update_delete_and_query_options(tenant_client: httpx.Client) -> None:
    task = create(tenant_client, TASKS_PATH, APP_VULNERABILITY)
    apps = f"{TASKS_PATH}/{task['id']}/microsoft.graph.appVulnerabilityTask/mobileApps"
    ids = [create(tenant_client, apps, {**MOBILE_APP, "displayName": name})["id"] for name in ("b", "a", "c")]
    listed = tenant_client.get(
        apps, params={"$orderby": "displayName", "$count": "true", "$select": "displayName"}
    )
    assert [app["displayName"] for app in listed.json()["value"]] == ["a", "b", "c"]
    assert listed.json()["@odata.count"] == 3
    assert set(listed.json()["value"][0]) == {"@odata.type", "@odata.etag", "displayName"}
    assert tenant_client.get(f"{apps}/$count", params={"$filter": "displayName ne 'a'"}).text == "2"
    assert tenant_client.patch(f"{apps}/{ids[0]}", json={"version": "2.0"}).status_code == 204
    assert tenant_client.get(f"{apps}/{ids[0]}").json()["version"] == "2.0"
    assert tenant_client.delete(f"{apps}/{ids[1]}").status_code == 204
    assert_graph_error(tenant_client.get(f"{apps}/{ids[1]}"), 404, "ResourceNotFound")
    assert tenant_client.get(f"{apps}/$count").text == "2"


def test_children_page_with_next_links(tenant_client: httpx.Client) -> None:
    task = create(tenant_client, TASKS_PATH, APP_VULNERABILITY)
    devices = f"{TASKS_PATH}/{task['id']}/managedDevices"
    ids = {create(tenant_client, devices, {"displayName": str(i)})["id"] for i in range(5)}
    seen: list[str] = []
    url: str | None = devices + "?$top=2"
    while url is not None:
        body = tenant_client.get(url).json()
        seen += [device["id"] for device in body["value"]]
        url = body.get("@odata.nextLink")
    assert sorted(seen) == sorted(ids)


def test_deleting_a_task_deletes_its_children(tenant_client: httpx.Client) -> None:
    task = create(tenant_client, TASKS_PATH, APP_VULNERABILITY)
    device = create(tenant_client, f"{TASKS_PATH}/{task['id']}/managedDevices", MANAGED_DEVICE)
    assert tenant_client.delete(f"{TASKS_PATH}/{task['id']}").status_code == 204
    assert_graph_error(
        tenant_client.get(f"{TASKS_PATH}/{task['id']}/managedDevices/{device['id']}"), 404, "ResourceNotFound"
    )


@pytest.mark.parametrize(
    ("body", "suffix", "status", "code"),
    [
        (SECURITY_CONFIGURATION, "/mobileApps", 400, "BadRequest"),  # the type has no such navigation
        ({"displayName": "base"}, "/managedDevices", 400, "BadRequest"),
        (
            SECURITY_CONFIGURATION,
            "/microsoft.graph.appVulnerabilityTask/managedDevices",
            404,
            "ResourceNotFound",
        ),
        (SECURITY_CONFIGURATION, "/microsoft.graph.securityConfigurationTask/mobileApps", 400, "BadRequest"),
        (APP_VULNERABILITY, "/assignments", 400, "BadRequest"),
        (APP_VULNERABILITY, "/managedDevices/00000000-0000-0000-0000-00000000abcd", 404, "ResourceNotFound"),
    ],
)
def test_navigation_errors(
    tenant_client: httpx.Client, body: dict[str, Any], suffix: str, status: int, code: str
) -> None:
    task = create(tenant_client, TASKS_PATH, body)
    assert_graph_error(tenant_client.get(f"{TASKS_PATH}/{task['id']}{suffix}"), status, code)


def test_child_bodies_are_validated(tenant_client: httpx.Client) -> None:
    task = create(tenant_client, TASKS_PATH, APP_VULNERABILITY)
    devices = f"{TASKS_PATH}/{task['id']}/managedDevices"
    unknown = tenant_client.post(devices, json={"serialNumber": "x"})
    assert_graph_error(unknown, 400, "ModelValidationFailure")
    assert "appVulnerabilityManagedDevice" in unknown.json()["error"]["message"]
    wrong_type = tenant_client.post(
        devices, json={"@odata.type": "#microsoft.graph.appVulnerabilityMobileApp"}
    )
    assert_graph_error(wrong_type, 400, "BadRequest")
    assert tenant_client.get(f"{devices}/$count").text == "0"


def test_children_are_isolated_by_tenant(server: Server) -> None:
    with server.client(server.token(tenant=str(uuid.uuid4()))) as owner:
        task = create(owner, TASKS_PATH, APP_VULNERABILITY)
        device = create(owner, f"{TASKS_PATH}/{task['id']}/managedDevices", MANAGED_DEVICE)
    with server.client(server.token(tenant=str(uuid.uuid4()))) as other:
        for response in (
            other.get(f"{TASKS_PATH}/{task['id']}/managedDevices"),
            other.get(f"{TASKS_PATH}/{task['id']}/managedDevices/{device['id']}"),
            other.post(f"{TASKS_PATH}/{task['id']}/managedDevices", json=MANAGED_DEVICE),
            other.delete(f"{TASKS_PATH}/{task['id']}/managedDevices/{device['id']}"),
        ):
            assert_graph_error(response, 404, "ResourceNotFound")


def test_read_only_tokens_cannot_write_children(server: Server) -> None:
    tenant = str(uuid.uuid4())
    with server.client(server.token(tenant=tenant)) as writer:
        task = create(writer, TASKS_PATH, APP_VULNERABILITY)
    with server.client(server.token(tenant=tenant, roles=("DeviceManagementApps.Read.All",))) as reader:
        assert reader.get(f"{TASKS_PATH}/{task['id']}/managedDevices").status_code == 200
        assert_graph_error(
            reader.post(f"{TASKS_PATH}/{task['id']}/managedDevices", json={}), 403, "Forbidden"
        )


@pytest.mark.parametrize(
    ("expand", "expected"),
    [
        ("managedDevices", {"managedDevices"}),
        ("managedDevices,mobileApps", {"managedDevices", "mobileApps"}),
        ("*", {"managedDevices", "mobileApps"}),
        ("microsoft.graph.appVulnerabilityTask/mobileApps", {"mobileApps"}),
    ],
)
def test_expand_shows_children_inline(tenant_client: httpx.Client, expand: str, expected: set[str]) -> None:
    task = create(tenant_client, TASKS_PATH, APP_VULNERABILITY)
    create(tenant_client, f"{TASKS_PATH}/{task['id']}/managedDevices", MANAGED_DEVICE)
    create(tenant_client, f"{TASKS_PATH}/{task['id']}/mobileApps", MOBILE_APP)
    plain = create(tenant_client, TASKS_PATH, {"displayName": "no navigations"})
    listed = {t["id"]: t for t in tenant_client.get(TASKS_PATH, params={"$expand": expand}).json()["value"]}
    assert {k for k in listed[task["id"]] if k in {"managedDevices", "mobileApps"}} == expected
    assert "managedDevices" not in listed[plain["id"]]
    single = tenant_client.get(f"{TASKS_PATH}/{task['id']}", params={"$expand": expand}).json()
    for navigation in expected:
        assert len(single[navigation]) == 1


def test_expand_of_an_unknown_navigation_is_400(tenant_client: httpx.Client) -> None:
    assert_graph_error(tenant_client.get(TASKS_PATH, params={"$expand": "assignments"}), 400, "BadRequest")
