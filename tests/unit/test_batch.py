"""graphtasks.web.batch_reading.read_batch: a JSON batch body -> the requests to run, in dependency order
(docs/graph-behaviour.md, "JSON batching"). Anything malformed is one BadRequest for the whole batch;
headers past the limits of a real request refuse their own item only (docs/resilience.md, "Prefer and
$batch headers")."""

from __future__ import annotations

import base64
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from graphtasks.errors import BadRequest, GraphError, HeadersTooLarge
from graphtasks.web.batch_reading import (
    MAX_ITEM_HEADERS,
    MAX_REQUESTS,
    BatchItem,
    dependency_order,
    read_batch,
)

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
        pytest.param({"requests": [get("1", headers={"X-Name": 1})]}, "headers", id="header-a-number"),
        pytest.param(
            {"requests": [get("1", headers={"X-Name": ["a", 1]})]}, "headers", id="header-list-of-any"
        ),
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


# --- header limits: the item is refused, the batch is read ---

LIMIT = 1024


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        pytest.param(
            {f"X-{i}": "v" for i in range(MAX_ITEM_HEADERS + 1)},
            HeadersTooLarge,
            f"The request has {MAX_ITEM_HEADERS + 1} header fields; at most {MAX_ITEM_HEADERS} are allowed.",
            id="too-many",
        ),
        pytest.param(
            {"Prefer": "x" * (LIMIT - len("Prefer: \r\n") + 1)},
            HeadersTooLarge,
            f"The request's header fields are larger than the limit of {LIMIT} bytes.",
            id="one-byte-too-large",
        ),
        pytest.param(
            {"Prefer": ["x" * 400, "y" * 400, "z" * 400]},
            HeadersTooLarge,
            f"The request's header fields are larger than the limit of {LIMIT} bytes.",
            id="a-list-too-large-once-joined",
        ),
        pytest.param(
            {"X Name": "v"},
            BadRequest,
            "The header name 'X Name' is not a valid HTTP field name.",
            id="space",
        ),
        pytest.param(
            {"": "v"}, BadRequest, "The header name '' is not a valid HTTP field name.", id="empty-name"
        ),
        pytest.param(
            {"X-Name": "a\r\nX-Injected: 1"},
            BadRequest,
            "The header 'X-Name' has a value that HTTP cannot carry.",
            id="crlf",
        ),
        pytest.param(
            {"X-Name": "a\x00"},
            BadRequest,
            "The header 'X-Name' has a value that HTTP cannot carry.",
            id="nul",
        ),
        pytest.param(
            {"X-Name": "€"},
            BadRequest,
            "The header 'X-Name' has a value that HTTP cannot carry.",
            id="not-latin-1",
        ),
    ],
)
def test_headers_past_a_real_requests_limits_refuse_their_item(
    headers: dict[str, Any], error: type[GraphError], message: str
) -> None:
    document = {"requests": [get("1", headers=headers), get("2")]}
    refused, fine = read_batch(document, version="beta", max_header_bytes=LIMIT)
    assert refused.refusal is not None
    assert (type(refused.refusal), refused.refusal.status, refused.refusal.message) == (
        error,
        error.status,
        message,
    )
    assert fine.refusal is None


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({f"X-{i}": "v" for i in range(MAX_ITEM_HEADERS)}, id="as-many-as-allowed"),
        pytest.param({"Prefer": "x" * (LIMIT - len("Prefer: \r\n"))}, id="exactly-the-size-limit"),
        pytest.param({"X-Name": "é\tvisible ~ text"}, id="obs-text-and-tab"),
        pytest.param({"X-Name": ""}, id="empty-value"),
        pytest.param({"x!#$%&'*+-.^_`|~": "v"}, id="every-token-character"),
    ],
)
def test_headers_within_the_limits_are_kept(headers: dict[str, str]) -> None:
    (item,) = read_batch({"requests": [get("1", headers=headers)]}, version="beta", max_header_bytes=LIMIT)
    assert item.refusal is None
    assert dict(item.headers) == headers


def test_a_list_header_is_joined_as_http_would() -> None:
    (item,) = read_batch({"requests": [get("1", headers={"Accept": ["a/b", "c/d"]})]}, version="beta")
    assert item.headers == (("Accept", "a/b, c/d"),)


def test_a_repeated_dependency_is_one() -> None:
    document = {"requests": [get("a"), get("b", dependsOn=["A", "a", "b2", "A"] * 50_000), get("b2")]}
    items = read_batch(document, version="beta")
    assert [(item.id, item.depends_on) for item in items] == [
        ("a", ()),
        ("b2", ()),
        ("b", ("A", "b2")),
    ]


# --- dependency_order: Kahn's algorithm against the order the batch always had ---


def item(request_id: str, *depends_on: str) -> BatchItem:
    return BatchItem(request_id, "GET", f"/beta{TASKS}", (), None, depends_on)


def first_ready_each_time(items: list[BatchItem]) -> list[str] | None:
    """The definition: repeatedly the first item, in the given order, whose dependencies are done."""
    done: list[str] = []
    pending = list(items)
    while pending:
        ready = next((i for i in pending if all(d.lower() in done for d in i.depends_on)), None)
        if ready is None:
            return None
        done.append(ready.id.lower())
        pending.remove(ready)
    return done


def random_dag(rng: random.Random, size: int, *, edges: int) -> list[BatchItem]:
    """`size` items in a shuffled order, each depending only on items of a lower rank."""
    ranks = list(range(size))
    rng.shuffle(ranks)
    depends: list[set[str]] = [set() for _ in ranks]
    for _ in range(edges):
        low, high = sorted(rng.sample(range(size), 2))
        depends[high].add(f"r{low}")
    return [item(f"r{rank}", *sorted(depends[rank])) for rank in ranks]


def test_a_big_random_dag_is_ordered_with_every_dependency_first() -> None:
    items = random_dag(random.Random(7), 5_000, edges=30_000)
    ordered = dependency_order(items)
    assert sorted(i.id for i in ordered) == sorted(i.id for i in items)
    position = {i.id: index for index, i in enumerate(ordered)}
    assert all(position[d] < position[i.id] for i in items for d in i.depends_on)


@given(st.randoms(use_true_random=False), st.integers(2, 12), st.integers(0, 30))
def test_the_order_is_the_first_ready_item_each_time(rng: random.Random, size: int, edges: int) -> None:
    items = random_dag(rng, size, edges=edges)
    assert [i.id.lower() for i in dependency_order(items)] == first_ready_each_time(items)


@pytest.mark.parametrize(
    ("items", "stuck"),
    [
        pytest.param([item("a", "b"), item("b", "a")], "a", id="two"),
        pytest.param(
            [item("x"), item("a", "c"), item("b", "a"), item("c", "b")], "a", id="three-after-a-free-one"
        ),
        pytest.param([item("a", "b"), item("b", "c"), item("c", "b")], "a", id="waiting-on-a-cycle"),
        pytest.param([item("a"), item("b", "B")], "b", id="itself-in-another-case"),
    ],
)
def test_a_cycle_is_refused_naming_the_first_request_left(items: list[BatchItem], stuck: str) -> None:
    with pytest.raises(BadRequest) as refused:
        dependency_order(items)
    assert refused.value.message == f"The dependencies of request '{stuck}' form a cycle."
