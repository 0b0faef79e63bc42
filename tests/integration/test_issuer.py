"""The issuer: by default the origin the client reached, as the OpenID configuration names it and the
token endpoint signs it; `graphtasks token`'s offline issuer accepted beside it; --issuer and --base-url
overriding it. Real servers, real signed tokens."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from graphtasks.config import DEFAULT_ISSUER
from tests.integration.test_token_service import client_credentials, register
from tests.support.server import Server, sqlite_server

INVALID_ISSUER = "Access token validation failure. Invalid issuer."


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Answering other names, at any port, so that tokens can be taken from one origin to another.
    hosts = "127.0.0.1,localhost,[::1],graphtasks.test"
    with sqlite_server(tmp_path_factory.mktemp("issuer-default"), "--allowed-hosts", hosts) as server:
        yield server


def host_of(server: Server, name: str) -> dict[str, str]:
    return {"Host": f"{name}:{server.port}"}


def configuration(server: Server, tenant: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    url = f"{server.url}/{tenant}/v2.0/.well-known/openid-configuration"
    answer: dict[str, str] = httpx.get(url, headers=headers, verify=server.verify).json()
    return answer


def endpoint_token(server: Server, tenant: str, headers: dict[str, str] | None = None) -> str:
    app = register(server, tenant, "DeviceManagementApps.ReadWrite.All")
    url = f"{server.url}/{tenant}/oauth2/v2.0/token"
    response = httpx.post(url, data=client_credentials(app), headers=headers, verify=server.verify)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def cli_token(server: Server, *flags: str) -> str:
    command = [sys.executable, "-m", "graphtasks", "token", "--database", server.database_url, *flags]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def list_tasks(server: Server, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **(headers or {})}
    return httpx.get(server.tasks_url, headers=headers, verify=server.verify)


def issuer_of(token: str) -> str:
    issuer: str = jwt.decode(token, options={"verify_signature": False})["iss"]
    return issuer


def assert_invalid_issuer(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.json()["error"]["message"] == INVALID_ISSUER


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_issuer_is_the_origin_the_client_reached(plain: Server, host: str) -> None:
    tenant = str(uuid.uuid4())
    config = configuration(plain, tenant, host_of(plain, host))
    origin = f"http://{host}:{plain.port}"
    assert config["issuer"] == f"{origin}/{tenant}/v2.0"
    assert config["token_endpoint"] == f"{origin}/{tenant}/oauth2/v2.0/token"


def test_the_token_endpoint_signs_as_the_configuration_says(plain: Server) -> None:
    tenant = str(uuid.uuid4())
    token = endpoint_token(plain, tenant)
    assert issuer_of(token) == configuration(plain, tenant)["issuer"]
    assert list_tasks(plain, token).status_code == 200


def test_a_token_issued_at_one_origin_is_refused_at_another(plain: Server) -> None:
    token = endpoint_token(plain, str(uuid.uuid4()), host_of(plain, "graphtasks.test"))
    assert list_tasks(plain, token, host_of(plain, "graphtasks.test")).status_code == 200
    # Verified once there; the cache must not carry that verdict to another origin.
    assert_invalid_issuer(list_tasks(plain, token, host_of(plain, "127.0.0.1")))
    assert_invalid_issuer(list_tasks(plain, token, {"Host": f"graphtasks.test:{plain.port + 1}"}))


def test_loopback_names_of_one_port_are_one_server(plain: Server) -> None:
    token = endpoint_token(plain, str(uuid.uuid4()), host_of(plain, "localhost"))
    assert list_tasks(plain, token, host_of(plain, "127.0.0.1")).status_code == 200
    assert list_tasks(plain, token, {"Host": f"[::1]:{plain.port}"}).status_code == 200
    assert_invalid_issuer(list_tasks(plain, token, {"Host": f"localhost:{plain.port + 1}"}))


def test_graphtasks_token_is_accepted_by_a_server_with_default_flags(plain: Server) -> None:
    token = cli_token(plain)
    assert issuer_of(token).startswith(f"{DEFAULT_ISSUER}/")
    assert list_tasks(plain, token).status_code == 200
    assert list_tasks(plain, token, host_of(plain, "localhost")).status_code == 200


def test_an_origin_shaped_issuer_signed_by_another_key_is_refused(plain: Server, tmp_path: Path) -> None:
    """The origin names the issuer; only the server's own key may sign as it."""
    with sqlite_server(tmp_path) as other:
        foreign = other.token()
        tenant = jwt.decode(foreign, options={"verify_signature": False})["tid"]
        claims = jwt.decode(foreign, options={"verify_signature": False})
        claims["iss"] = f"{plain.url}/{tenant}/v2.0"
        signing = other.keys().signing
        forged = jwt.encode(claims, signing.private_key, algorithm="RS256", headers={"kid": signing.kid})
    response = list_tasks(plain, forged)
    assert response.status_code == 401


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("issuer-override")
    with sqlite_server(directory, "--issuer", "https://sts.example.test") as server:
        yield server


def test_issuer_flag_overrides_the_configuration_and_the_tokens(overridden: Server) -> None:
    tenant = str(uuid.uuid4())
    assert configuration(overridden, tenant)["issuer"] == f"https://sts.example.test/{tenant}/v2.0"
    token = endpoint_token(overridden, tenant)
    assert issuer_of(token) == f"https://sts.example.test/{tenant}/v2.0"
    assert list_tasks(overridden, token).status_code == 200


def test_under_issuer_flag_only_that_issuer_is_accepted(overridden: Server) -> None:
    assert (
        list_tasks(overridden, cli_token(overridden, "--issuer", "https://sts.example.test")).status_code
        == 200
    )
    assert_invalid_issuer(list_tasks(overridden, cli_token(overridden)))
    tenant = str(uuid.uuid4())
    with_origin = jwt.decode(endpoint_token(overridden, tenant), options={"verify_signature": False})
    with_origin["iss"] = f"{overridden.url}/{tenant}/v2.0"
    signing = overridden.keys().signing
    forged = jwt.encode(with_origin, signing.private_key, algorithm="RS256", headers={"kid": signing.kid})
    assert_invalid_issuer(list_tasks(overridden, forged))


def test_base_url_names_the_issuer_whatever_the_host(tmp_path: Path) -> None:
    with sqlite_server(tmp_path, "--base-url", "https://graph.example.test") as server:
        tenant = str(uuid.uuid4())
        expected = f"https://graph.example.test/{tenant}/v2.0"
        assert configuration(server, tenant, host_of(server, "localhost"))["issuer"] == expected
        token = endpoint_token(server, tenant, host_of(server, "localhost"))
        assert issuer_of(token) == expected
        assert list_tasks(server, token, host_of(server, "127.0.0.1")).status_code == 200
        assert list_tasks(server, cli_token(server)).status_code == 200
