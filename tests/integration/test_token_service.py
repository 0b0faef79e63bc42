"""App registrations (graphtasks apps) and the v2.0 token endpoint's client-credentials grant, with a
client secret or with a client assertion signed by one of the app's certificates."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import create_engine, text

from graphtasks.auth.assertions import JWT_BEARER
from tests.integration.test_errors import assert_graph_error
from tests.support.cli import in_process
from tests.support.server import Server
from tests.unit.test_client_assertion import Credential, make_credential, sign_assertion


@pytest.fixture(scope="module")
def server(real_server: Server) -> Server:
    """`graphtasks serve` as a process: the identity clients and the CLI reach it over the network."""
    return real_server


GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
ENTRA_TOKEN_ENDPOINT = "https://login.microsoftonline.com/{}/oauth2/v2.0/token"


def apps(server: Server, *args: str) -> Any:
    result = in_process("apps", *args, "--database", server.database_url, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def register(server: Server, tenant: str, *permissions: str) -> dict[str, str]:
    registered: dict[str, str] = apps(server, "add", "--tenant", tenant, "--permission", *permissions)
    return registered


def request_token(server: Server, tenant: str, **form: str) -> httpx.Response:
    return httpx.post(f"{server.url}/{tenant}/oauth2/v2.0/token", data=form, timeout=30)


def client_credentials(
    app: dict[str, str], *, secret: str | None = None, scope: str = GRAPH_DEFAULT
) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": app["clientId"],
        "client_secret": secret or app["clientSecret"],
        "scope": scope,
    }


def test_an_apps_secret_buys_a_token_with_its_permissions(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.ReadWrite.All")
    response = request_token(server, tenant, **client_credentials(app))
    assert response.status_code == 200
    answer = response.json()
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 3599)
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert (claims["tid"], claims["azp"], claims["roles"]) == (
        tenant,
        app["clientId"],
        ["DeviceManagementApps.ReadWrite.All"],
    )
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    created = httpx.post(server.tasks_url, json={"displayName": "from the token service"}, headers=headers)
    assert created.status_code == 201


def test_a_read_only_app_cannot_create(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    token = request_token(server, tenant, **client_credentials(app)).json()["access_token"]
    response = httpx.post(server.tasks_url, json={}, headers={"Authorization": f"Bearer {token}"})
    assert_graph_error(response, 403, "Forbidden")


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"client_secret": "not-the-secret"}, 401, "invalid_client", 7000215),
        ({"client_id": str(uuid.uuid4())}, 400, "unauthorized_client", 700016),
        (
            {"scope": "https://graph.microsoft.com/DeviceManagementApps.Read.All"},
            400,
            "invalid_scope",
            1002012,
        ),
        ({"scope": "api://other/.default"}, 400, "invalid_scope", 1002012),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ],
)
def test_token_errors_are_the_identity_platforms(
    server: Server, change: dict[str, str], status: int, error: str, code: int
) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    response = request_token(server, tenant, **{**client_credentials(app), **change})
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "access_token" not in body


def test_an_app_is_known_only_in_its_tenant(server: Server) -> None:
    app = register(server, str(uuid.uuid4()), "DeviceManagementApps.Read.All")
    response = request_token(server, str(uuid.uuid4()), **client_credentials(app))
    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")


def test_rotation_replaces_the_secret_and_removal_ends_the_app(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    rotated = apps(server, "rotate-secret", "--tenant", tenant, "--client-id", app["clientId"])
    assert rotated["clientId"] == app["clientId"] and rotated["clientSecret"] != app["clientSecret"]
    assert request_token(server, tenant, **client_credentials(app)).status_code == 401
    assert request_token(server, tenant, **client_credentials(rotated)).status_code == 200
    listed = apps(server, "list", "--tenant", tenant)
    assert [(a["clientId"], a["secretHint"]) for a in listed] == [
        (app["clientId"], rotated["clientSecret"][:3])
    ]
    apps(server, "remove", "--tenant", tenant, "--client-id", app["clientId"])
    assert request_token(server, tenant, **client_credentials(rotated)).status_code == 400


def test_secrets_are_stored_only_as_salted_hashes(server: Server) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM app_registrations WHERE tenant_id = :t"), {"t": tenant}
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1
    assert app["clientSecret"] not in json.dumps([list(map(str, row)) for row in rows])


def test_openid_configuration_points_at_the_token_endpoint(server: Server) -> None:
    tenant = str(uuid.uuid4())
    config = httpx.get(f"{server.url}/{tenant}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == f"{server.url}/{tenant}/oauth2/v2.0/token"
    assert httpx.get(config["jwks_uri"]).json()["keys"]


# --- client certificates: the client assertion instead of the secret ---


def apps_run(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return in_process("apps", *args, "--database", server.database_url)


def certificate_file(directory: Path, credential: Credential) -> Path:
    path = directory / f"{uuid.uuid4()}.pem"
    path.write_bytes(credential.certificate_pem)
    return path


def token_endpoint(server: Server, tenant: str) -> str:
    return f"{server.url}/{tenant}/oauth2/v2.0/token"


@dataclass(frozen=True)
class Certified:
    """An app registered with a certificate (`apps add --certificate`), in a tenant of its own."""

    server: Server
    tenant: str
    app: dict[str, str]
    credential: Credential
    directory: Path

    def assertion(self, credential: Credential | None = None, **claims: Any) -> str:
        """An assertion as MSAL makes one for this app, by default signed with its certificate."""
        audience = claims.pop("aud", token_endpoint(self.server, self.tenant))
        return sign_assertion(
            credential or self.credential, client_id=self.app["clientId"], audience=audience, claims=claims
        )

    def request(self, assertion: str, **changes: str) -> httpx.Response:
        form = {"grant_type": "client_credentials", "client_id": self.app["clientId"], "scope": GRAPH_DEFAULT,
                "client_assertion_type": JWT_BEARER, "client_assertion": assertion} | changes  # fmt: skip
        return request_token(self.server, self.tenant, **form)

    def apps(self, action: str, *args: str) -> Any:
        return apps(self.server, action, "--tenant", self.tenant, "--client-id", self.app["clientId"], *args)


def register_certified(server: Server, tenant: str, directory: Path) -> Certified:
    credential = make_credential()
    path = certificate_file(directory, credential)
    app = apps(server, "add", "--tenant", tenant, "--certificate", str(path),
               "--permission", "DeviceManagementApps.Read.All")  # fmt: skip
    return Certified(server, tenant, app, credential, directory)


@pytest.fixture
def certified(server: Server, tmp_path: Path) -> Certified:
    return register_certified(server, str(uuid.uuid4()), tmp_path)


def test_an_apps_certificate_buys_a_token_with_its_permissions(server: Server, tmp_path: Path) -> None:
    tenant, credential = str(uuid.uuid4()), make_credential()
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    added = apps(server, "add-certificate", "--tenant", tenant, "--client-id", app["clientId"],
                 "--certificate", str(certificate_file(tmp_path, credential)))  # fmt: skip
    assert added == {"clientId": app["clientId"], "thumbprint": credential.sha1_hex.upper()}
    response = Certified(server, tenant, app, credential, tmp_path).request(
        sign_assertion(credential, client_id=app["clientId"], audience=token_endpoint(server, tenant))
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["tid"], claims["azp"], claims["roles"]) == (
        tenant,
        app["clientId"],
        ["DeviceManagementApps.Read.All"],
    )
    listed = httpx.get(server.tasks_url, headers={"Authorization": f"Bearer {token}"})
    assert (listed.status_code, listed.json()["value"]) == (200, [])


def another_apps_certificate(certified: Certified) -> dict[str, str]:
    other = register_certified(certified.server, certified.tenant, certified.directory)
    return {"client_assertion": certified.assertion(other.credential)}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(another_apps_certificate, (401, "invalid_client", 700027),
                     id="another app's certificate"),
        pytest.param(lambda c: {"client_assertion": c.assertion(exp=time.time() - 3600)},
                     (401, "invalid_client", 700024), id="expired"),
        pytest.param(lambda c: {"client_assertion": c.assertion(aud=ENTRA_TOKEN_ENDPOINT.format(c.tenant))},
                     (401, "invalid_client", 700023), id="Entra's audience"),
        pytest.param(lambda c: {"client_assertion": "not-a-jwt"}, (400, "invalid_request", 50027),
                     id="garbage"),
        pytest.param(lambda c: {"client_assertion_type": "urn:other"}, (400, "invalid_request", 90011),
                     id="unknown assertion type"),
        pytest.param(lambda c: {"client_secret": c.app["clientSecret"]}, (400, "invalid_request", 90023),
                     id="secret and assertion"),
    ],
)  # fmt: skip
def test_assertion_errors_are_the_identity_platforms(
    certified: Certified, change: Any, expected: tuple[int, str, int]
) -> None:
    response = certified.request(certified.assertion(), **change(certified))
    status, error, code = expected
    assert response.status_code == status
    body = response.json()
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert "access_token" not in body


def test_a_removed_certificate_signs_no_more(certified: Certified) -> None:
    assertion = certified.assertion()
    assert certified.request(assertion).status_code == 200
    sha256 = certified.credential.certificate.fingerprint(hashes.SHA256()).hex()
    certified.apps("remove-certificate", "--thumbprint", sha256)
    response = certified.request(assertion)
    assert (response.status_code, response.json()["error_codes"]) == (401, [700027])
    assert "The key was not found." in response.json()["error_description"]
    assert apps(certified.server, "list", "--tenant", certified.tenant)[0]["certificates"] == []
    # The secret made with the app still works.
    assert (
        request_token(certified.server, certified.tenant, **client_credentials(certified.app)).status_code
        == 200
    )


def test_apps_list_shows_certificate_thumbprints_oldest_first(certified: Certified) -> None:
    second = make_credential()
    for _ in range(2):  # adding a certificate the app already has changes nothing
        certified.apps("add-certificate", "--certificate", str(certificate_file(certified.directory, second)))
    thumbprints = [certified.credential.sha1_hex.upper(), second.sha1_hex.upper()]
    listed = apps(certified.server, "list", "--tenant", certified.tenant)
    assert [app["certificates"] for app in listed] == [thumbprints]
    printed = apps_run(certified.server, "list", "--tenant", certified.tenant).stdout
    assert f"certificates   {' '.join(thumbprints)}\n" in printed


def test_removing_an_app_removes_its_certificates(certified: Certified) -> None:
    certified.apps("remove")
    engine = create_engine(certified.server.database_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT * FROM app_certificates WHERE tenant_id = :t")
            rows = conn.execute(query, {"t": certified.tenant}).all()
    finally:
        engine.dispose()
    assert rows == []


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        pytest.param(lambda c: c.key_pem, "holds a private key", id="private key"),
        pytest.param(
            lambda c: c.certificate_pem + c.key_pem, "holds a private key", id="certificate and key"
        ),
        pytest.param(lambda c: b"not a certificate", "is not a PEM certificate", id="garbage"),
    ],
)
def test_add_certificate_refuses_anything_but_a_public_certificate(
    server: Server, tmp_path: Path, contents: Any, message: str
) -> None:
    tenant = str(uuid.uuid4())
    app = register(server, tenant, "DeviceManagementApps.Read.All")
    path = tmp_path / "upload.pem"
    path.write_bytes(contents(make_credential()))
    result = apps_run(server, "add-certificate", "--tenant", tenant, "--client-id", app["clientId"],
                      "--certificate", str(path))  # fmt: skip
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("graphtasks: ") and message in result.stderr
    assert "PRIVATE KEY" not in result.stderr
    assert apps(server, "list", "--tenant", tenant)[0]["certificates"] == []


@pytest.mark.parametrize(
    ("action", "option", "message"),
    [
        ("add-certificate", "--certificate", "no app"),
        ("remove-certificate", "--thumbprint", "no certificate"),
    ],
)
def test_certificate_commands_name_what_is_missing(
    server: Server, tmp_path: Path, action: str, option: str, message: str
) -> None:
    credential = make_credential()
    value = str(certificate_file(tmp_path, credential)) if option == "--certificate" else credential.sha1_hex
    tenant, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    result = apps_run(server, action, "--tenant", tenant, "--client-id", client_id, option, value)
    assert result.returncode == 2 and message in result.stderr


def test_openid_configuration_offers_private_key_jwt(server: Server) -> None:
    config = httpx.get(f"{server.url}/{uuid.uuid4()}/v2.0/.well-known/openid-configuration").json()
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]


def test_instance_discovery_points_at_the_tenants_configuration(server: Server) -> None:
    tenant = str(uuid.uuid4())
    asked = f"https://login.contoso.test/{tenant}/oauth2/v2.0/authorize"
    answer = httpx.get(
        f"{server.url}/common/discovery/instance",
        params={"api-version": "1.1", "authorization_endpoint": asked},
    )
    assert answer.status_code == 200
    discovered = answer.json()["tenant_discovery_endpoint"]
    assert discovered == f"{server.url}/{tenant}/v2.0/.well-known/openid-configuration"
    assert httpx.get(discovered).json()["token_endpoint"] == f"{server.url}/{tenant}/oauth2/v2.0/token"


@pytest.mark.parametrize(
    "asked", ["", "not a url", "http://host/t/oauth2/v2.0/authorize", "https://host/", "https://host/t/x"]
)
def test_instance_discovery_refuses_what_is_not_an_authorize_url(server: Server, asked: str) -> None:
    answer = httpx.get(f"{server.url}/common/discovery/instance", params={"authorization_endpoint": asked})
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_instance")
