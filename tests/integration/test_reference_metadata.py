"""The $metadata a running server serves, against Microsoft Graph's published beta CSDL.

The reading, the comparison and the one table of deliberate differences are those of
tests/unit/test_reference_schema.py, which compares the model and the document model/csdl.py builds;
this module checks that what a client actually receives over HTTP differs from the excerpt no further.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import sqlite_server
from tests.unit.test_reference_schema import assert_only_deliberate, document_facts


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Response]:
    """`GET /beta/$metadata` from one real server for this module, on a fresh SQLite database."""
    with sqlite_server(tmp_path_factory.mktemp("reference-metadata")) as server:
        yield httpx.get(f"{server.url}/beta/$metadata", timeout=30.0)


def test_served_metadata_differs_from_the_excerpt_only_deliberately(served: httpx.Response) -> None:
    assert served.status_code == 200, served.text
    assert_only_deliberate(document_facts(served.text), model=False)
