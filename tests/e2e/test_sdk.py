"""The official msgraph-beta-sdk as the client, end to end: the whole life of a task against a real server
over HTTP, and the rest against the application in process, through the SDK's own middleware.

Owns the proof that an unmodified SDK can create, read, list, patch, act on, count and delete every
task type, and can read the server's Graph errors. Builds the client as docs/graph-behaviour.md,
"Pointing the SDK at graphtasks" describes, and never talks HTTP itself: every request here is one
the SDK builds and every answer one it parses.

The SDK is async and pytest-asyncio is not a dependency, so each test runs one coroutine with
asyncio.run on a client created (and closed) inside that loop. The SDK's first deserialization
imports its whole model package (about 5 s: docs/graph-behaviour.md, "Cost of the first call");
its transport timeout stays at the default 100 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph_beta import GraphRequestAdapter, GraphServiceClient
from msgraph_beta.generated.device_app_management.device_app_management_tasks.item.update_status.update_status_post_request_body import (  # noqa: E501
    UpdateStatusPostRequestBody,
)
from msgraph_beta.generated.models.app_vulnerability_task import AppVulnerabilityTask
from msgraph_beta.generated.models.app_vulnerability_task_mitigation_type import (
    AppVulnerabilityTaskMitigationType,
)
from msgraph_beta.generated.models.device_app_management_task import DeviceAppManagementTask
from msgraph_beta.generated.models.device_app_management_task_category import DeviceAppManagementTaskCategory
from msgraph_beta.generated.models.device_app_management_task_priority import DeviceAppManagementTaskPriority
from msgraph_beta.generated.models.device_app_management_task_status import DeviceAppManagementTaskStatus
from msgraph_beta.generated.models.endpoint_security_configuration_applicable_platform import (
    EndpointSecurityConfigurationApplicablePlatform,
)
from msgraph_beta.generated.models.endpoint_security_configuration_profile_type import (
    EndpointSecurityConfigurationProfileType,
)
from msgraph_beta.generated.models.endpoint_security_configuration_type import (
    EndpointSecurityConfigurationType,
)
from msgraph_beta.generated.models.key_value_pair import KeyValuePair
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError
from msgraph_beta.generated.models.security_configuration_task import SecurityConfigurationTask
from msgraph_beta.generated.models.unmanaged_device import UnmanagedDevice
from msgraph_beta.generated.models.unmanaged_device_discovery_task import UnmanagedDeviceDiscoveryTask
from msgraph_core import GraphClientFactory

from graphtasks.auth.permissions import APPS_READ
from tests.support.server import AppServer, Server

if TYPE_CHECKING:
    # For annotations only: importing a request builder runs its deprecated class bodies, whose
    # warnings the module's filters below cover during tests but not during collection.
    from msgraph_beta.generated.device_app_management.device_app_management_tasks.device_app_management_tasks_request_builder import (  # noqa: E501
        DeviceAppManagementTasksRequestBuilder as TasksBuilder,
    )
    from msgraph_beta.generated.device_app_management.device_app_management_tasks.item.device_app_management_task_item_request_builder import (  # noqa: E501
        DeviceAppManagementTaskItemRequestBuilder as TaskBuilder,
    )

pytestmark = [
    pytest.mark.slow,
    # Both warnings fire from class bodies when the SDK first imports its own request builders
    # (kiota_abstractions/default_query_parameters.py:22 and each generated *RequestConfiguration in
    # msgraph_beta 1.66.0); nothing a caller writes avoids them.
    pytest.mark.filterwarnings(
        r"ignore:GetQueryParameters is deprecated\. Use QueryParameters instead\.:DeprecationWarning"
    ),
    pytest.mark.filterwarnings(
        r"ignore:This class is deprecated\. Please use the generic RequestConfiguration class generated "
        r"by the generator\.:DeprecationWarning"
    ),
]

T = TypeVar("T")
Scenario = Callable[[GraphServiceClient], Awaitable[T]]

# --- the client, as docs/graph-behaviour.md, "Pointing the SDK at graphtasks" builds it ---


class StaticTokenProvider(AccessTokenProvider):
    """Hands the SDK one fixed bearer token, for any host (an empty allow-list allows every host)."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator([])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, object] | None = None
    ) -> str:
        return self._token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


def run_sdk(server: Server, scenario: Scenario[T], *, token: str | None = None) -> T:
    """Run `scenario` with a fresh SDK client for `server`, in its own event loop."""

    async def main() -> T:
        auth = BaseBearerTokenAuthenticationProvider(StaticTokenProvider(token or server.token()))
        # In process, the SDK's own middleware over the application's transport; else its own network.
        http = (
            GraphClientFactory.create_with_default_middleware(
                client=httpx.AsyncClient(transport=server.async_transport(), timeout=100.0)
            )
            if isinstance(server, AppServer)
            else None
        )
        adapter = GraphRequestAdapter(auth, client=http)
        # No trailing slash: docs/graph-behaviour.md, "Pointing the SDK at graphtasks".
        adapter.base_url = server.url + "/beta"
        try:
            return await scenario(GraphServiceClient(request_adapter=adapter))
        finally:
            await close_connections(adapter)

    return asyncio.run(main())


async def close_connections(adapter: GraphRequestAdapter) -> None:
    """Close the SDK's connection pool inside the loop that opened it.

    AsyncClient.aclose() is not enough: msgraph-core 1.5.2's AsyncGraphTransport and kiota-http's
    AsyncKiotaTransport wrap httpx's AsyncHTTPTransport without forwarding aclose(), so its keep-alive
    sockets would outlive the loop and surface later as ResourceWarnings (errors under filterwarnings).
    """
    transport = adapter._http_client._transport
    while hasattr(transport, "transport"):
        transport = transport.transport
    await transport.aclose()
    await adapter._http_client.aclose()


# --- the tasks this module sends ---

DUE = datetime.fromisoformat("2017-01-01T00:02:18.199408-08:00")


def founding_task() -> SecurityConfigurationTask:
    """The example request of Graph's "Create securityConfigurationTask" page, as SDK objects."""
    return SecurityConfigurationTask(
        display_name="Display Name value",
        description="Description value",
        due_date_time=DUE,
        category=DeviceAppManagementTaskCategory.AdvancedThreatProtection,
        priority=DeviceAppManagementTaskPriority.High,
        creator="Creator value",
        creator_notes="Creator Notes value",
        assigned_to="Assigned To value",
        status=DeviceAppManagementTaskStatus.Pending,
        endpoint_security_policy=EndpointSecurityConfigurationType.Antivirus,
        applicable_platform=EndpointSecurityConfigurationApplicablePlatform.MacOS,
        endpoint_security_policy_profile=EndpointSecurityConfigurationProfileType.Antivirus,
        insights="Insights value",
        managed_device_count=2,
        intended_settings=[KeyValuePair(name="Name value", value="Value value")],
    )


def app_vulnerability_task() -> AppVulnerabilityTask:
    return AppVulnerabilityTask(
        display_name="Update Contoso Reader",
        description="CVE-2024-0001 in Contoso Reader",
        due_date_time=datetime(2024, 6, 2, 9, 30, 15, 123456, tzinfo=UTC),
        category=DeviceAppManagementTaskCategory.AdvancedThreatProtection,
        priority=DeviceAppManagementTaskPriority.Low,
        creator="mdatp@contoso.com",
        creator_notes="Exploited in the wild",
        assigned_to="admin@contoso.com",
        status=DeviceAppManagementTaskStatus.Active,
        app_name="Contoso Reader",
        app_publisher="Contoso",
        app_version="1.2.3",
        mitigation_type=AppVulnerabilityTaskMitigationType.Update,
        insights="Exploit seen on 3 devices",
        managed_device_count=3,
        mobile_app_count=1,
        remediation="Update to 1.2.4",
    )


def unmanaged_discovery_task() -> UnmanagedDeviceDiscoveryTask:
    device = UnmanagedDevice(
        os="Windows",
        os_version="10.0.22631",
        ip_address="10.0.0.7",
        device_name="LAPTOP-7",
        mac_address="00:11:22:33:44:55",
        domain="contoso.local",
        manufacturer="Contoso",
        model="Book 3",
        location="Building 4",
        last_logged_on_user="alex@contoso.com",
        last_seen_date_time=datetime.fromisoformat("2024-05-03T10:11:12.5+05:30"),
    )
    return UnmanagedDeviceDiscoveryTask(
        display_name="Onboard discovered devices",
        description="Devices seen on the network but not enrolled",
        due_date_time=datetime(2024, 7, 1, tzinfo=UTC),
        category=DeviceAppManagementTaskCategory.Unknown,
        priority=DeviceAppManagementTaskPriority.None_,
        creator="discovery@contoso.com",
        creator_notes="Weekly scan",
        assigned_to="helpdesk@contoso.com",
        status=DeviceAppManagementTaskStatus.Rejected,
        unmanaged_devices=[device],
    )


# --- comparing what was sent with what came back ---

BASE_FIELDS = (
    "display_name",
    "description",
    "due_date_time",
    "category",
    "priority",
    "creator",
    "creator_notes",
    "assigned_to",
    "status",
)
SUBTYPE_FIELDS: dict[type, tuple[str, ...]] = {
    SecurityConfigurationTask: (
        "endpoint_security_policy",
        "applicable_platform",
        "endpoint_security_policy_profile",
        "insights",
        "managed_device_count",
        "intended_settings",
    ),
    AppVulnerabilityTask: (
        "app_name",
        "app_publisher",
        "app_version",
        "mitigation_type",
        "insights",
        "managed_device_count",
        "mobile_app_count",
        "remediation",
    ),
    UnmanagedDeviceDiscoveryTask: ("unmanaged_devices",),
}
# Model fields that are not settable task properties: bookkeeping, server-set, or navigation
# collections the server does not return inline (docs/graph-behaviour.md, "Navigation collections").
NOT_COMPARED = frozenset(
    {
        "backing_store",
        "additional_data",
        "odata_type",
        "id",
        "created_date_time",
        "managed_devices",
        "mobile_apps",
    }
)


def properties(task: DeviceAppManagementTask) -> dict[str, object]:
    """Every settable property of `task`, complex values as plain dicts."""
    names = (*BASE_FIELDS, *SUBTYPE_FIELDS[type(task)])
    return {name: plain(getattr(task, name)) for name in names}


def plain(value: object) -> object:
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        # An aware datetime equals the same instant in any offset; a naive one would equal nothing sent.
        assert value.tzinfo is not None, f"naive datetime {value!r}"
        return value.astimezone(UTC)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # A complex value's '@odata.type' is spelled with or without '#'; the type is fixed by the property.
        return {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in NOT_COMPARED
        }
    return value


def assert_same_properties(actual: DeviceAppManagementTask, sent: DeviceAppManagementTask) -> None:
    assert type(actual) is type(sent)
    assert properties(actual) == properties(sent)


def assert_server_fields(task: DeviceAppManagementTask, *, since: datetime) -> None:
    """The server-set properties: a GUID key and a recent, offset-aware creation time."""
    assert str(uuid.UUID(task.id)) == task.id
    created = task.created_date_time
    assert isinstance(created, datetime)
    assert created.tzinfo is not None
    assert since - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.parametrize("make_task", [founding_task, app_vulnerability_task, unmanaged_discovery_task])
def test_example_tasks_set_every_property(make_task: Callable[[], DeviceAppManagementTask]) -> None:
    """The comparisons below mean something only if every settable property was actually sent."""
    task = make_task()
    sent = properties(task)
    assert all(value not in (None, []) for value in sent.values()), sent
    settable = {f.name for f in dataclasses.fields(task)} - NOT_COMPARED
    assert settable == set(sent)


# --- the tests ---


async def create_list_and_get(
    tasks: TasksBuilder, sent: SecurityConfigurationTask, *, since: datetime
) -> str:
    created = await tasks.post(sent)
    assert_same_properties(created, sent)
    assert_server_fields(created, since=since)

    listed = await tasks.get()
    matches = [t for t in listed.value if t.id == created.id]
    assert len(matches) == 1
    assert_same_properties(matches[0], sent)

    fetched = await tasks.by_device_app_management_task_id(created.id).get()
    assert_same_properties(fetched, sent)
    assert (fetched.id, fetched.created_date_time) == (created.id, created.created_date_time)
    task_id: str = created.id
    return task_id


async def patch_and_update_status(item: TaskBuilder, sent: SecurityConfigurationTask) -> None:
    change = SecurityConfigurationTask(
        assigned_to="someone@contoso.com",
        status=DeviceAppManagementTaskStatus.Active,
        description="changed",
    )
    assert await item.patch(change) is None  # 204 No Content
    expected = {
        **properties(sent),
        "assigned_to": "someone@contoso.com",
        "status": DeviceAppManagementTaskStatus.Active,
        "description": "changed",
    }
    assert properties(await item.get()) == expected

    body = UpdateStatusPostRequestBody(status=DeviceAppManagementTaskStatus.Completed, note="done")
    assert await item.update_status.post(body) is None
    assert properties(await item.get()) == {**expected, "status": DeviceAppManagementTaskStatus.Completed}


async def count_and_delete(tasks: TasksBuilder, item: TaskBuilder) -> None:
    count = await tasks.count.get()
    assert isinstance(count, int)
    assert count == len((await tasks.get()).value)

    assert await item.delete() is None
    with pytest.raises(ODataError) as raised:
        await item.get()
    assert (raised.value.response_status_code, raised.value.error.code) == (404, "ResourceNotFound")
    assert await tasks.count.get() == count - 1


def test_founding_task_lifecycle(real_server: Server) -> None:
    """Create the "Create securityConfigurationTask" page's example, then list, get, patch,
    updateStatus, $count and delete it: over the network, from a real server process, as the other
    SDK tests (in process) do not."""
    server = real_server
    since = datetime.now(UTC)
    sent = founding_task()

    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        task_id = await create_list_and_get(tasks, sent, since=since)
        item = tasks.by_device_app_management_task_id(task_id)
        await patch_and_update_status(item, sent)
        await count_and_delete(tasks, item)

    run_sdk(server, scenario)


@pytest.mark.parametrize("make_task", [founding_task, app_vulnerability_task, unmanaged_discovery_task])
def test_every_subtype_round_trips(server: Server, make_task: Callable[[], DeviceAppManagementTask]) -> None:
    since = datetime.now(UTC)
    sent = make_task()

    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        created = await tasks.post(sent)
        assert_same_properties(created, sent)
        assert_server_fields(created, since=since)
        fetched = await tasks.by_device_app_management_task_id(created.id).get()
        assert_same_properties(fetched, sent)

    run_sdk(server, scenario)


def test_list_returns_each_subtype_as_its_sdk_class(server: Server) -> None:
    sent = [founding_task(), app_vulnerability_task(), unmanaged_discovery_task()]

    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        ids = [(await tasks.post(task)).id for task in sent]
        listed = {t.id: t for t in (await tasks.get()).value}
        assert [type(listed[i]) for i in ids] == [
            SecurityConfigurationTask,
            AppVulnerabilityTask,
            UnmanagedDeviceDiscoveryTask,
        ]
        for task_id, task in zip(ids, sent, strict=True):
            assert_same_properties(listed[task_id], task)

    run_sdk(server, scenario)


@pytest.mark.parametrize("make_task", [founding_task, app_vulnerability_task, unmanaged_discovery_task])
def test_round_trip_patch_of_a_fetched_object(
    server: Server, make_task: Callable[[], DeviceAppManagementTask]
) -> None:
    """PATCH the very object a GET returned: the SDK re-sends id, @odata.context and createdDateTime."""
    sent = make_task()

    async def scenario(client: GraphServiceClient) -> None:
        tasks = client.device_app_management.device_app_management_tasks
        created = await tasks.post(sent)
        item = tasks.by_device_app_management_task_id(created.id)
        fetched = await item.get()
        assert "@odata.context" in fetched.additional_data
        fetched.description = "round trip"
        assert await item.patch(fetched) is None
        after = await item.get()
        assert properties(after) == {**properties(sent), "description": "round trip"}
        assert (after.id, after.created_date_time) == (created.id, created.created_date_time)

    run_sdk(server, scenario)


UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


async def get_unknown(client: GraphServiceClient) -> object:
    return await client.device_app_management.device_app_management_tasks.by_device_app_management_task_id(
        UNKNOWN_ID
    ).get()


async def update_status_without_status(client: GraphServiceClient) -> object:
    tasks = client.device_app_management.device_app_management_tasks
    created = await tasks.post(founding_task())
    body = UpdateStatusPostRequestBody(note="no status")
    return await tasks.by_device_app_management_task_id(created.id).update_status.post(body)


async def create(client: GraphServiceClient) -> object:
    return await client.device_app_management.device_app_management_tasks.post(founding_task())


async def list_tasks(client: GraphServiceClient) -> object:
    return await client.device_app_management.device_app_management_tasks.get()


# An invalid enum value cannot be expressed with SDK models, so these are the server's errors the SDK
# can provoke: each must arrive as an ODataError whose Graph fields survived deserialization.
@pytest.mark.parametrize(
    ("call", "token_kind", "status", "code", "message"),
    [
        (
            get_unknown,
            "valid",
            404,
            "ResourceNotFound",
            f"deviceAppManagementTask '{UNKNOWN_ID}' was not found",
        ),
        (update_status_without_status, "valid", 400, "ModelValidationFailure", "A null value was found"),
        (create, "read-only", 403, "Forbidden", "Application is not authorized to perform this operation"),
        (list_tasks, "garbage", 401, "InvalidAuthenticationToken", "CompactToken parsing failed"),
    ],
    ids=["404-unknown-id", "400-null-status", "403-read-only-token", "401-bad-token"],
)
def test_server_errors_reach_the_sdk_as_odata_errors(
    server: Server, call: Scenario[object], token_kind: str, status: int, code: str, message: str
) -> None:
    tokens = {"valid": server.token(), "read-only": server.token(roles=(APPS_READ,)), "garbage": "not-a-jwt"}

    async def scenario(client: GraphServiceClient) -> ODataError:
        with pytest.raises(ODataError) as raised:
            await call(client)
        return raised.value

    error = run_sdk(server, scenario, token=tokens[token_kind])
    assert (error.response_status_code, error.error.code) == (status, code)
    assert message in error.error.message
    assert error.error.message
    request_id = error.error.inner_error.request_id
    assert str(uuid.UUID(request_id)) == request_id
    assert error.response_headers["request-id"] == request_id
