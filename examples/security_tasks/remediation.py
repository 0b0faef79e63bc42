"""Code under test: it turns Defender recommendations into Intune security tasks for the admins, and
closes a task once the fix is deployed. It knows nothing of graphtasks: it takes the official SDK's
GraphServiceClient, which in production points at graph.microsoft.com."""

from __future__ import annotations

from dataclasses import dataclass

from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.device_app_management.device_app_management_tasks.item.update_status.update_status_post_request_body import (  # noqa: E501
    UpdateStatusPostRequestBody,
)
from msgraph_beta.generated.models.device_app_management_task_category import DeviceAppManagementTaskCategory
from msgraph_beta.generated.models.device_app_management_task_priority import DeviceAppManagementTaskPriority
from msgraph_beta.generated.models.device_app_management_task_status import DeviceAppManagementTaskStatus
from msgraph_beta.generated.models.endpoint_security_configuration_applicable_platform import (
    EndpointSecurityConfigurationApplicablePlatform,
)
from msgraph_beta.generated.models.key_value_pair import KeyValuePair
from msgraph_beta.generated.models.security_configuration_task import SecurityConfigurationTask


@dataclass(frozen=True)
class Recommendation:
    """A Defender for Endpoint security recommendation, as the integration receives it."""

    title: str
    details: str
    severity: str  # "high" or "low"
    settings: dict[str, str]


async def push_recommendation(client: GraphServiceClient, recommendation: Recommendation) -> str:
    """Create the security task for `recommendation`; its id."""
    task = SecurityConfigurationTask(
        display_name=recommendation.title,
        description=recommendation.details,
        category=DeviceAppManagementTaskCategory.AdvancedThreatProtection,
        priority=DeviceAppManagementTaskPriority(recommendation.severity),
        status=DeviceAppManagementTaskStatus.Pending,
        creator="defender-integration",
        applicable_platform=EndpointSecurityConfigurationApplicablePlatform.Windows10AndLater,
        intended_settings=[
            KeyValuePair(name=name, value=value) for name, value in recommendation.settings.items()
        ],
    )
    created = await client.device_app_management.device_app_management_tasks.post(task)
    if created is None or created.id is None:
        raise RuntimeError("Graph answered the create without the task")
    return str(created.id)


async def complete(client: GraphServiceClient, task_id: str, note: str) -> None:
    """Mark the task completed, with a note for the admins."""
    task = client.device_app_management.device_app_management_tasks.by_device_app_management_task_id(task_id)
    body = UpdateStatusPostRequestBody(status=DeviceAppManagementTaskStatus.Completed, note=note)
    await task.update_status.post(body)
