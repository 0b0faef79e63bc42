"""A smaller fuzz run against a real `graphtasks serve` (uvicorn, a real port), once per backend: what
the in-process runs (test_fuzz_asgi.py, test_fuzz_tokens.py) cannot show, such as the HTTP server's own
parsing, PostgreSQL, and the answers' bytes on the wire.

Schemathesis sends every operation of the OpenAPI document with a broken token (each must be the
documented, Graph-shaped 401; the documents and identity endpoints need none, so they must answer as
documented anyway); then Hypothesis sends random bodies and query options with a valid one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from tests.integration.test_fuzz_strategies import json_texts, query_options
from tests.integration.test_openapi import (
    CHECKS,
    SCHEMA,
    TASKS,
    base_url,
    graph_error_problem,
    operation_params,
)
from tests.support.server import Server


@pytest.fixture(scope="module")
def server(real_server: Server) -> Server:
    """`graphtasks serve` as a process: the live server, its HTTP parser and socket included, is the point."""
    return real_server


LIVE = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
BROKEN_TOKENS = [
    "",
    "x",
    "eyJhbGciOiJub25lIn0.eyJ0aWQiOiIxIn0.",
    "a.b.c",
    "A" * 20_000,
]
NO_TOKEN_NEEDED = {
    "get_metadata",
    "get_openapi",
    "discover_instance",
    "get_openid_configuration",
    "get_jwks",
    "get_token",
}


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def positive_operations() -> list[Any]:
    return [p for p in operation_params() if p.values[2] is GenerationMode.POSITIVE]


@pytest.mark.parametrize(("path", "operation_id", "mode"), positive_operations())
def test_broken_tokens_are_documented_401s(
    server: Server, path: str, operation_id: str, mode: GenerationMode
) -> None:
    operation = SCHEMA.find_operation_by_id(operation_id)

    @settings(LIVE, max_examples=3)
    @given(case=operation.as_strategy(generation_mode=mode), token=st.sampled_from(BROKEN_TOKENS))
    def run(case: Case[Any], token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        response = case.call(base_url=base_url(server, path), headers=headers)
        case.validate_response(response, checks=CHECKS)
        if operation_id not in NO_TOKEN_NEEDED:
            assert response.status_code == 401, response.text

    run()


@LIVE
@given(data=st.data(), body=json_texts())
def test_random_bodies_over_http(http: httpx.Client, data: st.DataObject, body: bytes) -> None:
    method, url = data.draw(
        st.sampled_from([("POST", TASKS), ("POST", "/beta/$batch"), ("POST", "/v1.0/$batch")])
    )
    response = http.request(method, url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert graph_error_problem(response.json()) is None


@LIVE
@given(options=query_options())
def test_random_query_options_over_http(http: httpx.Client, options: list[tuple[str, str]]) -> None:
    response = http.get(TASKS, params=tuple(options))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert graph_error_problem(response.json()) is None
