"""Production-style code, unchanged but for the authority host and the Graph base URL: azure-identity's
ClientSecretCredential (sync and async) and CertificateCredential with GraphServiceClient, and MSAL's
acquire_token_for_client with a secret or a certificate, against `graphtasks serve --tls` and an app
registered with `graphtasks apps add`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import msal
import pytest
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from msgraph_beta import GraphServiceClient
from msgraph_beta.generated.models.o_data_errors.o_data_error import ODataError

from graphtasks.config import DEFAULT_TENANT
from tests.e2e.test_sdk import close_connections, founding_task
from tests.e2e.test_sdk import pytestmark as sdk_marks
from tests.support.server import TASKS_PATH, Server
from tests.unit.test_client_assertion import Credential, make_credential

pytestmark = sdk_marks
GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]


@pytest.fixture
def trust(tls_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the start-up block tells users to do: trust the local CA (requests, and OpenSSL's default)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.ca))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.ca))


def register(server: Server, *permissions: str, certificate: Path | None = None) -> dict[str, str]:
    command = [sys.executable, "-m", "graphtasks", "apps", "add", "--database", server.database_url, "--json",
               "--tenant", DEFAULT_TENANT, "--permission", *permissions]  # fmt: skip
    if certificate is not None:
        command += ["--certificate", str(certificate)]
    app: dict[str, str] = json.loads(
        subprocess.run(command, capture_output=True, text=True, check=True).stdout
    )
    return app


def authority(server: Server) -> str:
    return server.url.replace("127.0.0.1", "localhost")


async def create_and_list(client: GraphServiceClient, server: Server) -> tuple[Any, list[str]]:
    client.request_adapter.base_url = f"{authority(server)}/beta"  # the only change from production code
    tasks = client.device_app_management.device_app_management_tasks
    try:
        created = await tasks.post(founding_task())
        page = await tasks.get()
    finally:
        await close_connections(client.request_adapter)
    return created, [task.id for task in page.value]


@pytest.mark.usefixtures("trust")
def test_azure_identity_with_the_graph_sdk(tls_server: Server) -> None:
    app = register(tls_server, "DeviceManagementApps.ReadWrite.All")
    credential = ClientSecretCredential(
        DEFAULT_TENANT, app["clientId"], app["clientSecret"],
        authority=authority(tls_server), disable_instance_discovery=True,
    )  # fmt: skip
    client = GraphServiceClient(credentials=credential, scopes=GRAPH_SCOPES)
    created, listed = asyncio.run(create_and_list(client, tls_server))
    assert created.display_name == "Display Name value"
    assert created.id in listed


@pytest.mark.usefixtures("trust")
def test_async_azure_identity_with_the_graph_sdk(tls_server: Server) -> None:
    app = register(tls_server, "DeviceManagementConfiguration.ReadWrite.All")

    async def scenario() -> tuple[Any, list[str]]:
        async with AsyncClientSecretCredential(
            DEFAULT_TENANT, app["clientId"], app["clientSecret"],
            authority=authority(tls_server), disable_instance_discovery=True,
        ) as credential:  # fmt: skip
            return await create_and_list(
                GraphServiceClient(credentials=credential, scopes=GRAPH_SCOPES), tls_server
            )

    created, listed = asyncio.run(scenario())
    assert created.id in listed


def msal_token(server: Server, client_id: str, credential: Any, **options: Any) -> dict[str, Any]:
    """What `ConfidentialClientApplication.acquire_token_for_client` answers for this server's default
    tenant, instance discovery off unless `options` says otherwise."""
    confidential = msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{authority(server)}/{DEFAULT_TENANT}",
        **({"instance_discovery": False} | options),
    )
    result: dict[str, Any] = confidential.acquire_token_for_client(scopes=GRAPH_SCOPES)
    return result


def bearer_client(server: Server, result: dict[str, Any]) -> httpx.Client:
    """An HTTP client for the server carrying the access token MSAL returned (which it must have)."""
    assert "access_token" in result, result
    headers = {"Authorization": f"Bearer {result['access_token']}"}
    return httpx.Client(
        base_url=server.url, headers=headers, verify=server.verify, transport=server.transport()
    )


@pytest.mark.usefixtures("trust")
def test_msal_acquire_token_for_client(tls_server: Server) -> None:
    app = register(tls_server, "DeviceManagementApps.ReadWrite.All")
    with bearer_client(tls_server, msal_token(tls_server, app["clientId"], app["clientSecret"])) as client:
        assert client.post(TASKS_PATH, json={"displayName": "via MSAL"}).status_code == 201


@pytest.mark.usefixtures("trust")
def test_msal_with_instance_discovery_answered_by_graphtasks(tls_server: Server) -> None:
    """Instead of turning instance discovery off, MSAL may be told where to ask: graphtasks answers it."""
    app = register(tls_server, "DeviceManagementApps.Read.All")
    discovery = f"{authority(tls_server)}/common/discovery/instance"
    result = msal_token(tls_server, app["clientId"], app["clientSecret"], instance_discovery=discovery)
    with bearer_client(tls_server, result) as client:
        assert client.get(TASKS_PATH).status_code == 200


@pytest.mark.usefixtures("trust")
def test_an_app_without_write_permission_gets_403(tls_server: Server) -> None:
    app = register(tls_server, "DeviceManagementApps.Read.All")
    credential = ClientSecretCredential(
        DEFAULT_TENANT, app["clientId"], app["clientSecret"],
        authority=authority(tls_server), disable_instance_discovery=True,
    )  # fmt: skip
    client = GraphServiceClient(credentials=credential, scopes=GRAPH_SCOPES)
    with pytest.raises(ODataError) as raised:
        asyncio.run(create_and_list(client, tls_server))
    assert (raised.value.response_status_code, raised.value.error.code) == (403, "Forbidden")


def certify(directory: Path) -> tuple[Credential, Path]:
    """A new certificate and the PEM file of its public part, as `graphtasks apps` takes it."""
    credential = make_credential()
    path = directory / "certificate.pem"
    path.write_bytes(credential.certificate_pem)
    return credential, path


@pytest.mark.usefixtures("trust")
def test_azure_identity_certificate_credential_with_the_graph_sdk(tls_server: Server, tmp_path: Path) -> None:
    credential, certificate = certify(tmp_path)
    app = register(tls_server, "DeviceManagementApps.ReadWrite.All", certificate=certificate)
    # CertificateCredential reads the private key and the certificate from one PEM file.
    both = tmp_path / "app.pem"
    both.write_bytes(credential.key_pem + credential.certificate_pem)
    azure = CertificateCredential(
        DEFAULT_TENANT, app["clientId"], certificate_path=str(both),
        authority=authority(tls_server), disable_instance_discovery=True,
    )  # fmt: skip
    client = GraphServiceClient(credentials=azure, scopes=GRAPH_SCOPES)
    created, listed = asyncio.run(create_and_list(client, tls_server))
    assert created.display_name == "Display Name value"
    assert created.id in listed


@pytest.mark.usefixtures("trust")
@pytest.mark.parametrize(
    "identified_by",
    [
        pytest.param("thumbprint", id="RS256 with x5t"),
        # MSAL >= 1.35 signs PS256 with x5t#S256 when given the certificate instead of its thumbprint.
        pytest.param("public_certificate", id="PS256 with x5t#S256"),
    ],
)
def test_msal_acquire_token_for_client_with_a_certificate(
    tls_server: Server, tmp_path: Path, identified_by: str
) -> None:
    credential, certificate = certify(tmp_path)
    app = register(tls_server, "DeviceManagementApps.ReadWrite.All", certificate=certificate)
    identity = credential.sha1_hex if identified_by == "thumbprint" else credential.certificate_pem.decode()
    signs = {"private_key": credential.key_pem.decode(), identified_by: identity}
    with bearer_client(tls_server, msal_token(tls_server, app["clientId"], signs)) as client:
        assert client.post(TASKS_PATH, json={"displayName": "via MSAL and a certificate"}).status_code == 201


@pytest.mark.usefixtures("trust")
def test_msal_with_an_unregistered_certificate_gets_aadsts700027(tls_server: Server, tmp_path: Path) -> None:
    app = register(tls_server, "DeviceManagementApps.ReadWrite.All", certificate=certify(tmp_path)[1])
    stranger = make_credential()
    signs = {"private_key": stranger.key_pem.decode(), "thumbprint": stranger.sha1_hex}
    result = msal_token(tls_server, app["clientId"], signs)
    assert (result.get("error"), result.get("error_codes")) == ("invalid_client", [700027]), result
