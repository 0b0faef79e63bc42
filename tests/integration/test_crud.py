"""The seven operations over HTTP on a real port, on SQLite and PostgreSQL
(docs/graph-behaviour.md, "Operations and status codes")."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.support.examples import FOUNDING_REQUEST
from tests.support.server import TASKS_PATH, Server

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z")

# The example request of Graph's "Create securityConfigurationTask" page.

APP_VULNERABILITY: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.appVulnerabilityTask",
    "displayName": "Update Contoso Reader",
    "appName": "Contoso Reader",
    "appPublisher": "Contoso",
    "appVersion": "1.2.3",
    "mitigationType": "update",
    "insights": "exploit seen",
    "managedDeviceCount": 3,
    "mobileAppCount": 65536,
    "remediation": "Update to 1.2.4",
}

UNMANAGED_DISCOVERY: dict[str, Any] = {
    "@odata.type": "#microsoft.graph.unmanagedDeviceDiscoveryTask",
    "displayName": "Devices found",
    "unmanagedDevices": [
        {
            "os": "Windows",
            "osVersion": "10.0",
            "ipAddress": "10.0.0.7",
            "deviceName": "LAPTOP-7",
            "lastSeenDateTime": "2024-05-01T10:00:00Z",
        }
    ],
}


def create(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(TASKS_PATH, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_returns_201_with_the_full_entity(client: httpx.Client, server: Server) -> None:
    response = client.post(TASKS_PATH, json=FOUNDING_REQUEST)
    assert response.status_code == 201
    body = response.json()
    assert (
        body["@odata.context"]
        == "https://graph.microsoft.com/beta/$metadata#deviceAppManagement/deviceAppManagementTasks/$entity"
    )
    assert body["@odata.type"] == "#microsoft.graph.securityConfigurationTask"
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert ISO_UTC.fullmatch(body["createdDateTime"])
    assert response.headers["location"] == f"{server.tasks_url}/{body['id']}"
    assert response.headers["content-type"] == ODATA_JSON
    # Every property sent comes back; the date in UTC, the complex value with its '#' type.
    expected = {**FOUNDING_REQUEST, "dueDateTime": "2017-01-01T08:02:18.1994089Z"}
    expected["intendedSettings"] = [
        {"@odata.type": "#microsoft.graph.keyValuePair", "name": "Name value", "value": "Value value"}
    ]
    assert {k: body[k] for k in expected} == expected


def test_get_returns_the_entity_at_top_level(client: httpx.Client, server: Server) -> None:
    created = create(client, FOUNDING_REQUEST)
    response = client.get(f"{TASKS_PATH}/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert "value" not in response.json()


@pytest.mark.parametrize("body", [FOUNDING_REQUEST, APP_VULNERABILITY, UNMANAGED_DISCOVERY])
def test_every_type_round_trips(client: httpx.Client, body: dict[str, Any]) -> None:
    created = create(client, body)
    fetched = client.get(f"{TASKS_PATH}/{created['id']}").json()
    assert fetched["@odata.type"] == body["@odata.type"]
    for name, value in body.items():
        if name not in {"dueDateTime", "intendedSettings", "unmanagedDevices"}:
            assert fetched[name] == value, name


def test_unmanaged_devices_are_filled_out(client: httpx.Client) -> None:
    device = create(client, UNMANAGED_DISCOVERY)["unmanagedDevices"][0]
    assert device["@odata.type"] == "#microsoft.graph.unmanagedDevice"
    assert device["deviceName"] == "LAPTOP-7"
    assert device["lastSeenDateTime"] == "2024-05-01T10:00:00Z"
    assert device["macAddress"] is None


def test_missing_odata_type_creates_the_base_type_with_defaults(client: httpx.Client) -> None:
    body = create(client, {"displayName": "plain"})
    assert body["@odata.type"] == "#microsoft.graph.deviceAppManagementTask"
    assert (body["category"], body["priority"], body["status"]) == ("unknown", "none", "unknown")
    assert body["dueDateTime"] == "0001-01-01T00:00:00Z"
    assert body["description"] is None


def test_list_holds_mixed_types_each_with_odata_type(client: httpx.Client, server: Server) -> None:
    ids = {create(client, body)["id"] for body in (FOUNDING_REQUEST, APP_VULNERABILITY, UNMANAGED_DISCOVERY)}
    response = client.get(TASKS_PATH)
    assert response.status_code == 200
    body = response.json()
    assert (
        body["@odata.context"]
        == "https://graph.microsoft.com/beta/$metadata#deviceAppManagement/deviceAppManagementTasks"
    )
    listed = {task["id"]: task["@odata.type"] for task in body["value"]}
    assert ids <= listed.keys()
    assert {listed[i] for i in ids} == {
        "#microsoft.graph.securityConfigurationTask",
        "#microsoft.graph.appVulnerabilityTask",
        "#microsoft.graph.unmanagedDeviceDiscoveryTask",
    }


def test_count_is_plain_text(client: httpx.Client) -> None:
    before = int(client.get(f"{TASKS_PATH}/$count").text)
    create(client, FOUNDING_REQUEST)
    response = client.get(f"{TASKS_PATH}/$count")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert int(response.text) == before + 1


def test_patch_merges_and_answers_204(client: httpx.Client) -> None:
    created = create(client, FOUNDING_REQUEST)
    url = f"{TASKS_PATH}/{created['id']}"
    response = client.patch(
        url,
        json={
            "@odata.type": "#microsoft.graph.securityConfigurationTask",
            "assignedTo": "someone@contoso.com",
            "status": "active",
        },
    )
    assert (response.status_code, response.content) == (204, b"")
    fetched = client.get(url).json()
    assert (fetched["assignedTo"], fetched["status"]) == ("someone@contoso.com", "active")
    unchanged = {k: v for k, v in created.items() if k not in {"assignedTo", "status", "@odata.etag"}}
    assert {k: fetched[k] for k in unchanged} == unchanged
    assert fetched["@odata.etag"] != created["@odata.etag"]


def test_patch_with_return_representation_answers_200(client: httpx.Client) -> None:
    created = create(client, FOUNDING_REQUEST)
    response = client.patch(
        f"{TASKS_PATH}/{created['id']}",
        json={"description": "changed"},
        headers={"Prefer": "return=representation"},
    )
    assert response.status_code == 200
    assert response.headers["preference-applied"] == "return=representation"
    updated = response.json()
    assert updated["@odata.etag"] != created["@odata.etag"]
    assert {**updated, "@odata.etag": ""} == {**created, "description": "changed", "@odata.etag": ""}


def test_patch_replaces_a_collection(client: httpx.Client) -> None:
    created = create(client, FOUNDING_REQUEST)
    url = f"{TASKS_PATH}/{created['id']}"
    assert (
        client.patch(url, json={"intendedSettings": [{"name": "a"}, {"name": "b", "value": "2"}]}).status_code
        == 204
    )
    settings = client.get(url).json()["intendedSettings"]
    assert [(s["name"], s["value"]) for s in settings] == [("a", None), ("b", "2")]


def test_round_trip_patch_with_read_only_values_is_accepted(client: httpx.Client) -> None:
    created = create(client, APP_VULNERABILITY)
    url = f"{TASKS_PATH}/{created['id']}"
    resent = {
        **created,
        "description": "roundtrip",
        "id": "something-else",
        "createdDateTime": "2020-01-01T00:00:00Z",
        "managedDevices": [{"id": "md-1"}],
        "mobileApps": [],
    }
    assert client.patch(url, json=resent).status_code == 204
    fetched = client.get(url).json()
    assert fetched["description"] == "roundtrip"
    assert (fetched["id"], fetched["createdDateTime"]) == (created["id"], created["createdDateTime"])


def test_changing_the_type_is_a_400_and_writes_nothing(client: httpx.Client) -> None:
    created = create(client, FOUNDING_REQUEST)
    url = f"{TASKS_PATH}/{created['id']}"
    response = client.patch(
        url, json={"@odata.type": "#microsoft.graph.appVulnerabilityTask", "displayName": "x"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "BadRequest")
    assert client.get(url).json() == created


def test_delete_answers_204_then_404(client: httpx.Client) -> None:
    created = create(client, FOUNDING_REQUEST)
    url = f"{TASKS_PATH}/{created['id']}"
    assert (client.delete(url).status_code, client.delete(url).status_code) == (204, 404)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("action", ["updateStatus", "microsoft.graph.updateStatus"])
def test_update_status_sets_status_and_keeps_the_note(client: httpx.Client, action: str) -> None:
    created = create(client, FOUNDING_REQUEST)
    url = f"{TASKS_PATH}/{created['id']}"
    response = client.post(f"{url}/{action}", json={"status": "completed", "note": "Note value"})
    assert (response.status_code, response.content) == (204, b"")
    plain = client.get(url).json()
    assert plain["status"] == "completed"
    assert "@graphtasks.statusNote" not in plain
    annotated = client.get(url, headers={"Prefer": 'odata.include-annotations="graphtasks.*"'}).json()
    assert annotated["@graphtasks.statusNote"] == "Note value"


def test_update_status_validates_its_parameters(client: httpx.Client) -> None:
    created = create(client, FOUNDING_REQUEST)
    url = f"{TASKS_PATH}/{created['id']}/updateStatus"
    bad_enum = client.post(url, json={"status": "done"})
    unknown = client.post(url, json={"status": "active", "reason": "x"})
    assert (bad_enum.status_code, bad_enum.json()["error"]["message"]) == (
        400,
        "Requested value 'done' was not found.",
    )
    assert unknown.status_code == 400
    assert client.get(f"{TASKS_PATH}/{created['id']}").json()["status"] == "pending"


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/updateStatus")],
)
def test_a_missing_id_is_404(client: httpx.Client, method: str, suffix: str) -> None:
    body = {"status": "active"} if method in {"PATCH", "POST"} else None
    response = client.request(method, f"{TASKS_PATH}/{uuid.uuid4()}{suffix}", json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "ResourceNotFound")


def test_create_with_prefer_minimal_answers_204_with_location(client: httpx.Client, server: Server) -> None:
    response = client.post(TASKS_PATH, json=FOUNDING_REQUEST, headers={"Prefer": "return=minimal"})
    assert (response.status_code, response.content) == (204, b"")
    assert client.get(response.headers["location"].removeprefix(server.url)).status_code == 200


def test_paging_follows_next_links(server: Server) -> None:
    # A tenant of its own, so the full listing is known.
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        ids = {create(client, {"displayName": f"t{i}"})["id"] for i in range(5)}
        listed = client.get(TASKS_PATH).json()
        assert "@odata.nextLink" not in listed
        assert {t["id"] for t in listed["value"]} == ids
