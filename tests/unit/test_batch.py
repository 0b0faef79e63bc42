"""graphtasks.web.batch.read_batch: a JSON batch body -> the requests to run, in dependency order
(docs/graph-behaviour.md, "JSON batching"). Anything malformed is one BadRequest for the whole batch."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.errors import BadRequest
from graphtasks.web.batch import MAX_REQUESTS, read_batch

TASKS = "/deviceAppManagement/deviceAppManagementTasks"
JSON_HEADERS = {"Content-Type": "application/json"}


def get(request_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": request_id, "method": "GET", "url": TASKS} | extra


def ids(document: dict[str, Any]) -> list[str]:
    return [item.id for item in read_batch(document, version="beta")]


def test_a_relative_url_gets_the_batchs_version() -> None:
    (item,) = read_batch({"requests": [get("1", url=f"{TASKS}?$top=1")]}, version="beta")
    assert (item.method, item.url) == ("GET", f"/beta{TASKS}?$top=1")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("deviceAppManagement/deviceAppManagementTasks", f"/beta{TASKS}"),
        (f"https://graph.microsoft.com/beta{TASKS}", f"/beta{TASKS}"),
        (f"http://127.0.0.1:8000/v1.0{TASKS}?$count=true", f"/v1.0{TASKS}?$count=true"),
    ],
)
def test_urls_without_a_slash_or_absolute_with_their_version(url: str, expected: str) -> None:
    (item,) = read_batch({"requests": [get("1", url=url)]}, version="beta")
    assert item.url == expected


def test_json_and_base64_bodies() -> None:
    raw = b'{"displayName": "b64"}'
    post = {"url": TASKS, "headers": JSON_HEADERS}
    document = {
        "requests": [
            {"id": "1", "method": "post", "body": {"displayName": "x"}} | post,
            {"id": "2", "method": "POST", "body": base64.b64encode(raw).decode()} | post,
        ]
    }
    first, second = read_batch(document, version="beta")
    assert (first.method, first.body) == ("POST", b'{"displayName":"x"}')
    assert second.body == raw
    assert first.headers == (("Content-Type", "application/json"),)


def test_dependencies_run_first_and_the_given_order_is_kept_otherwise() -> None:
    document = {"requests": [get("a", dependsOn=["c"]), get("b"), get("c"), get("d", dependsOn=["A", "b"])]}
    assert ids(document) == ["b", "c", "a", "d"]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        pytest.param([], "payload", id="not-an-object"),
        pytest.param({"request": []}, "payload", id="no-requests"),
        pytest.param({"requests": []}, "no requests", id="empty"),
        pytest.param({"requests": [get(str(i)) for i in range(MAX_REQUESTS + 1)]}, "at most 20", id="21"),
        pytest.param({"requests": [get("x"), get("X")]}, "more than one", id="duplicate-ids-any-case"),
        pytest.param({"requests": ["GET /x"]}, "JSON object", id="request-not-an-object"),
        pytest.param({"requests": [get("")]}, "'id'", id="empty-id"),
        pytest.param({"requests": [get(1)]}, "'id'", id="id-a-number"),  # type: ignore[arg-type]
        pytest.param({"requests": [get("1", method="TRACE")]}, "method", id="bad-method"),
        pytest.param({"requests": [get("1", url="")]}, "url", id="no-url"),
        pytest.param({"requests": [get("1", url="ftp://x/beta/y")]}, "URL", id="ftp-url"),
        pytest.param({"requests": [get("1", body={"a": 1})]}, "Content-Type", id="body-without-type"),
        pytest.param(
            {"requests": [get("1", headers=JSON_HEADERS, body="not base64!")]}, "base64", id="bad-base64"
        ),
        pytest.param(
            {"requests": [get("1", headers=JSON_HEADERS, body="é")]}, "base64", id="non-ascii-base64"
        ),
        pytest.param(
            {"requests": [get("1", headers=JSON_HEADERS, body={"n": 2**70})]}, "JSON", id="huge-integer"
        ),
        pytest.param({"requests": [get("1", headers=["x"])]}, "headers", id="headers-a-list"),
        pytest.param({"requests": [get("1", headers={"X-Name": "€"})]}, "Latin-1", id="header-not-latin-1"),
        pytest.param({"requests": [get("1", url="https://[::1/beta/x")]}, "URL", id="unclosed-ipv6-host"),
        pytest.param({"requests": [get("1", dependsOn="2"), get("2")]}, "dependsOn", id="depends-a-string"),
        pytest.param({"requests": [get("1", dependsOn=["9"])]}, "not in the batch", id="unknown-dependency"),
        pytest.param(
            {"requests": [get("1", dependsOn=["2"]), get("2", dependsOn=["1"])]}, "cycle", id="cycle"
        ),
        pytest.param({"requests": [get("1", dependsOn=["1"])]}, "cycle", id="depends-on-itself"),
    ],
)
def test_malformed_batches_are_one_bad_request(document: object, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        read_batch(document, version="beta")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["1", "2", "3", "a"]) | _JSON,
        "method": st.sampled_from(["GET", "post", "DELETE", "HEAD"]) | _JSON,
        "url": st.sampled_from([TASKS, "x", "https://h/beta/x", ""]) | _JSON,
        "headers": st.just(JSON_HEADERS) | _JSON,
        "body": _JSON,
        "dependsOn": st.lists(st.sampled_from(["1", "2", "3", "9"]), max_size=2) | _JSON,
    },
)


@given(st.fixed_dictionaries({"requests": st.lists(_ENTRY, max_size=4)}) | _JSON)
def test_any_document_is_read_or_refused_with_bad_request(document: object) -> None:
    try:
        items = read_batch(document, version="beta")
    except BadRequest:
        return
    position = {item.id.lower(): index for index, item in enumerate(items)}
    for index, item in enumerate(items):
        assert all(position[d.lower()] < index for d in item.depends_on)
