"""A database written by an earlier release, brought up to date by the current one: the rows that
release wrote (tests/data/release-0007, at schema migration 0007) are put into a database migrated to
0007, on each backend; the current server then migrates it at start, and every GET answers the bytes
that release answered (apart from `@odata.context`), ETags included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from graphtasks.storage import tables
from graphtasks.storage.engine import open_database
from graphtasks.storage.migrate import upgrade
from graphtasks.testing import Graphtasks
from tests.integration.test_state_roundtrip import Answer, answers
from tests.support.databases import postgres_database, sqlite_database

RELEASE = Path(__file__).parents[1] / "data" / "release-0007"


def release_rows() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((RELEASE / "rows.json").read_text())
    return document


def release_answers() -> dict[str, dict[str, Answer]]:
    """Tenant -> path -> what the release answered."""
    document = json.loads((RELEASE / "answers.json").read_text())
    return {
        tenant: {a["path"]: Answer(a["status"], a["body"].encode(), a["etag"]) for a in recorded}
        for tenant, recorded in document["tenants"].items()
    }


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with sqlite_database(tmp_path) if request.param == "sqlite" else postgres_database() as url:
        yield url


def write_as_the_release(url: str) -> None:
    document = release_rows()
    database = open_database(url)
    try:
        upgrade(database, document["revision"])
        with database.engine.begin() as connection:
            for name, rows in document["tables"].items():
                if rows:
                    connection.execute(insert(tables.metadata.tables[name]), rows)
    finally:
        database.dispose()


def test_every_get_answers_as_the_release_did(database_url: str) -> None:
    write_as_the_release(database_url)
    with Graphtasks(database_url=database_url) as graph:
        assert rows_without_a_document(database_url) == dict.fromkeys(STORED, 0)
        for tenant, expected in release_answers().items():
            handle = graph.new_tenant(tenant_id=tenant)
            got = answers(handle, list(expected))
            assert [path for path in expected if got[path] != expected[path]] == []


STORED = ("tasks", "managed_devices", "mobile_apps")


def rows_without_a_document(url: str) -> dict[str, int]:
    database = open_database(url)
    try:
        with database.engine.connect() as connection:
            return {
                name: connection.execute(
                    select(func.count()).where(tables.metadata.tables[name].c.document.is_(None))
                ).scalar_one()
                for name in STORED
            }
    finally:
        database.dispose()
