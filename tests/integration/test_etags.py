"""ETags and conditional requests over HTTP (a graphtasks extension; web/etags.py): every entity shows
`@odata.etag`; If-Match guards PATCH, DELETE and updateStatus (412, nothing written); If-None-Match on GET
answers 304; without the headers nothing changes."""

from __future__ import annotations

import threading
import uuid

from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server

STALE = 'W/"c3RhbGUgZXRhZyB2YWx1ZQ"'
APP_VULNERABILITY = {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "displayName": "vuln"}


def test_every_representation_carries_the_same_etag(server: Server) -> None:
    with server.client() as client:
        created = client.post(TASKS_PATH, json={"displayName": "tagged"})
        etag = created.json()["@odata.etag"]
        assert etag.startswith('W/"')
        assert created.headers["etag"] == etag
        fetched = client.get(f"{TASKS_PATH}/{created.json()['id']}")
        assert (fetched.headers["etag"], fetched.json()["@odata.etag"]) == (etag, etag)
        listed = client.get(TASKS_PATH, params={"$select": "displayName"}).json()["value"]
        assert etag in {task["@odata.etag"] for task in listed}


def test_if_none_match_answers_304_until_the_task_changes(server: Server) -> None:
    with server.client() as client:
        task = client.post(TASKS_PATH, json={"displayName": "cached"}).json()
        url = f"{TASKS_PATH}/{task['id']}"
        unchanged = client.get(url, headers={"If-None-Match": task["@odata.etag"]})
        assert (unchanged.status_code, unchanged.content) == (304, b"")
        assert unchanged.headers["etag"] == task["@odata.etag"]
        client.patch(url, json={"displayName": "changed"})
        changed = client.get(url, headers={"If-None-Match": task["@odata.etag"]})
        assert changed.status_code == 200
        assert changed.json()["@odata.etag"] != task["@odata.etag"]


def test_a_stale_if_match_writes_nothing(server: Server) -> None:
    with server.client() as client:
        task = client.post(TASKS_PATH, json={"displayName": "guarded", "status": "pending"}).json()
        url, stale = f"{TASKS_PATH}/{task['id']}", {"If-Match": STALE}
        assert_graph_error(
            client.patch(url, json={"displayName": "x"}, headers=stale), 412, "PreconditionFailed"
        )
        assert_graph_error(
            client.post(f"{url}/updateStatus", json={"status": "completed"}, headers=stale),
            412,
            "PreconditionFailed",
        )
        assert_graph_error(client.delete(url, headers=stale), 412, "PreconditionFailed")
        after = client.get(url).json()
        assert {**after, "@odata.context": None} == {**task, "@odata.context": None}


def test_the_current_etag_or_a_star_lets_writes_through(server: Server) -> None:
    with server.client() as client:
        task = client.post(TASKS_PATH, json={"displayName": "v1"}).json()
        url = f"{TASKS_PATH}/{task['id']}"
        patched = client.patch(
            url,
            json={"displayName": "v2"},
            headers={"If-Match": task["@odata.etag"], "Prefer": "return=representation"},
        )
        assert patched.status_code == 200
        new_etag = patched.json()["@odata.etag"]
        assert patched.headers["etag"] == new_etag != task["@odata.etag"]
        status = client.post(f"{url}/updateStatus", json={"status": "active"}, headers={"If-Match": new_etag})
        assert status.status_code == 204
        assert client.delete(url, headers={"If-Match": "*"}).status_code == 204
        assert_graph_error(client.delete(url, headers={"If-Match": "*"}), 404, "ResourceNotFound")


def test_two_writers_with_the_same_etag_one_wins(server: Server) -> None:
    """The check runs inside the write's transaction: of eight PATCHes sent at once with the ETag they
    all read, exactly one lands; the others get 412 and lose nothing silently."""
    with server.client() as client:
        task = client.post(TASKS_PATH, json={"displayName": "contended"}).json()
    url, etag = f"{TASKS_PATH}/{task['id']}", task["@odata.etag"]
    statuses: list[int] = []

    def writer(number: int) -> None:
        with server.client() as own:
            response = own.patch(url, json={"displayName": f"writer {number}"}, headers={"If-Match": etag})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [204] + [412] * 7


def test_children_are_guarded_too(server: Server) -> None:
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        task = client.post(TASKS_PATH, json=APP_VULNERABILITY).json()
        devices = f"{TASKS_PATH}/{task['id']}/managedDevices"
        device = client.post(devices, json={"displayName": "PC-1"})
        etag = device.json()["@odata.etag"]
        assert device.headers["etag"] == etag
        url = f"{devices}/{device.json()['id']}"
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert_graph_error(
            client.patch(url, json={"displayName": "x"}, headers={"If-Match": STALE}),
            412,
            "PreconditionFailed",
        )
        assert_graph_error(client.delete(url, headers={"If-Match": STALE}), 412, "PreconditionFailed")
        assert client.patch(url, json={"displayName": "PC-2"}, headers={"If-Match": etag}).status_code == 204
        assert client.get(url).json()["displayName"] == "PC-2"


def test_without_conditional_headers_nothing_changes(server: Server) -> None:
    with server.client() as client:
        task = client.post(TASKS_PATH, json={"displayName": "plain"}).json()
        url = f"{TASKS_PATH}/{task['id']}"
        assert client.patch(url, json={"displayName": "plain 2"}).status_code == 204
        assert client.delete(url).status_code == 204
    assert server.request("GET", f"{server.url}{TASKS_PATH}").status_code == 401


def test_no_304_under_expand(server: Server) -> None:
    """The ETag is the task's own; an answer with $expand holds its children too, which may have
    changed, so If-None-Match never turns it into a 304."""
    with server.client(server.token(tenant=str(uuid.uuid4()))) as client:
        task = client.post(TASKS_PATH, json=APP_VULNERABILITY).json()
        url = f"{TASKS_PATH}/{task['id']}"
        client.post(f"{url}/managedDevices", json={"displayName": "PC-1"})
        expanded = client.get(
            url, params={"$expand": "managedDevices"}, headers={"If-None-Match": task["@odata.etag"]}
        )
        assert expanded.status_code == 200
        assert [d["displayName"] for d in expanded.json()["managedDevices"]] == ["PC-1"]
