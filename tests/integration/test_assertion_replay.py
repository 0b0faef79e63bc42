"""Client assertions remembered until they expire (storage/registry.py, SqlAssertionStore, as the token
service's ledger): a replay from another address is refused on every instance sharing the database, the
first address keeps using it as MSAL does, and the audience is one of the server's own token endpoints,
whatever the Host says. SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from graphtasks.app import Backend, create_app, open_backend
from graphtasks.auth.apps import certificate_from_pem, new_secret
from graphtasks.auth.assertions import JWT_BEARER
from graphtasks.config import Settings
from graphtasks.storage.base import AppRegistration
from graphtasks.storage.engine import Database
from graphtasks.storage.registry import SqlAssertionStore
from graphtasks.storage.tables import client_assertions
from graphtasks.web.application import GraphApplication
from tests.support.databases import database
from tests.unit.test_client_assertion import Credential, make_credential, sign_assertion

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
FIRST, OTHER = "192.0.2.10", "198.51.100.7"


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with database(request.param, tmp_path_factory.mktemp(f"replay-{request.param}")) as url:
        opened = open_backend(Settings(database_url=url))
        try:
            yield opened
        finally:
            opened.database.dispose()


# --- the store ---


def key() -> tuple[str, str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex * 2


def later(seconds: int = 600) -> int:
    return int(time.time()) + seconds


def test_the_first_address_is_kept(backend: Backend) -> None:
    store, (tenant, client, jti) = SqlAssertionStore(backend.database), key()
    assert store.first_use(tenant, client, jti, address=FIRST, expires_at=later()) == FIRST
    assert store.first_use(tenant, client, jti, address=OTHER, expires_at=later()) == FIRST
    assert store.first_use(tenant, client, jti, address=FIRST, expires_at=later()) == FIRST


def test_a_jti_belongs_to_its_tenant_and_app(backend: Backend) -> None:
    store, (tenant, client, jti) = SqlAssertionStore(backend.database), key()
    store.first_use(tenant, client, jti, address=FIRST, expires_at=later())
    assert store.first_use(tenant, str(uuid.uuid4()), jti, address=OTHER, expires_at=later()) == OTHER
    assert store.first_use(str(uuid.uuid4()), client, jti, address=OTHER, expires_at=later()) == OTHER


def test_an_expired_assertion_is_forgotten_with_the_tenants_next_use(backend: Backend) -> None:
    store, (tenant, client, jti) = SqlAssertionStore(backend.database), key()
    store.first_use(tenant, client, jti, address=FIRST, expires_at=int(time.time()) - 1)
    store.first_use(tenant, str(uuid.uuid4()), uuid.uuid4().hex, address=FIRST, expires_at=later())
    assert rows(backend.database, tenant) == 1
    assert store.first_use(tenant, client, jti, address=OTHER, expires_at=later()) == OTHER


def rows(db: Database, tenant: str) -> int:
    with db.read() as conn:
        query = select(func.count()).where(client_assertions.c.tenant_id == tenant)
        return int(conn.execute(query).scalar_one())


def test_first_uses_at_once_agree_on_one_address(backend: Backend) -> None:
    store, (tenant, client, jti) = SqlAssertionStore(backend.database), key()
    addresses = [f"203.0.113.{n}" for n in range(8)]
    barrier = threading.Barrier(len(addresses))

    def use(address: str) -> str:
        barrier.wait()
        return store.first_use(tenant, client, jti, address=address, expires_at=later())

    with ThreadPoolExecutor(len(addresses)) as pool:
        answers = list(pool.map(use, addresses))
    assert len(set(answers)) == 1
    assert answers[0] in addresses
    assert rows(backend.database, tenant) == 1


# --- through the token endpoint, on two instances of one database ---


@dataclass(frozen=True)
class App:
    tenant: str
    client_id: str
    credential: Credential

    def assertion(self, audience: str, **claims: Any) -> str:
        return sign_assertion(self.credential, client_id=self.client_id, audience=audience, claims=claims)

    def form(self, assertion: str) -> dict[str, str]:
        return {"grant_type": "client_credentials", "client_id": self.client_id, "scope": GRAPH_DEFAULT,
                "client_assertion_type": JWT_BEARER, "client_assertion": assertion}  # fmt: skip


@pytest.fixture
def app(backend: Backend) -> App:
    credential = make_credential()
    tenant, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    certificate = certificate_from_pem(credential.certificate_pem)
    registration = AppRegistration(tenant, client_id, "replayed", ("DeviceManagementApps.Read.All",), "abc",
                                   (certificate,))  # fmt: skip
    backend.apps.add(registration, new_secret()[1])
    return App(tenant, client_id, credential)


def endpoint(origin: str, app: App) -> str:
    return f"{origin}/{app.tenant}/oauth2/v2.0/token"


def post(
    instance: GraphApplication, app: App, assertion: str, *, address: str, host: str = "127.0.0.1:8000"
) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=instance, client=(address, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            url = f"/{app.tenant}/oauth2/v2.0/token"
            return await client.post(url, data=app.form(assertion), headers={"Host": host})

    return asyncio.run(send())


def outcome(response: httpx.Response) -> tuple[int, int | None]:
    body = response.json()
    return response.status_code, (body.get("error_codes") or [None])[0]


@pytest.fixture
def instances(backend: Backend) -> tuple[GraphApplication, GraphApplication]:
    """Two servers on one database, as two workers or two instances behind a balancer are."""
    settings = Settings(request_log=False)
    return create_app(settings, backend=backend), create_app(settings, backend=backend)


def test_a_replay_from_another_address_is_refused_on_every_instance(
    instances: tuple[GraphApplication, GraphApplication], app: App
) -> None:
    first, second = instances
    assertion = app.assertion(endpoint("http://127.0.0.1:8000", app))
    assert outcome(post(first, app, assertion, address=FIRST)) == (200, None)
    replayed = post(second, app, assertion, address=OTHER)
    assert outcome(replayed) == (401, 50012)
    assert replayed.json()["error"] == "invalid_client"
    assert replayed.json()["error_description"].startswith(
        "AADSTS50012: Client assertion has already been used, from another address."
    )
    assert "access_token" not in replayed.json()
    # MSAL's reuse: the same assertion from the first address, on either instance.
    assert outcome(post(second, app, assertion, address=FIRST)) == (200, None)
    assert outcome(post(first, app, assertion, address=FIRST)) == (200, None)


def test_a_ten_year_assertion_is_refused(
    instances: tuple[GraphApplication, GraphApplication], app: App
) -> None:
    assertion = app.assertion(endpoint("http://127.0.0.1:8000", app), exp=time.time() + 10 * 365 * 86400)
    assert outcome(post(instances[0], app, assertion, address=FIRST)) == (401, 700024)


@pytest.mark.parametrize(
    ("settings", "host", "audience", "expected"),
    [
        pytest.param(Settings(), "localhost:8000", "http://localhost:8000", 200, id="an own name"),
        pytest.param(Settings(), "localhost:8000", "http://[::1]:8000", 200, id="another own name"),
        pytest.param(Settings(), "localhost:8000", "https://localhost:8000", 700023, id="another scheme"),
        pytest.param(Settings(), "localhost:8000", "http://localhost:8001", 700023, id="another port"),
        pytest.param(
            Settings(host="0.0.0.0"),  # noqa: S104 - never bound: the app is in process
            "evil.example:8000", "http://evil.example:8000", 700023, id="the Host of a server answering any",
        ),
        pytest.param(
            Settings(host="0.0.0.0"),  # noqa: S104 - never bound: the app is in process
            "evil.example:8000", "http://127.0.0.1:8000", 200, id="its loopback name, whatever the Host",
        ),
        pytest.param(
            Settings(base_url="https://graph.example.test"),
            "localhost:8000", "http://localhost:8000", 700023, id="under --base-url, not the Host",
        ),
        pytest.param(
            Settings(base_url="https://graph.example.test/"),
            "localhost:8000", "https://graph.example.test", 200, id="under --base-url, that URL",
        ),
    ],
)  # fmt: skip
def test_the_audience_is_an_own_token_endpoint_never_the_host(
    backend: Backend, app: App, settings: Settings, host: str, audience: str, expected: int
) -> None:
    instance = create_app(settings, backend=backend)
    response = post(instance, app, app.assertion(endpoint(audience, app)), address=FIRST, host=host)
    assert outcome(response) == ((200, None) if expected == 200 else (401, expected))


def test_a_jti_no_text_column_could_hold_is_remembered_by_its_digest(backend: Backend, app: App) -> None:
    instance = create_app(Settings(request_log=False), backend=backend)
    jti = "a jti\x00with \ud800 what no text column holds"
    assertion = app.assertion(endpoint("http://127.0.0.1:8000", app), jti=jti)
    assert outcome(post(instance, app, assertion, address=FIRST)) == (200, None)
    assert rows(backend.database, app.tenant) == 1
