"""JSON batching over HTTP (docs/graph-behaviour.md, "JSON batching"): `POST /beta/$batch` runs each
inner request as if it had been sent alone, and answers 200 with each one's status, headers and body."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

from graphtasks.auth.permissions import APPS_READ
from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server

BATCH = "/beta/$batch"
TASKS = TASKS_PATH.removeprefix("/beta")
JSON_HEADERS = {"Content-Type": "application/json"}


def create(request_id: str, name: str, **extra: Any) -> dict[str, Any]:
    body = {"@odata.type": "#microsoft.graph.securityConfigurationTask", "displayName": name}
    return write(request_id, "POST", TASKS, body) | extra


def write(request_id: str, method: str, url: str, body: object, **extra: Any) -> dict[str, Any]:
    return {"id": request_id, "method": method, "url": url, "headers": JSON_HEADERS, "body": body} | extra


def send(client: httpx.Client, *requests: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Post a batch; its answers by id (Graph may order them as it likes)."""
    response = client.post(BATCH, json={"requests": list(requests)})
    assert response.status_code == 200, response.text
    return {answer["id"]: answer for answer in response.json()["responses"]}


def test_creates_and_reads_in_one_batch(server: Server) -> None:
    tenant = str(uuid.uuid4())
    with server.client(server.token(tenant=tenant)) as client:
        answers = send(
            client,
            create("1", "first"),
            create("2", "second"),
            {"id": "3", "method": "GET", "url": f"{TASKS}?$orderby=displayName", "dependsOn": ["1", "2"]},
            {"id": "4", "method": "GET", "url": f"{TASKS}/$count", "dependsOn": ["3"]},
        )
        assert (answers["1"]["status"], answers["2"]["status"]) == (201, 201)
        created = answers["1"]["body"]
        assert created["displayName"] == "first"
        assert answers["1"]["headers"]["Location"].endswith(f"{TASKS}/{created['id']}")
        assert answers["1"]["headers"]["Content-Type"].startswith("application/json;odata.metadata=minimal")
        assert answers["1"]["headers"]["OData-Version"] == "4.0"
        listed = answers["3"]["body"]["value"]
        assert [task["displayName"] for task in listed] == ["first", "second"]
        assert base64.b64decode(answers["4"]["body"]) == b"2"  # text/plain bodies travel as base64
        # What the batch wrote is there for plain requests too.
        assert client.get(f"{TASKS_PATH}/{created['id']}").json() == created


def test_patch_delete_and_update_status_inside_a_batch(server: Server) -> None:
    with server.client() as client:
        task = client.post(TASKS_PATH, json={"displayName": "to change"}).json()
        item = f"{TASKS}/{task['id']}"
        answers = send(
            client,
            write("p", "PATCH", item, {"displayName": "x"}),
            write("s", "POST", f"{item}/updateStatus", {"status": "completed", "note": ""}, dependsOn=["p"]),
            {"id": "g", "method": "GET", "url": item, "dependsOn": ["s"]},
            {"id": "d", "method": "DELETE", "url": item, "dependsOn": ["g"]},
        )
        assert [answers[i]["status"] for i in "psgd"] == [204, 204, 200, 204]
        assert "body" not in answers["p"]
        assert (answers["g"]["body"]["displayName"], answers["g"]["body"]["status"]) == ("x", "completed")
        assert client.get(f"{TASKS_PATH}/{task['id']}").status_code == 404


def test_a_base64_body(server: Server) -> None:
    raw = b'{"displayName": "sent as base64"}'
    with server.client() as client:
        answers = send(client, create("1", "ignored", body=base64.b64encode(raw).decode()))
    assert answers["1"]["body"]["displayName"] == "sent as base64"


def test_a_failed_request_fails_its_dependents_with_424(server: Server) -> None:
    missing = f"{TASKS}/{uuid.uuid4()}"
    with server.client() as client:
        answers = send(
            client,
            {"id": "1", "method": "GET", "url": missing},
            create("2", "never made", dependsOn=["1"]),
            create("3", "made anyway"),
        )
        assert answers["1"]["status"] == 404
        assert answers["1"]["body"]["error"]["code"] == "ResourceNotFound"
        assert answers["2"]["status"] == 424
        assert answers["2"]["body"]["error"]["code"] == "FailedDependency"
        assert answers["3"]["status"] == 201
        names = {task["displayName"] for task in client.get(TASKS_PATH).json()["value"]}
        assert "made anyway" in names
        assert "never made" not in names


def test_each_inner_request_is_checked_for_its_own_permission(server: Server) -> None:
    """A read-only token may send a batch: its reads pass, its writes get 403 inside a 200."""
    with server.client(server.token(roles=(APPS_READ,))) as client:
        answers = send(client, create("w", "not allowed"), {"id": "r", "method": "GET", "url": TASKS})
    assert (answers["w"]["status"], answers["r"]["status"]) == (403, 200)
    assert answers["w"]["body"]["error"]["code"] == "Forbidden"


def test_a_batch_without_a_valid_token_is_401(server: Server) -> None:
    response = server.request("POST", f"{server.url}{BATCH}", json={"requests": [create("1", "x")]})
    assert_graph_error(response, 401, "InvalidAuthenticationToken")


def test_inner_errors_are_graphs(server: Server) -> None:
    with server.client() as client:
        answers = send(
            client,
            create("bad", "x", body={"displayName": "x", "unknownProperty": 1}),
            write("nested", "POST", "/$batch", {"requests": []}),
            {"id": "v1", "method": "GET", "url": "https://graph.microsoft.com/v1.0" + TASKS},
            write("verb", "PUT", TASKS, {}),
        )
    assert (answers["bad"]["status"], answers["bad"]["body"]["error"]["code"]) == (
        400,
        "ModelValidationFailure",
    )
    assert answers["nested"]["status"] == 400
    assert answers["v1"]["status"] == 400
    assert answers["v1"]["body"]["error"]["message"] == (
        "Resource not found for the segment 'deviceAppManagementTasks'."
    )
    assert answers["verb"]["status"] == 405


def test_malformed_batches_are_400_and_write_nothing(server: Server) -> None:
    tenant = str(uuid.uuid4())
    with server.client(server.token(tenant=tenant)) as client:
        too_many = [create(str(i), f"t{i}") for i in range(21)]
        documents: list[dict[str, Any]] = [
            {"requests": too_many},
            {"requests": [create("a", "one"), create("A", "two")]},
            {"requests": [create("1", "x", headers={})]},
            {"requests": [create("1", "x", dependsOn=["2"]), create("2", "y", dependsOn=["1"])]},
            {"value": []},
        ]
        for document in documents:
            assert_graph_error(client.post(BATCH, json=document), 400, "BadRequest")
        assert client.get(f"{TASKS_PATH}/$count").text == "0"


def test_only_post(server: Server) -> None:
    with server.client() as client:
        response = client.get(BATCH)
    assert_graph_error(response, 405, "Request_BadRequest")
    assert response.headers["allow"] == "POST"


def test_inner_urls_are_read_as_a_client_would_send_them(server: Server) -> None:
    """Raw non-ASCII text and spaces in a query are percent-encoded, and a percent-encoded path is
    decoded, as for a request sent alone."""
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        made = client.post(TASKS_PATH, json={"displayName": "café €"}).json()
        answers = send(
            client,
            {"id": "q", "method": "GET", "url": f"{TASKS}?$filter=displayName eq 'café €'"},
            {"id": "k", "method": "GET", "url": f"{TASKS}/{made['id'].replace('-', '%2D')}"},
            {
                "id": "n",
                "method": "POST",
                "url": "/%24batch",
                "headers": JSON_HEADERS,
                "body": {"requests": []},
            },
        )
    assert [task["id"] for task in answers["q"]["body"]["value"]] == [made["id"]]
    assert answers["k"]["status"] == 200
    assert answers["n"]["status"] == 400
