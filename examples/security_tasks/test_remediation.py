"""Tests of remediation.py against graphtasks: no tenant, no credentials, nothing to clean up. The
`graph_client` and `graphtasks` fixtures come with graphtasks (its pytest plugin); each test gets a tenant
of its own."""

from __future__ import annotations

from msgraph_beta import GraphServiceClient
from remediation import Recommendation, complete, push_recommendation

from graphtasks.testing import Graphtasks

TAMPER = Recommendation(
    title="Turn on tamper protection",
    details="Tamper protection is off on 12 devices.",
    severity="high",
    settings={"TamperProtection": "enabled"},
)


async def test_a_recommendation_becomes_a_pending_task(
    graph_client: GraphServiceClient, graphtasks: Graphtasks
) -> None:
    task_id = await push_recommendation(graph_client, TAMPER)

    [stored] = graphtasks.tasks()
    assert stored["id"] == task_id
    assert stored["@odata.type"] == "#microsoft.graph.securityConfigurationTask"
    assert (stored["displayName"], stored["priority"], stored["status"]) == (
        "Turn on tamper protection",
        "high",
        "pending",
    )
    assert stored["intendedSettings"] == [
        {"@odata.type": "#microsoft.graph.keyValuePair", "name": "TamperProtection", "value": "enabled"}
    ]


async def test_completing_sends_update_status_with_the_note(
    graph_client: GraphServiceClient, graphtasks: Graphtasks
) -> None:
    task_id = await push_recommendation(graph_client, TAMPER)
    graphtasks.clear_requests()

    await complete(graph_client, task_id, "Deployed by policy 42.")

    assert graphtasks.tasks()[0]["status"] == "completed"
    [sent] = graphtasks.requests()
    assert (sent["method"], sent["status"]) == ("POST", 204)
    assert sent["path"].endswith(f"/deviceAppManagementTasks/{task_id}/updateStatus")
    assert sent["requestBody"] == {"status": "completed", "note": "Deployed by policy 42."}


async def test_a_task_loaded_as_a_fixture_can_be_completed(
    graph_client: GraphServiceClient, graphtasks: Graphtasks
) -> None:
    graphtasks.load(
        [
            {
                "@odata.type": "#microsoft.graph.securityConfigurationTask",
                "id": "5d630f12-0f12-5d63-120f-635d120f635d",
                "displayName": "Old finding",
                "status": "active",
            }
        ]
    )

    await complete(graph_client, "5d630f12-0f12-5d63-120f-635d120f635d", "Fixed.")

    assert [task["status"] for task in graphtasks.tasks()] == ["completed"]


async def test_a_throttled_create_is_retried_by_the_sdk(
    graph_client: GraphServiceClient, graphtasks: Graphtasks
) -> None:
    graphtasks.faults([{"operation": "create_task", "status": 429, "retryAfter": 1, "times": 1}])

    await push_recommendation(graph_client, TAMPER)

    assert [entry["status"] for entry in graphtasks.requests()] == [429, 201]
    assert len(graphtasks.tasks()) == 1
