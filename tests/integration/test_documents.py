"""The service's self-descriptions over HTTP: `GET /beta/$metadata` (CSDL, checked in depth in
tests/unit/test_csdl.py) and `GET /beta/openapi.json` (tests/unit/test_openapi.py and the schemathesis
run in tests/integration/test_openapi.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from graphtasks.model.csdl import metadata_document
from graphtasks.web.openapi import openapi_document
from tests.support.server import Server

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def test_metadata_needs_no_token_and_is_the_generated_csdl(server: Server) -> None:
    response = server.request("GET", f"{server.url}/beta/$metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert response.headers["odata-version"] == "4.0"
    assert response.text == metadata_document()
    document = ET.fromstring(response.content)  # noqa: S314 - the server under test wrote it
    singleton = document.find(f".//{EDM}Singleton")
    assert singleton is not None
    assert (singleton.get("Name"), singleton.get("Type")) == (
        "deviceAppManagement",
        "graph.deviceAppManagement",
    )


def test_metadata_is_read_only(server: Server) -> None:
    response = server.request("POST", f"{server.url}/beta/$metadata", content=b"<x/>")
    assert response.status_code == 405


def test_openapi_needs_no_token_and_names_this_server(server: Server) -> None:
    response = server.request("GET", f"{server.url}/beta/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document == openapi_document(server.url)
    assert document["servers"][0]["url"] == f"{server.url}/beta"
    assert document["openapi"] == "3.0.3"
