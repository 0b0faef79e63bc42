"""The Host values the server answers (web/hosts.py, --allowed-hosts) and the X-Forwarded-* headers it
believes (--forwarded-allow-ips): a Host it does not answer to is a Graph-shaped 400 before anything
reads the request; links and documents follow an allowed Host without a rebuild per value; uvicorn
believes X-Forwarded-Proto and -For only from the listed addresses, for links and for the address a
client assertion is remembered with.

In process (create_app and an httpx transport) where the application is the point; real `graphtasks
serve` processes where uvicorn's options are.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphtasks.app import Backend, create_app, open_backend
from graphtasks.auth.assertions import JWT_BEARER
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.cli.serve import banner
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT, Settings
from graphtasks.web import documents
from graphtasks.web.hosts import allowed_hosts
from graphtasks.web.openapi import openapi_document
from tests.integration.test_token_service import register_certified
from tests.support.server import TASKS_PATH, Server, sqlite_server

KEYS = "/common/discovery/v2.0/keys"
INVALID = "Bad Request - Invalid Hostname"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    directory = tmp_path_factory.mktemp("hosts")
    opened = open_backend(Settings(database_url=f"sqlite:///{directory / 'hosts.db'}"))
    yield opened
    opened.database.dispose()


def call(
    backend: Backend, settings: Settings, *requests: tuple[str, str, dict[str, Any]]
) -> list[httpx.Response]:
    """Each (method, path, httpx options) sent to an app made with `settings`, in order."""
    app = create_app(settings, backend=backend)

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return [await client.request(method, path, **options) for method, path, options in requests]

    return asyncio.run(send())


def statuses(backend: Backend, settings: Settings, hosts: list[str]) -> list[int]:
    answers = call(backend, settings, *[("GET", KEYS, {"headers": {"Host": host}}) for host in hosts])
    return [answer.status_code for answer in answers]


def token(backend: Backend) -> str:
    request = TokenRequest(DEFAULT_TENANT, roles=("DeviceManagementApps.ReadWrite.All",))
    return issue_token(backend.keys, request, issuer_base=DEFAULT_ISSUER)


LOOPBACK = Settings(request_log=False)  # 127.0.0.1:8000, the default


@pytest.mark.parametrize(
    ("settings", "allowed", "refused"),
    [
        pytest.param(
            LOOPBACK,
            ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LocalHost:8000", "localhost", "127.0.0.1"],
            ["evil.example", "evil.example:8000", "127.0.0.1:8001", "localhost:80", "[::2]:8000",
             "127.0.0.1:8000/x", "a b", "[::1", "localhost:99999", "localhost:", "", "user@localhost:8000"],
            id="bound to loopback: its names, with its port",
        ),
        pytest.param(
            Settings(request_log=False, host="10.1.2.3", port=9000),
            ["10.1.2.3:9000", "10.1.2.3"],
            ["localhost:9000", "127.0.0.1:9000", "10.1.2.3:8000"],
            id="bound to one address: that address",
        ),
        pytest.param(
            Settings(request_log=False, allowed_hosts=("graph.example", "api.example:8443")),
            ["graph.example", "graph.example:1234", "GRAPH.example:443", "api.example:8443", "api.example"],
            ["api.example:443", "127.0.0.1:8000", "localhost:8000", "sub.graph.example"],
            id="--allowed-hosts: exactly those",
        ),
        pytest.param(
            Settings(request_log=False, base_url="https://graph.example.test"),
            ["graph.example.test", "graph.example.test:443", "localhost:8000"],
            ["other.example.test", "localhost:8443"],
            id="--base-url's host besides",
        ),
        pytest.param(
            Settings(request_log=False, host="0.0.0.0"),  # noqa: S104 - never bound: the app is in process
            ["evil.example", "10.9.8.7:1", "localhost:8000"],
            [],
            id="bound to every address: any Host",
        ),
        pytest.param(
            Settings(request_log=False, host="::", allowed_hosts=("graph.example",)),
            ["graph.example:8000"],
            ["evil.example", "localhost:8000"],
            id="bound to every address, with --allowed-hosts",
        ),
        pytest.param(
            Settings(request_log=False, allowed_hosts=("*",)),
            ["evil.example", "anything.at.all:1"],
            [],
            id="--allowed-hosts '*'",
        ),
    ],
)  # fmt: skip
def test_hosts_answered_and_refused(
    backend: Backend, settings: Settings, allowed: list[str], refused: list[str]
) -> None:
    assert statuses(backend, settings, allowed) == [200] * len(allowed)
    assert statuses(backend, settings, refused) == [400] * len(refused)


def test_a_refused_host_gets_a_graph_400_before_routing_or_the_token(backend: Backend) -> None:
    bad = {"headers": {"Host": "evil.example", "client-request-id": "mine"}}
    answers = call(
        backend,
        LOOPBACK,
        ("GET", KEYS, bad),
        ("GET", "/no/such/path", bad),
        ("POST", TASKS_PATH, {**bad, "json": {"displayName": "x"}}),
        ("POST", "/beta/$batch", {**bad, "json": {"requests": []}}),
    )
    for answer in answers:
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert (error["code"], error["message"]) == ("BadRequest", INVALID)
        assert error["innerError"]["client-request-id"] == "mine"
        assert error["innerError"]["request-id"] == answer.headers["request-id"]


def test_links_follow_an_allowed_host(backend: Backend) -> None:
    authorization = {"Authorization": f"Bearer {token(backend)}"}
    body = {"@odata.type": "#microsoft.graph.appVulnerabilityTask", "displayName": "linked"}
    create = ("POST", TASKS_PATH, {"headers": {**authorization, "Host": "localhost:8000"}, "json": body})
    page = ("GET", TASKS_PATH, {"headers": {**authorization, "Host": "[::1]:8000"}, "params": {"$top": "1"}})
    created, _, listed = call(backend, LOOPBACK, create, create, page)
    assert created.status_code == 201
    assert created.headers["Location"].startswith(f"http://localhost:8000{TASKS_PATH}/")
    assert listed.json()["@odata.nextLink"].startswith(f"http://[::1]:8000{TASKS_PATH}?")


def test_inner_batch_requests_carry_the_batch_host(backend: Backend) -> None:
    headers = {"Authorization": f"Bearer {token(backend)}", "Host": "localhost:8000"}
    inner = {"id": "1", "method": "GET", "url": "/deviceAppManagement/deviceAppManagementTasks?$top=1"}
    body = {
        "requests": [
            inner,
            {"id": "2", "method": "GET", "url": "/deviceAppManagement/deviceAppManagementTasks/$count"},
        ]
    }
    (answer,) = call(backend, LOOPBACK, ("POST", "/beta/$batch", {"headers": headers, "json": body}))
    assert answer.status_code == 200
    assert [item["status"] for item in answer.json()["responses"]] == [200, 200]


def test_the_openapi_document_is_built_once_whatever_the_hosts(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str] = []

    def counted(server_url: str) -> Any:
        builds.append(server_url)
        return openapi_document(server_url)

    monkeypatch.setattr("graphtasks.web.documents.openapi_document", counted)
    documents._openapi_pieces.cache_clear()
    hosts = [f"host-{n}.example:{1000 + n}" for n in range(50)]
    settings = Settings(request_log=False, allowed_hosts=("*",))
    answers = call(
        backend, settings, *[("GET", "/beta/openapi.json", {"headers": {"Host": h}}) for h in hosts]
    )
    assert len(builds) == 1
    for host, answer in zip(hosts, answers, strict=True):
        assert answer.json() == openapi_document(f"http://{host}")
    documents._openapi_pieces.cache_clear()  # built again, unpatched, by whoever asks next


@pytest.mark.parametrize(
    ("settings", "scheme", "origins"),
    [
        pytest.param(LOOPBACK, "http", ("http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost:8000"),
                     id="loopback"),
        pytest.param(Settings(allowed_hosts=("graph.example:443", "*")), "https",
                     ("https://graph.example:443", "https://graph.example"), id="a default port, any Host"),
        pytest.param(Settings(port=80, host="10.1.2.3"), "http", ("http://10.1.2.3:80", "http://10.1.2.3"),
                     id="one address at port 80"),
    ],
)  # fmt: skip
def test_own_origins_come_from_the_settings(
    settings: Settings, scheme: str, origins: tuple[str, ...]
) -> None:
    assert allowed_hosts(settings).own_origins(scheme) == origins


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        pytest.param(LOOPBACK, "  hosts      127.0.0.1:8000, [::1]:8000, localhost:8000", id="loopback"),
        pytest.param(
            Settings(host="0.0.0.0"),  # noqa: S104 - only the banner is made
            "  hosts      any Host (--allowed-hosts restricts them); own names 127.0.0.1:8000, [::1]:8000, "
            "localhost:8000",
            id="every address",
        ),
        pytest.param(
            Settings(allowed_hosts=("graph.example",), forwarded_allow_ips=("10.0.0.1", "10.0.0.2")),
            "  hosts      graph.example; X-Forwarded-* from 10.0.0.1, 10.0.0.2",
            id="listed, behind proxies",
        ),
    ],
)
def test_the_banner_says_which_hosts_are_answered(settings: Settings, line: str) -> None:
    assert line in banner(settings).splitlines()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(allowed_hosts=("a b",)), "--allowed-hosts: 'a b' is not a host name, address or host:port"),
        (
            Settings(allowed_hosts=("https://graph.example",)),
            "--allowed-hosts: 'https://graph.example' is not",
        ),
        (Settings(allowed_hosts=("x:70000",)), "--allowed-hosts: 'x:70000' is not"),
    ],
)
def test_an_entry_that_is_no_host_is_refused_at_start(settings: Settings, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        allowed_hosts(settings)


def test_serve_refuses_an_entry_that_is_no_host(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "graphtasks", "serve", "--database", f"sqlite:///{tmp_path / 'x.db'}",
               "--port", "0", "--allowed-hosts", "graph.example,not a host"]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 2
    assert "--allowed-hosts: 'not a host' is not a host name" in completed.stderr


# --- X-Forwarded-Proto, through uvicorn ---


def token_endpoint_named(server: Server, headers: dict[str, str]) -> str:
    tenant = str(uuid.uuid4())
    url = f"{server.url}/{tenant}/v2.0/.well-known/openid-configuration"
    endpoint: str = httpx.get(url, headers=headers).json()["token_endpoint"]
    return endpoint.removesuffix(f"/{tenant}/oauth2/v2.0/token")


@pytest.fixture(scope="module")
def behind_a_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("proxied"), "--forwarded-allow-ips", "127.0.0.1") as server:
        yield server


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sqlite_server(tmp_path_factory.mktemp("direct")) as server:
        yield server


def test_forwarded_proto_is_ignored_by_default(direct: Server) -> None:
    # uvicorn alone would believe it from 127.0.0.1, where this client is.
    assert token_endpoint_named(direct, {"X-Forwarded-Proto": "https"}) == direct.url


def test_forwarded_proto_is_believed_from_a_listed_address(behind_a_proxy: Server) -> None:
    expected = behind_a_proxy.url.replace("http://", "https://")
    assert token_endpoint_named(behind_a_proxy, {"X-Forwarded-Proto": "https"}) == expected
    assert token_endpoint_named(behind_a_proxy, {}) == behind_a_proxy.url


# --- X-Forwarded-For: the address a client assertion's first use is remembered with ---


def assertion_answers(server: Server, directory: Path, forwarded_for: list[str]) -> list[int]:
    """One assertion of a new app, sent once from each X-Forwarded-For; the statuses."""
    certified = register_certified(server, str(uuid.uuid4()), directory)
    form = {"grant_type": "client_credentials", "client_id": certified.app["clientId"],
            "scope": "https://graph.microsoft.com/.default", "client_assertion_type": JWT_BEARER,
            "client_assertion": certified.assertion()}  # fmt: skip
    url = f"{server.url}/{certified.tenant}/oauth2/v2.0/token"
    return [httpx.post(url, data=form, headers={"X-Forwarded-For": ip}).status_code for ip in forwarded_for]


def test_forwarded_for_is_ignored_by_default(direct: Server, tmp_path: Path) -> None:
    # Every request comes from 127.0.0.1, whatever the header says: one client, reusing its assertion.
    assert assertion_answers(direct, tmp_path, ["203.0.113.5", "198.51.100.9"]) == [200, 200]


def test_forwarded_for_from_a_listed_address_names_the_client(behind_a_proxy: Server, tmp_path: Path) -> None:
    assert assertion_answers(behind_a_proxy, tmp_path, ["203.0.113.5", "198.51.100.9", "203.0.113.5"]) == [
        200,
        401,
        200,
    ]
