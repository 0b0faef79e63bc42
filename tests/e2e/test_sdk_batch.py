"""The official SDK's JSON batching (msgraph-core's BatchRequestContentCollection and BatchRequestBuilder)
against graphtasks: 25 creates, which the SDK splits into batches of 20 and 5, then a batch of reads.

msgraph-core reads each item's status and headers, but with the kiota-serialization-json in use it
drops item bodies that are JSON objects (a known kiota-python bug: docs/graph-behaviour.md,
"JSON batching"), which is what Graph sends and what graphtasks sends. So the tasks are read back
with the SDK's ordinary GET, by the ids in the items' Location headers; the raw bodies are checked
over HTTP in tests/integration/test_batch.py.
"""

from __future__ import annotations

from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.models.security_configuration_task import SecurityConfigurationTask
from msgraph_core.requests.batch_request_builder import BatchRequestBuilder
from msgraph_core.requests.batch_request_content_collection import BatchRequestContentCollection
from msgraph_core.requests.batch_request_item import BatchRequestItem
from msgraph_core.requests.batch_response_content_collection import BatchResponseContentCollection

from tests.e2e.test_sdk import founding_task, run_sdk
from tests.e2e.test_sdk import pytestmark as sdk_marks
from tests.support.server import Server

pytestmark = sdk_marks
COUNT = 25


def status_codes(collection: BatchResponseContentCollection) -> dict[str, int]:
    """Item id -> status over every batch the SDK sent (the collection's own responses_status_codes
    raises TypeError in msgraph-core 1.x: it expects items where it holds batches)."""
    return {
        item: code
        for batch in collection.get_responses()
        for item, code in batch.get_response_status_codes().items()
    }


def test_a_batch_of_creates_then_a_batch_of_reads(server: Server) -> None:
    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        creates = BatchRequestContentCollection()
        for number in range(COUNT):
            task = founding_task()
            task.display_name = f"batched {number}"
            creates.add_batch_request_item(
                BatchRequestItem(tasks.to_post_request_information(task), f"c{number}")
            )
        created = await BatchRequestBuilder(client.request_adapter).post(creates)
        assert isinstance(created, BatchResponseContentCollection)
        statuses = status_codes(created)
        assert statuses == {f"c{number}": 201 for number in range(COUNT)}
        ids = {
            item_id: response.headers["Location"].rsplit("/", 1)[-1]
            for batch in created.get_responses()
            for item_id, response in (batch.responses or {}).items()
            if response.headers
        }
        assert len(set(ids.values())) == COUNT

        reads = BatchRequestContentCollection()
        for item_id, task_id in ids.items():
            info = tasks.by_device_app_management_task_id(task_id).to_get_request_information()
            reads.add_batch_request_item(BatchRequestItem(info, f"r{item_id}"))
        read = await BatchRequestBuilder(client.request_adapter).post(reads)
        assert isinstance(read, BatchResponseContentCollection)
        assert set(status_codes(read).values()) == {200}

        for item_id, task_id in ids.items():
            fetched = await tasks.by_device_app_management_task_id(task_id).get()
            assert isinstance(fetched, SecurityConfigurationTask)
            assert fetched.display_name == f"batched {item_id.removeprefix('c')}"

    run_sdk(server, scenario)
