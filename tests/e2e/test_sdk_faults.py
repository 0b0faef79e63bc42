"""The official SDK's retry handler against injected faults: it retries 429, 503 and 504 on every
method, POST included (docs/graph-behaviour.md, "Retries and redirects"), and since a fault is
decided before any state changes, its retries never duplicate a create; past its three retries, or on
a 500, the caller gets an ODataError and nothing was written. Both backends (the `server` fixture)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.device_app_management.device_app_management_tasks.item.update_status.update_status_post_request_body import (  # noqa: E501
    UpdateStatusPostRequestBody,
)
from msgraph_beta.generated.models.device_app_management_task_status import DeviceAppManagementTaskStatus
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError

from graphtasks.auth.admin import admin_key
from tests.e2e.test_sdk import founding_task, run_sdk
from tests.e2e.test_sdk import pytestmark as sdk_marks
from tests.support.server import TASKS_PATH, Server

pytestmark = sdk_marks


def put_plan(server: Server, *rules: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {admin_key(server.keys())}"}
    answer = server.request(
        "PUT",
        f"{server.url}/graphtasks/admin/faults",
        json={"seed": 1, "rules": list(rules)},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text


def stored(server: Server, tenant: str) -> list[dict[str, Any]]:
    with server.client(server.token(tenant=tenant)) as client:
        tasks: list[dict[str, Any]] = client.get(TASKS_PATH).json()["value"]
        return tasks


@pytest.mark.parametrize(("status", "times"), [(503, 2), (429, 3), (504, 1)])
def test_the_sdk_retries_a_create_into_exactly_one_task(server: Server, status: int, times: int) -> None:
    tenant = str(uuid.uuid4())
    put_plan(
        server,
        {"tenant": tenant, "operation": "create_task", "status": status, "retryAfter": 1, "times": times},
    )

    async def scenario(client: GraphServiceClient) -> str | None:
        created = await client.device_app_management.device_app_management_tasks.post(founding_task())
        return None if created is None else created.id

    started = time.monotonic()
    created_id = run_sdk(server, scenario, token=server.token(tenant=tenant))
    assert time.monotonic() - started >= times  # it waited Retry-After before each retry
    assert [task["id"] for task in stored(server, tenant)] == [created_id]


def test_past_three_retries_the_caller_gets_the_error_and_nothing_changed(server: Server) -> None:
    tenant = str(uuid.uuid4())
    with server.client(server.token(tenant=tenant)) as client:
        task_id = client.post(TASKS_PATH, json={"displayName": "steady", "status": "pending"}).json()["id"]
    put_plan(
        server, {"tenant": tenant, "operation": "update_status", "status": 503, "retryAfter": 1, "times": 4}
    )

    async def scenario(client: GraphServiceClient) -> None:
        body = UpdateStatusPostRequestBody(status=DeviceAppManagementTaskStatus.Completed, note="done")
        item = client.device_app_management.device_app_management_tasks.by_device_app_management_task_id(
            task_id
        )
        with pytest.raises(ODataError) as raised:
            await item.update_status.post(body)
        assert raised.value.response_status_code == 503
        assert raised.value.error is not None and raised.value.error.code == "ServiceUnavailable"

    run_sdk(server, scenario, token=server.token(tenant=tenant))
    assert [task["status"] for task in stored(server, tenant)] == ["pending"]


def test_a_500_is_not_retried_and_wrote_nothing(server: Server) -> None:
    tenant = str(uuid.uuid4())
    put_plan(server, {"tenant": tenant, "operation": "create_task", "status": 500, "times": 1})

    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        with pytest.raises(ODataError) as raised:
            await tasks.post(founding_task())
        assert raised.value.response_status_code == 500
        assert await tasks.post(founding_task()) is not None  # the rule's one hit is spent

    run_sdk(server, scenario, token=server.token(tenant=tenant))
    assert len(stored(server, tenant)) == 1
