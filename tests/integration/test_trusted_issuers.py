"""Trusted external issuers and national clouds, over HTTP against `graphtasks serve` processes.

Entra's token shapes (v1.0: iss https://sts.windows.net/{tid}/, appid; v2.0:
iss https://login.microsoftonline.com/{tid}/v2.0, azp) are impersonated with locally made RSA keys,
published as a JWKS by a small HTTP server in this process (so key rotation and the number of fetches
can be watched) or as a file.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from graphtasks.clouds import CLOUDS, Cloud
from tests.support import entra
from tests.support.entra import public_jwk
from tests.support.server import Server, sqlite_server

TENANT = "5d2e8f3a-6b1c-4d7e-9a0f-3c4b5a6d7e8f"
CLIENT_ID = "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b"
READ_WRITE = "DeviceManagementApps.ReadWrite.All"
WRITER = entra.EntraApp(TENANT, CLIENT_ID, (READ_WRITE,))
# The server's --jwks-min-refresh: short, so that waiting it out costs the suite little.
MIN_REFRESH_S = 0.5


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks_of(**keys: rsa.RSAPrivateKey) -> dict[str, Any]:
    return {"keys": [public_jwk(key, kid, use="sig") for kid, key in keys.items()]}


def entra_token(
    key: rsa.RSAPrivateKey, kid: str, *, version: str, cloud: Cloud = CLOUDS["global"], **overrides: Any
) -> str:
    """An app-only token of TENANT that may write, shaped as Entra issues it for Graph in `cloud`."""
    return entra.entra_token(key, kid, WRITER, version=version, cloud=cloud, **overrides)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class KeyServer:
    """Publishes a JWKS over HTTP and counts how often it is fetched."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/common/discovery/v2.0/keys"

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeyServer]:
    published = KeyServer()
    yield published
    published.close()


@pytest.fixture(scope="module")
def entra_key(key_server: KeyServer) -> rsa.RSAPrivateKey:
    key = new_key()
    key_server.document = jwks_of(**{"entra-1": key})
    return key


@pytest.fixture(scope="module")
def entra_server(
    tmp_path_factory: pytest.TempPathFactory, key_server: KeyServer, entra_key: rsa.RSAPrivateKey
) -> Iterator[Server]:
    """Trusts Entra (global cloud) with keys from the key server, re-read at most every 2 s."""
    with sqlite_server(
        tmp_path_factory.mktemp("entra"),
        "--trust-entra",
        key_server.url,
        "--jwks-min-refresh",
        str(MIN_REFRESH_S),
    ) as server:
        yield server


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_entra_tokens_of_both_versions_create_and_list(
    entra_server: Server, entra_key: rsa.RSAPrivateKey, version: str
) -> None:
    headers = bearer(entra_token(entra_key, "entra-1", version=version))
    created = httpx.post(entra_server.tasks_url, json={"displayName": f"v{version}"}, headers=headers)
    assert created.status_code == 201, created.text
    listed = httpx.get(entra_server.tasks_url, headers=headers)
    assert created.json()["id"] in {task["id"] for task in listed.json()["value"]}


def test_an_entra_token_and_our_own_see_the_same_tenant(
    entra_server: Server, entra_key: rsa.RSAPrivateKey
) -> None:
    headers = bearer(entra_token(entra_key, "entra-1", version="2.0"))
    created = httpx.post(entra_server.tasks_url, json={"displayName": "shared"}, headers=headers)
    ours = bearer(entra_server.token(tenant=TENANT))
    assert httpx.get(f"{entra_server.tasks_url}/{created.json()['id']}", headers=ours).status_code == 200


def test_rotated_keys_are_trusted_without_restart(
    entra_server: Server, key_server: KeyServer, entra_key: rsa.RSAPrivateKey
) -> None:
    """Entra publishes a new key next to the old one, then signs with it: the first token naming the
    new kid makes graphtasks read the key set again. Later, the old key goes."""
    rotated = new_key()
    key_server.document = jwks_of(**{"entra-1": entra_key, "entra-2": rotated})
    time.sleep(MIN_REFRESH_S + 0.1)  # past --jwks-min-refresh since the last read
    headers = bearer(entra_token(rotated, "entra-2", version="2.0"))
    assert httpx.get(entra_server.tasks_url, headers=headers).status_code == 200
    key_server.document = jwks_of(**{"entra-1": entra_key})


def test_unknown_kids_do_not_turn_into_a_stream_of_fetches(
    entra_server: Server, key_server: KeyServer, entra_key: rsa.RSAPrivateKey
) -> None:
    time.sleep(MIN_REFRESH_S + 0.1)
    before, started = key_server.fetches, time.monotonic()
    for _ in range(25):
        token = entra_token(entra_key, f"made-up-{uuid.uuid4()}", version="2.0")
        response = httpx.get(entra_server.tasks_url, headers=bearer(token))
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Access token validation failure."
    # At most one read per interval begun, however slow this machine is today.
    intervals = int((time.monotonic() - started) / MIN_REFRESH_S) + 1
    assert key_server.fetches - before <= intervals < 25
    # Tokens of the known key still pass meanwhile.
    known = bearer(entra_token(entra_key, "entra-1", version="1.0"))
    assert httpx.get(entra_server.tasks_url, headers=known).status_code == 200


def test_an_unreachable_key_set_refuses_its_tokens_but_not_ours(tmp_path: Path) -> None:
    with sqlite_server(tmp_path, "--trust-entra", "http://127.0.0.1:9/keys") as server:
        token = entra_token(new_key(), "entra-1", version="2.0")
        refused = httpx.get(server.tasks_url, headers=bearer(token))
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert httpx.get(server.tasks_url, headers=bearer(server.token())).status_code == 200


def test_a_key_set_from_a_file_and_an_issuer_of_ones_own(tmp_path: Path) -> None:
    """--trust-issuer with a file: a company's own identity provider, say. Replacing the file rotates
    its keys (re-read when an unknown kid arrives, here at once: --jwks-min-refresh 0)."""
    first, second = new_key(), new_key()
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks_of(a=first)))
    issuer = "https://idp.contoso.test/{tenantid}/v2.0"
    with sqlite_server(tmp_path, "--trust-issuer", issuer, str(keys), "--jwks-min-refresh", "0") as server:
        own_iss = issuer.replace("{tenantid}", TENANT)
        token = entra_token(first, "a", version="2.0", iss=own_iss)
        assert httpx.get(server.tasks_url, headers=bearer(token)).status_code == 200
        keys.write_text(json.dumps(jwks_of(b=second)))
        token = entra_token(second, "b", version="2.0", iss=own_iss)
        assert httpx.get(server.tasks_url, headers=bearer(token)).status_code == 200
        entra = entra_token(first, "a", version="2.0")  # Entra's issuer is not trusted by this server
        refused = httpx.get(server.tasks_url, headers=bearer(entra))
        assert refused.json()["error"]["message"] == "Access token validation failure. Invalid issuer."


def test_an_audience_of_ones_own(tmp_path: Path) -> None:
    key = new_key()
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks_of(k=key)))
    with sqlite_server(
        tmp_path, "--trust-entra", str(keys), "--audience", "api://graphtasks.contoso"
    ) as server:
        token = entra_token(key, "k", version="2.0", aud="api://graphtasks.contoso")
        assert httpx.get(server.tasks_url, headers=bearer(token)).status_code == 200
        other = entra_token(key, "k", version="2.0", aud="api://someone-else")
        refused = httpx.get(server.tasks_url, headers=bearer(other))
        assert refused.json()["error"]["message"] == "Access token validation failure. Invalid audience."


# --- national clouds ---


def graphtasks(*args: str) -> str:
    command = [sys.executable, "-m", "graphtasks", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.mark.parametrize("name", sorted(set(CLOUDS) - {"global"}))
def test_a_national_cloud(tmp_path: Path, name: str) -> None:
    """--cloud: tokens for that cloud's Graph and from its Entra are accepted, the global cloud's are
    not, the token service answers for its scope, and @odata.context names its Graph host. Location
    and nextLink still name the address the client reached (they must stay followable)."""
    cloud, key = CLOUDS[name], new_key()
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks_of(k=key)))
    with sqlite_server(tmp_path, "--cloud", name, "--trust-entra", str(keys)) as server:
        for version in ("1.0", "2.0"):
            token = entra_token(key, "k", version=version, cloud=cloud)
            created = httpx.post(server.tasks_url, json={"displayName": name}, headers=bearer(token))
            assert created.status_code == 201, created.text
            assert created.json()["@odata.context"].startswith(f"{cloud.graph_url}/beta/$metadata#")
            assert created.headers["location"].startswith(f"{server.url}/beta/")
        global_aud = "https://graph.microsoft.com"
        global_token = entra_token(key, "k", version="1.0", cloud=cloud, aud=global_aud)
        refused = httpx.get(server.tasks_url, headers=bearer(global_token))
        assert refused.json()["error"]["message"] == "Access token validation failure. Invalid audience."
        global_v2 = entra_token(key, "k", version="2.0")  # login.microsoftonline.com issuer
        refused = httpx.get(server.tasks_url, headers=bearer(global_v2))
        assert refused.json()["error"]["message"] == "Access token validation failure. Invalid issuer."
        check_token_service(server, cloud)


def check_token_service(server: Server, cloud: Cloud) -> None:
    """`graphtasks token --cloud` and the token endpoint both make tokens for the cloud's Graph."""
    cli_token = graphtasks("token", "--cloud", cloud.name, "--database", server.database_url).strip()
    assert httpx.get(server.tasks_url, headers=bearer(cli_token)).status_code == 200
    app = json.loads(
        graphtasks("apps", "add", "--tenant", TENANT, "--database", server.database_url, "--json")
    )
    form = {"grant_type": "client_credentials", "client_id": app["clientId"]}
    form["client_secret"] = app["clientSecret"]
    endpoint = f"{server.url}/{TENANT}/oauth2/v2.0/token"
    wrong = httpx.post(endpoint, data=form | {"scope": "https://graph.microsoft.com/.default"})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_scope")
    answer = httpx.post(endpoint, data=form | {"scope": f"{cloud.graph_url}/.default"}).json()
    assert jwt.decode(answer["access_token"], options={"verify_signature": False})["aud"] == cloud.graph_url
    assert httpx.get(server.tasks_url, headers=bearer(answer["access_token"])).status_code == 200
    configuration = httpx.get(f"{server.url}/{TENANT}/v2.0/.well-known/openid-configuration").json()
    assert configuration["scopes_supported"] == [f"{cloud.graph_url}/.default"]


def test_the_global_cloud_is_the_default(entra_server: Server) -> None:
    token = bearer(entra_server.token())
    listed = httpx.get(entra_server.tasks_url, headers=token).json()
    assert listed["@odata.context"] == (
        "https://graph.microsoft.com/beta/$metadata#deviceAppManagement/deviceAppManagementTasks"
    )
