"""$batch within bounds, over HTTP on a real server (docs/resilience.md, "Prefer and $batch headers"
and "$batch answers"): an item's headers obey a real request's limits or that item alone is refused,
Prefer is read in one pass with a bounded pattern list, and the answer keeps to its byte budget, the
items past it answering 503 without being run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from graphtasks.config import DEFAULT_MAX_HEADER_BYTES
from graphtasks.web.batch_reading import MAX_ITEM_HEADERS
from graphtasks.web.preferences import MAX_ANNOTATION_PATTERNS
from tests.integration.test_errors import assert_graph_error
from tests.support.server import TASKS_PATH, Server, backend_server

BATCH = "/beta/$batch"
TASKS = TASKS_PATH.removeprefix("/beta")
JSON_HEADERS = {"Content-Type": "application/json"}
NOTE = "graphtasks.statusNote"
BUDGET = 64 * 1024
# A task whose JSON is about 25 KB, so that two answers fit the budget and three do not.
BIG = {"@odata.type": "#microsoft.graph.securityConfigurationTask", "description": "d" * 25_000}
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def small_budget(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server whose $batch answers may hold 64 KiB, the smallest budget Settings takes."""
    directory = tmp_path_factory.mktemp(f"batch-limits-{request.param}")
    with backend_server(request.param, directory, "--max-batch-response-bytes", str(BUDGET)) as running:
        yield running


def tenant_client(server: Server) -> httpx.Client:
    return server.client(server.token(tenant=str(uuid.uuid4())))


def get(request_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": request_id, "method": "GET", "url": url} | extra


def create(request_id: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": request_id, "method": "POST", "url": TASKS, "headers": JSON_HEADERS, "body": body} | extra


def send(client: httpx.Client, *requests: dict[str, Any]) -> tuple[httpx.Response, dict[str, dict[str, Any]]]:
    response = client.post(BATCH, json={"requests": list(requests)})
    assert response.status_code == 200, response.text
    return response, {answer["id"]: answer for answer in response.json()["responses"]}


def assert_item_error(answer: dict[str, Any], status: int, code: str, message: str) -> None:
    assert (answer["status"], answer["body"]["error"]["code"]) == (status, code)
    assert answer["body"]["error"]["message"] == message


def count(client: httpx.Client) -> int:
    return int(client.get(f"{TASKS_PATH}/$count").text)


# --- headers inside items ---

TOO_LARGE = f"The request's header fields are larger than the limit of {DEFAULT_MAX_HEADER_BYTES} bytes."


@pytest.mark.parametrize(
    ("headers", "status", "code", "message"),
    [
        pytest.param(
            {"X-Big": "x" * DEFAULT_MAX_HEADER_BYTES},
            431,
            "RequestHeaderFieldsTooLarge",
            TOO_LARGE,
            id="size",
        ),
        pytest.param(
            # The probe's: one Prefer of 270,000 include-annotations patterns, 3.8 MB.
            {"Prefer": 'odata.include-annotations="' + ",".join(f"n{i}.t" for i in range(270_000)) + '"'},
            431,
            "RequestHeaderFieldsTooLarge",
            TOO_LARGE,
            id="probe-prefer",
        ),
        pytest.param(
            {f"X-{i}": "v" for i in range(MAX_ITEM_HEADERS)},  # and Content-Type
            431,
            "RequestHeaderFieldsTooLarge",
            f"The request has {MAX_ITEM_HEADERS + 1} header fields; at most {MAX_ITEM_HEADERS} are allowed.",
            id="count",
        ),
        pytest.param(
            {"X-Name": "a\r\nAuthorization: Bearer x"},
            400,
            "BadRequest",
            "The header 'X-Name' has a value that HTTP cannot carry.",
            id="crlf",
        ),
        pytest.param(
            {"X Name": "v"},
            400,
            "BadRequest",
            "The header name 'X Name' is not a valid HTTP field name.",
            id="name",
        ),
    ],
)
def test_an_item_with_headers_a_real_request_could_not_send_is_refused_alone(
    server: Server, headers: dict[str, Any], status: int, code: str, message: str
) -> None:
    with tenant_client(server) as client:
        _, answers = send(
            client,
            create("refused", {"displayName": "never made"}, headers={**JSON_HEADERS, **headers}),
            create("after", {"displayName": "never made either"}, dependsOn=["refused"]),
            get("other", f"{TASKS}/$count"),
        )
        assert_item_error(answers["refused"], status, code, message)
        assert_item_error(
            answers["after"],
            424,
            "FailedDependency",
            "The request depends on request 'refused', which failed.",
        )
        assert answers["other"]["status"] == 200
        assert count(client) == 0


def test_headers_within_the_limits_reach_the_request(server: Server) -> None:
    headers = {f"X-{i}": "v" for i in range(MAX_ITEM_HEADERS - 2)} | {"Prefer": "return=minimal"}
    with tenant_client(server) as client:
        _, answers = send(
            client, create("1", {"displayName": "minimal"}, headers={**JSON_HEADERS, **headers})
        )
    assert answers["1"]["status"] == 204
    assert answers["1"]["headers"]["Preference-Applied"] == "return=minimal"


# --- Prefer ---


def include(count: int) -> str:
    """An include-annotations list of `count` items, the status note's last."""
    return 'odata.include-annotations="' + ",".join([*(f"n{i}.t" for i in range(count - 1)), NOTE]) + '"'


@pytest.mark.parametrize(
    ("patterns", "shown"), [(MAX_ANNOTATION_PATTERNS, True), (MAX_ANNOTATION_PATTERNS + 1, False)]
)
def test_include_annotations_past_the_limit_is_ignored(server: Server, patterns: int, shown: bool) -> None:
    with tenant_client(server) as client:
        task = client.post(TASKS_PATH, json={"displayName": "noted"}).json()
        url = f"{TASKS}/{task['id']}"
        alone = client.get(f"{TASKS_PATH}/{task['id']}", headers={"Prefer": include(patterns)})
        _, answers = send(client, get("1", url, headers={"Prefer": include(patterns)}))
    assert alone.status_code == 200
    assert (f"@{NOTE}" in alone.json(), f"@{NOTE}" in answers["1"]["body"]) == (shown, shown)


@pytest.mark.parametrize(
    "prefer",
    [
        pytest.param("=" + " " * 60_000 + '"', id="spaces-then-a-quote"),
        pytest.param('odata.include-annotations="' + "*a" * 30_000 + '"', id="star-a"),
        pytest.param(",".join(f"p{i}=v" for i in range(6_000)), id="6000-preferences"),
    ],
)
def test_a_prefer_header_as_large_as_the_limit_is_read_in_one_pass(server: Server, prefer: str) -> None:
    """Each of these took seconds to minutes of the event loop before (the first, 86 s): the client's
    30-second timeout would end the test."""
    with tenant_client(server) as client:
        alone = client.get(TASKS_PATH, headers={"Prefer": prefer})
        _, answers = send(client, get("1", TASKS, headers={"Prefer": prefer}))
    assert (alone.status_code, answers["1"]["status"]) == (200, 200)


# --- the answer's budget ---


def test_items_past_the_budget_are_not_run_and_answer_503(small_budget: Server) -> None:
    with tenant_client(small_budget) as client:
        ids = [client.post(TASKS_PATH, json=BIG).json()["id"] for _ in range(3)]
        response, answers = send(
            client,
            get("1", f"{TASKS}/{ids[0]}"),
            get("2", f"{TASKS}/{ids[1]}"),
            get("3", f"{TASKS}/{ids[2]}"),
            create("4", {"displayName": "not made"}),
            get("5", f"{TASKS}/$count", dependsOn=["4"]),
        )
        assert [answers[i]["status"] for i in "12"] == [200, 200]
        assert_item_error(
            answers["3"],
            503,
            "ServiceUnavailable",
            f"The batch's answer reached its limit of {BUDGET} bytes with this request's answer; nothing was "
            "done. Send the request again in another batch.",
        )
        assert_item_error(
            answers["4"],
            503,
            "ServiceUnavailable",
            f"The batch's answer reached its limit of {BUDGET} bytes before this request was run; "
            "nothing was done. Send the request again in another batch.",
        )
        assert answers["4"]["headers"]["Retry-After"] == "1"
        assert answers["5"]["status"] == 424
        assert len(response.content) < BUDGET + 8 * 1024
        assert count(client) == 3  # the create past the budget was not run


def test_the_first_answer_comes_whole_however_large(small_budget: Server) -> None:
    with tenant_client(small_budget) as client:
        for _ in range(4):
            client.post(TASKS_PATH, json=BIG)
        _, answers = send(client, get("1", TASKS), get("2", f"{TASKS}/$count"))
    assert (answers["1"]["status"], len(answers["1"]["body"]["value"])) == (200, 4)
    assert answers["2"]["status"] == 503


def test_a_write_whose_answer_passes_the_budget_keeps_its_status_without_its_body(
    small_budget: Server,
) -> None:
    """It was done: an error would invite a retry that made it twice."""
    with tenant_client(small_budget) as client:
        ids = [client.post(TASKS_PATH, json=BIG).json()["id"] for _ in range(3)]
        _, answers = send(
            client,
            get("1", f"{TASKS}/{ids[0]}"),
            get("2", f"{TASKS}/{ids[1]}"),
            create("3", BIG | {"displayName": "made"}),
        )
        made = answers["3"]
        assert (made["status"], "body" in made, "Content-Type" in made["headers"]) == (201, False, False)
        assert client.get(made["headers"]["Location"]).json()["displayName"] == "made"
        assert count(client) == 4


def test_an_answer_within_the_budget_is_whole(small_budget: Server) -> None:
    with tenant_client(small_budget) as client:
        task = client.post(TASKS_PATH, json=BIG).json()
        _, answers = send(client, get("1", f"{TASKS}/{task['id']}"), get("2", f"{TASKS}/{task['id']}"))
    assert (answers["1"]["status"], answers["2"]["status"]) == (200, 200)
    assert answers["1"]["body"] == answers["2"]["body"] == task


def rss_peak_kib(server: Server) -> int:
    assert server.process is not None
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))


def test_twenty_large_lists_in_one_batch_hold_about_one_page(small_budget: Server) -> None:
    """The probe's 20 x `$top=1000` over large tasks, scaled down: 40 tasks of 100 KB make each list a
    4 MB page. The first comes whole, the rest are never run; before, every page was held, parsed."""
    large = BIG | {"description": "d" * 100_000}
    with tenant_client(small_budget) as client:
        for _ in range(40):
            client.post(TASKS_PATH, json=large)
        client.get(TASKS_PATH, params={"$top": "1000"})  # the page's own cost, once, before measuring
        before = rss_peak_kib(small_budget)
        _, answers = send(client, *(get(str(i), f"{TASKS}?$top=1000") for i in range(20)))
        grown = rss_peak_kib(small_budget) - before
    assert answers["0"]["status"] == 200
    assert [answers[str(i)]["status"] for i in range(1, 20)] == [503] * 19
    assert grown < 32 * 1024, f"the server's peak RSS grew by {grown} KiB"


def test_a_malformed_header_map_is_still_the_whole_batchs_400(server: Server) -> None:
    with tenant_client(server) as client:
        response = client.post(BATCH, json={"requests": [get("1", TASKS, headers={"X-Name": {"a": 1}})]})
    assert_graph_error(response, 400, "BadRequest")
