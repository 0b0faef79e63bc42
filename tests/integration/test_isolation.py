"""Tenant isolation: to another tenant a task does not exist, whatever it tries."""

from __future__ import annotations

import uuid

from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server


def test_another_tenant_cannot_see_or_touch_a_task(server: Server) -> None:
    owner_tenant, other_tenant = str(uuid.uuid4()), str(uuid.uuid4())
    with (
        server.client(server.token(tenant=owner_tenant)) as owner,
        server.client(server.token(tenant=other_tenant)) as other,
    ):
        created = owner.post(TASKS_PATH, json={"displayName": "secret", "status": "pending"}).json()
        url = f"{TASKS_PATH}/{created['id']}"

        assert other.get(TASKS_PATH).json()["value"] == []
        assert other.get(f"{TASKS_PATH}/$count").text == "0"
        assert_graph_error(other.get(url), 404, "ResourceNotFound")
        assert_graph_error(other.patch(url, json={"displayName": "mine"}), 404, "ResourceNotFound")
        assert_graph_error(
            other.post(f"{url}/updateStatus", json={"status": "rejected"}), 404, "ResourceNotFound"
        )
        assert_graph_error(other.delete(url), 404, "ResourceNotFound")

        assert owner.get(url).json() == created
        assert owner.get(f"{TASKS_PATH}/$count").text == "1"
        assert [t["id"] for t in owner.get(TASKS_PATH).json()["value"]] == [created["id"]]
