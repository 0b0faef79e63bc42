"""The official SDK with graphtasks' ETags: `@odata.etag` arrives in additional_data, and an If-Match
header set through the SDK's request configuration guards a PATCH (412 as an ODataError)."""

from __future__ import annotations

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_beta.generated.models.security_configuration_task import SecurityConfigurationTask

from tests.e2e.test_sdk import founding_task, run_sdk
from tests.e2e.test_sdk import pytestmark as sdk_marks
from tests.support.server import Server

pytestmark = sdk_marks


def if_match(etag: str) -> RequestConfiguration[None]:
    configuration: RequestConfiguration[None] = RequestConfiguration()
    configuration.headers.add("If-Match", etag)
    return configuration


def test_if_match_through_the_sdk(server: Server) -> None:
    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        created = await tasks.post(founding_task())
        assert created is not None and created.id is not None
        etag = created.additional_data["@odata.etag"]
        item = tasks.by_device_app_management_task_id(created.id)
        with pytest.raises(ODataError) as raised:
            await item.patch(SecurityConfigurationTask(display_name="stale"), if_match('W/"stale"'))
        assert (raised.value.response_status_code, raised.value.error.code) == (412, "PreconditionFailed")
        await item.patch(SecurityConfigurationTask(display_name="fresh"), if_match(etag))
        fetched = await item.get()
        assert fetched is not None
        assert fetched.display_name == "fresh"
        assert fetched.additional_data["@odata.etag"] != etag

    run_sdk(server, scenario)
