"""Bad input gets a Graph-shaped error with the right status and writes nothing
(docs/graph-behaviour.md, "Errors")."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.server import TASKS_PATH, Server

INTERNAL = "microsoft.management.services.api"


def assert_graph_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    inner = error["innerError"]
    assert inner["request-id"] == response.headers["request-id"]
    assert inner["client-request-id"] == response.headers["client-request-id"]
    assert len(inner["date"]) == 19
    if message is not None:
        assert error["message"] == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"colour": "red"},
            f"The property 'colour' does not exist on type '{INTERNAL}.deviceAppManagementTask'. "
            "Make sure to only use property names that are defined by the type.",
        ),
        (
            {"@odata.type": "#microsoft.graph.securityConfigurationTask", "appName": "x"},
            f"The property 'appName' does not exist on type '{INTERNAL}.securityConfigurationTask'. "
            "Make sure to only use property names that are defined by the type.",
        ),
        ({"priority": "urgent"}, "Requested value 'urgent' was not found."),
        ({"status": "Pending"}, "Requested value 'Pending' was not found."),
        (
            {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "mobileAppCount": "2"},
            "Cannot convert the literal '2' to the expected type 'Edm.Int32'.",
        ),
        (
            {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "mobileAppCount": 1.5},
            "Cannot convert the literal '1.5' to the expected type 'Edm.Int32'.",
        ),
        ({"displayName": 5}, "Cannot convert the literal '5' to the expected type 'Edm.String'."),
        (
            {"@odata.type": "#microsoft.graph.nope"},
            "A type named 'microsoft.graph.nope' could not be resolved by the model. "
            "When a model is available, each type name must resolve to a valid type.",
        ),
        (
            {"@odata.type": "#microsoft.graph.securityConfigurationTask", "managedDeviceCount": 65537},
            "The field managedDeviceCount must be between 0 and 65536.",
        ),
        (
            {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "managedDeviceCount": -1},
            "The field managedDeviceCount must be between 0 and 65536.",
        ),
        (
            {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "mobileAppCount": 70000},
            "The field mobileAppCount must be between 0 and 65536.",
        ),
        (
            {"dueDateTime": "2024-13-45T99:00:00Z"},
            "Cannot convert the literal '2024-13-45T99:00:00Z' to the expected type 'Edm.DateTimeOffset'.",
        ),
        (
            {"dueDateTime": None},
            "A null value was found for the property named 'dueDateTime', which has the expected type "
            "'Edm.DateTimeOffset[Nullable=False]'. The expected type 'Edm.DateTimeOffset[Nullable=False]' "
            "does not allow null values.",
        ),
        (
            {"@odata.type": "#microsoft.graph.securityConfigurationTask", "intendedSettings": [{"nom": "x"}]},
            f"The property 'nom' does not exist on type '{INTERNAL}.keyValuePair'. "
            "Make sure to only use property names that are defined by the type.",
        ),
    ],
)
def test_invalid_bodies_are_model_validation_failures(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    before = client.get(f"{TASKS_PATH}/$count").text
    response = client.post(TASKS_PATH, json=body)
    assert_graph_error(response, 400, "ModelValidationFailure", message)
    assert response.json()["error"]["innerError"]["message"] == message
    assert client.get(f"{TASKS_PATH}/$count").text == before


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "BadRequest"),
        (b"[1, 2]", "application/json", 400, "BadRequest"),
        (b"", "application/json", 400, "BadRequest"),
        (b"displayName=x", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"),
        (b'{"displayName": "x"}', "text/plain", 415, "UnsupportedMediaType"),
    ],
)
def test_unreadable_bodies(
    client: httpx.Client, content: bytes, content_type: str, status: int, code: str
) -> None:
    response = client.post(TASKS_PATH, content=content, headers={"Content-Type": content_type})
    assert_graph_error(response, status, code)


def test_json_with_charset_is_accepted(client: httpx.Client) -> None:
    response = client.post(
        TASKS_PATH,
        content=b'{"displayName": "x"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_a_body_over_the_limit_is_413(client: httpx.Client) -> None:
    huge = {"displayName": "x" * (4 * 1024 * 1024 + 10)}
    assert_graph_error(client.post(TASKS_PATH, json=huge), 413, "RequestEntityTooLarge")


def test_a_failed_patch_changes_nothing(client: httpx.Client) -> None:
    created = client.post(TASKS_PATH, json={"displayName": "keep", "priority": "low"}).json()
    url = f"{TASKS_PATH}/{created['id']}"
    response = client.patch(url, json={"displayName": "changed", "priority": "urgent"})
    assert_graph_error(response, 400, "ModelValidationFailure")
    assert client.get(url).json() == created


def test_v1_is_not_served(client: httpx.Client) -> None:
    response = client.get("/v1.0/deviceAppManagement/deviceAppManagementTasks")
    assert_graph_error(
        response, 400, "BadRequest", "Resource not found for the segment 'deviceAppManagementTasks'."
    )


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/gamma/deviceAppManagement", 404, "ResourceNotFound"),
        ("/beta/deviceManagement/managedDevices", 400, "BadRequest"),
        (f"{TASKS_PATH}/abc/assign", 400, "BadRequest"),
        ("/beta/deviceAppManagement", 400, "No method match route template"),
    ],
)
def test_unknown_paths(client: httpx.Client, path: str, status: int, code: str) -> None:
    assert_graph_error(client.get(path), status, code)


def test_wrong_method_is_405_with_allow(client: httpx.Client) -> None:
    response = client.put(TASKS_PATH, json={})
    assert_graph_error(response, 405, "Request_BadRequest")
    assert set(response.headers["allow"].split(", ")) >= {"GET", "POST"}


def test_duplicate_slashes_are_collapsed(client: httpx.Client, server: Server) -> None:
    # The SDK's default base URL ends in '/', so it asks for /beta//deviceAppManagement/...
    response = client.get(server.url + "/beta//deviceAppManagement//deviceAppManagementTasks")
    assert response.status_code == 200


def test_client_request_id_is_echoed(client: httpx.Client) -> None:
    response = client.get(TASKS_PATH, headers={"client-request-id": "abc-123"})
    assert response.headers["client-request-id"] == "abc-123"
    assert response.headers["request-id"] != "abc-123"
    assert response.headers["odata-version"] == "4.0"


def test_search_is_refused_as_intune_does(client: httpx.Client) -> None:
    response = client.get(TASKS_PATH, params={"$search": '"antivirus"'})
    assert_graph_error(response, 400, "BadRequest")
    assert "Query option 'Search' is not allowed" in response.json()["error"]["message"]


def test_not_found_uses_intunes_json_in_string_message(client: httpx.Client) -> None:
    response = client.get(
        f"{TASKS_PATH}/00000000-0000-0000-0000-000000000000", headers={"client-request-id": "c1"}
    )
    assert_graph_error(response, 404, "ResourceNotFound")
    document = json.loads(response.json()["error"]["message"])
    assert document["_version"] == 3
    assert "Activity ID: c1" in document["Message"]


def test_a_nul_character_is_refused_on_every_backend(client: httpx.Client) -> None:
    response = client.post(TASKS_PATH, json={"displayName": "a\u0000b"})
    assert_graph_error(response, 400, "ModelValidationFailure")


@pytest.mark.parametrize("task_id", ["%00", "not-a-guid", "x" * 300])
def test_ids_that_cannot_exist_are_404(client: httpx.Client, task_id: str) -> None:
    assert_graph_error(client.get(f"{TASKS_PATH}/{task_id}"), 404, "ResourceNotFound")
    assert_graph_error(client.delete(f"{TASKS_PATH}/{task_id}"), 404, "ResourceNotFound")
