"""The official SDK sees a task's navigation collections inline under $expand, the first page of
each (docs/resilience.md, "$expand")."""

from __future__ import annotations

import uuid

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.models.app_vulnerability_task import AppVulnerabilityTask

from graphtasks.odata.selection import EXPANDED_PAGE_SIZE
from tests.e2e.test_sdk import pytestmark as sdk_marks
from tests.e2e.test_sdk import run_sdk
from tests.support.server import TASKS_PATH, Server

pytestmark = sdk_marks


def test_expand_reaches_the_sdk_models(server: Server) -> None:
    tenant = str(uuid.uuid4())
    token = server.token(tenant=tenant)
    with server.client(token) as client:
        task = client.post(TASKS_PATH, json={"@odata.type": "#microsoft.graph.appVulnerabilityTask"}).json()
        children = f"{TASKS_PATH}/{task['id']}"
        device = {"displayName": "LAPTOP-1", "lastSyncDateTime": "2024-05-03T00:00:00Z"}
        assert client.post(f"{children}/managedDevices", json=device).status_code == 201
        app = {"displayName": "Contoso Reader", "version": "1.2.3"}
        assert client.post(f"{children}/mobileApps", json=app).status_code == 201

    async def scenario(graph: GraphServiceClient) -> object:
        item = graph.device_app_management.device_app_management_tasks.by_device_app_management_task_id(
            task["id"]
        )
        parameters = item.DeviceAppManagementTaskItemRequestBuilderGetQueryParameters(
            expand=["managedDevices", "mobileApps"]
        )
        return await item.get(request_configuration=RequestConfiguration(query_parameters=parameters))

    fetched = run_sdk(server, scenario, token=token)
    assert isinstance(fetched, AppVulnerabilityTask)
    assert [d.display_name for d in fetched.managed_devices] == ["LAPTOP-1"]
    assert fetched.managed_devices[0].last_sync_date_time.isoformat() == "2024-05-03T00:00:00+00:00"
    assert [(a.display_name, a.version) for a in fetched.mobile_apps] == [("Contoso Reader", "1.2.3")]


def test_an_expanded_collection_past_twenty_reaches_the_sdk_with_its_first_page(server: Server) -> None:
    """The SDK reads the first EXPANDED_PAGE_SIZE devices into the model and keeps the nextLink that
    leads to the rest in the task's additional data (its model has no property for it)."""
    tenant = str(uuid.uuid4())
    token = server.token(tenant=tenant)
    with server.client(token) as client:
        task = client.post(TASKS_PATH, json={"@odata.type": "#microsoft.graph.appVulnerabilityTask"}).json()
        devices = f"{TASKS_PATH}/{task['id']}/managedDevices"
        names = sorted(
            (client.post(devices, json={"displayName": f"PC-{i:02d}"}).json()["id"], f"PC-{i:02d}")
            for i in range(EXPANDED_PAGE_SIZE + 5)
        )

    async def scenario(graph: GraphServiceClient) -> object:
        item = graph.device_app_management.device_app_management_tasks.by_device_app_management_task_id(
            task["id"]
        )
        parameters = item.DeviceAppManagementTaskItemRequestBuilderGetQueryParameters(
            expand=["managedDevices"]
        )
        return await item.get(request_configuration=RequestConfiguration(query_parameters=parameters))

    fetched = run_sdk(server, scenario, token=token)
    assert isinstance(fetched, AppVulnerabilityTask)
    assert [(d.id, d.display_name) for d in fetched.managed_devices] == names[:EXPANDED_PAGE_SIZE]
    link = fetched.additional_data["managedDevices@odata.nextLink"]
    with server.client(token) as client:
        rest = client.get(link).json()["value"]
    assert [(d["id"], d["displayName"]) for d in rest] == names[EXPANDED_PAGE_SIZE:]
