"""An unexpected failure below the handlers is a Graph-shaped 500, never a stack trace."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Message

from graphtasks.app import Backend, create_app, open_backend
from graphtasks.auth.tokens import TokenRequest, issue_token
from graphtasks.config import DEFAULT_ISSUER, DEFAULT_TENANT, Settings
from graphtasks.model.records import StoredDocument, TaskRecord
from graphtasks.storage.base import Page, PageSink, TaskQuery
from graphtasks.storage.sql import SqlTaskStore
from tests.support.server import TASKS_PATH


class FailingStore(SqlTaskStore):
    """The real store, except that listing fails as a lost database connection would."""

    def query_documents(self, query: TaskQuery, sink: PageSink[StoredDocument]) -> Page[StoredDocument]:
        raise ConnectionError("database went away")

    def create(self, tenant_id: str, task: TaskRecord) -> StoredDocument:
        raise ConnectionError("database went away")


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    real = open_backend(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    yield Backend(real.database, FailingStore(real.database), real.keys, real.apps, real.tenants)
    real.database.dispose()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unexpected_error_is_a_graph_500(backend: Backend, method: str) -> None:
    app = create_app(Settings(allowed_hosts=("graphtasks.test",)), backend=backend)
    request = TokenRequest(DEFAULT_TENANT, roles=("DeviceManagementApps.ReadWrite.All",))
    token = issue_token(backend.keys, request, issuer_base=DEFAULT_ISSUER)
    headers = {"Authorization": f"Bearer {token}", "client-request-id": "c-500"}
    body = {"displayName": "x"} if method == "POST" else None

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://graphtasks.test") as client:
            return await client.request(method, TASKS_PATH, json=body, headers=headers)

    response = asyncio.run(send())
    assert response.status_code == 500
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "InternalServerError",
        "An internal server error has occurred.",
    )
    assert "database went away" not in response.text
    assert response.headers["client-request-id"] == "c-500"
    assert error["innerError"]["request-id"] == response.headers["request-id"]


def test_a_client_that_leaves_while_its_body_is_read_gets_no_answer_and_logs_no_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(allowed_hosts=("graphtasks.test",)), backend=backend)
    request = TokenRequest(DEFAULT_TENANT, roles=("DeviceManagementApps.ReadWrite.All",))
    token = issue_token(backend.keys, request, issuer_base=DEFAULT_ISSUER)
    scope = {
        "type": "http",
        "method": "POST",
        "scheme": "http",
        "path": TASKS_PATH,
        "query_string": b"",
        "headers": [
            (b"host", b"graphtasks.test"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent == []
    assert "unhandled error" not in caplog.text
