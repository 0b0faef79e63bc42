"""The list query options over HTTP, case by case, on one known set of six tasks in a tenant of its own.

Owns the option surface (docs/graph-behaviour.md, "Query options"; the same page's "Response bodies",
"Paging" and "Requests the SDK sends"): $select and the @odata.context it shows, $orderby keys,
$top/$skip, $count, /$count, type-cast segments, the optional `$`, the SDK's URL encoding, nextLinks
and their signed $skiptoken, and the 400s for what is wrong.
test_query_differential.py owns the semantics of $filter and ordering on random data.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.support.server import TASKS_PATH, Server

SCT = "microsoft.graph.securityConfigurationTask"
AVT = "microsoft.graph.appVulnerabilityTask"
UDT = "microsoft.graph.unmanagedDeviceDiscoveryTask"
BASE = "microsoft.graph.deviceAppManagementTask"

# Created in this order, so createdDateTime orders them so. Enum member order (docs/graph-behaviour.md,
# "Enumerations"):
# status unknown < pending < active < completed < rejected; priority none < high < low.
TASKS: dict[str, dict[str, Any]] = {
    "alpha": {
        "displayName": "alpha",
        "status": "pending",
        "priority": "high",
        "assignedTo": "ann",
        "dueDateTime": "2024-03-01T00:00:00Z",
    },
    "Bravo": {
        "@odata.type": f"#{SCT}",
        "displayName": "Bravo",
        "status": "active",
        "priority": "low",
        "category": "advancedThreatProtection",
        "dueDateTime": "2024-01-01T00:00:00Z",
        "managedDeviceCount": 5,
        "intendedSettings": [{"name": "mode", "value": "on"}],
    },
    "charlie": {
        "@odata.type": f"#{AVT}",
        "displayName": "charlie",
        "status": "pending",
        "priority": "none",
        "assignedTo": "bob",
        "dueDateTime": "2024-02-01T00:00:00Z",
        "managedDeviceCount": 2,
        "appName": "Reader",
    },
    "delta": {
        "@odata.type": f"#{UDT}",
        "displayName": "delta",
        "status": "completed",
        "priority": "high",
        "assignedTo": "ann",
        "dueDateTime": "2024-01-01T01:00:00+01:00",  # the same instant as Bravo's
        "unmanagedDevices": [{"os": "Windows", "deviceName": "LAPTOP-7"}],
    },
    "echo": {
        "@odata.type": f"#{SCT}",
        "displayName": "echo",
        "status": "pending",
        "priority": "high",
        "category": "advancedThreatProtection",
        "assignedTo": "carol",
        "dueDateTime": "2024-04-01T00:00:00Z",
        "managedDeviceCount": 1,
    },
    "unnamed": {"status": "rejected", "priority": "low"},  # displayName, assignedTo null; dueDateTime unset
}
CREATION_ORDER = list(TASKS)


@dataclass(frozen=True)
class Dataset:
    server: Server
    token: str
    ids: dict[str, str]  # name in TASKS -> id

    def client(self) -> httpx.Client:
        return self.server.client(self.token)

    def names(self, body: dict[str, Any]) -> list[str]:
        by_id = {task_id: name for name, task_id in self.ids.items()}
        return [by_id[task["id"]] for task in body["value"]]

    def walk(self, client: httpx.Client, url: str, params: dict[str, str] | None = None) -> list[str]:
        """Every page from `url` on, by its nextLinks: the names in order."""
        body = client.get(url, params=params).json()
        names = self.names(body)
        while "@odata.nextLink" in body:
            body = client.get(body["@odata.nextLink"]).json()
            names += self.names(body)
        return names


@pytest.fixture(scope="module")
def dataset(server: Server) -> Iterator[Dataset]:
    token = server.token(tenant=str(uuid.uuid4()))
    with server.client(token) as client:
        ids = {}
        for name, body in TASKS.items():
            response = client.post(TASKS_PATH, json=body)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
    yield Dataset(server, token, ids)


@pytest.fixture
def client(dataset: Dataset) -> Iterator[httpx.Client]:
    with dataset.client() as http:
        yield http


def assert_bad_request(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("BadRequest", message)


# --- $select ---


@pytest.mark.parametrize(
    ("path", "select", "selection", "shown"),
    [
        ("", "displayName,status", "(displayName,status)", {"displayName", "status"}),
        ("", "status,displayName,status", "(status,displayName)", {"displayName", "status"}),
        (
            "",
            f"id,{SCT}/managedDeviceCount",
            f"(id,{SCT}/managedDeviceCount)",
            {"id", f"{SCT}:managedDeviceCount"},
        ),
        (f"/{AVT}", "appName,status", f"/{AVT}(appName,status)", {"appName", "status"}),
        ("", "*", "", None),
    ],
    ids=["two-properties", "repeated", "cast-prefixed", "on-a-cast-segment", "star"],
)
def test_select_shows_only_the_selected_properties(
    dataset: Dataset, client: httpx.Client, path: str, select: str, selection: str, shown: set[str] | None
) -> None:
    """Each task shows @odata.type, @odata.etag and the selected properties its type has; @odata.context
    names the selection (docs/graph-behaviour.md, "Response bodies"). `type:name` in `shown` is a
    property only that type shows."""
    body = client.get(TASKS_PATH + path, params={"$select": select}).json()
    assert body["@odata.context"] == f"https://graph.microsoft.com/beta/$metadata#{TASKS_PATH[6:]}{selection}"
    assert len(body["value"]) == (1 if path else len(TASKS))
    for task in body["value"]:
        task_type = task["@odata.type"].removeprefix("#")
        if shown is None:
            assert {"id", "displayName", "status", "dueDateTime"} <= set(task)
            continue
        expected = {name for name in shown if ":" not in name}
        expected |= {name.split(":")[1] for name in shown if name.startswith(task_type + ":")}
        assert set(task) == {"@odata.type", "@odata.etag", *expected}


def test_select_on_one_task_names_the_selection_in_its_context(
    dataset: Dataset, client: httpx.Client
) -> None:
    task_id = dataset.ids["Bravo"]
    body = client.get(f"{TASKS_PATH}/{task_id}/{SCT}", params={"$select": "status"}).json()
    context = f"https://graph.microsoft.com/beta/$metadata#{TASKS_PATH[6:]}/{SCT}(status)/$entity"
    assert body == {
        "@odata.context": context,
        "@odata.type": f"#{SCT}",
        "@odata.etag": body["@odata.etag"],
        "status": "active",
    }


# --- $orderby, $top, $skip ---


@pytest.mark.parametrize(
    ("orderby", "order"),
    [
        (None, ["alpha", "Bravo", "charlie", "delta", "echo", "unnamed"]),
        ("createdDateTime desc", ["unnamed", "echo", "delta", "charlie", "Bravo", "alpha"]),
        # Code point order: null first, then 'B' before every lower-case letter.
        ("displayName", ["unnamed", "Bravo", "alpha", "charlie", "delta", "echo"]),
        ("displayName desc", ["echo", "delta", "charlie", "alpha", "Bravo", "unnamed"]),
        # Enum member order, not alphabetical: low (2) > high (1) > none (0).
        ("priority desc,displayName", ["unnamed", "Bravo", "alpha", "delta", "echo", "charlie"]),
        ("status,displayName desc", ["echo", "charlie", "alpha", "Bravo", "delta", "unnamed"]),
        # Descending puts nulls last; ties fall to the next key.
        ("assignedTo desc,createdDateTime", ["echo", "charlie", "alpha", "delta", "Bravo", "unnamed"]),
        # Instants, whatever offset they were sent with: Bravo's and delta's are equal.
        ("dueDateTime,displayName", ["unnamed", "Bravo", "delta", "charlie", "alpha", "echo"]),
        ("dueDateTime,displayName desc", ["unnamed", "delta", "Bravo", "charlie", "alpha", "echo"]),
        # A cast on a task of another type is null.
        (
            f"{SCT}/managedDeviceCount desc,displayName",
            ["Bravo", "echo", "unnamed", "alpha", "charlie", "delta"],
        ),
    ],
)
def test_orderby(dataset: Dataset, client: httpx.Client, orderby: str | None, order: list[str]) -> None:
    params = {} if orderby is None else {"$orderby": orderby}
    assert dataset.walk(client, TASKS_PATH, {**params, "$top": "4"}) == order


@pytest.mark.parametrize(
    ("top", "skip", "pages"),
    [
        ("2", "1", [["Bravo", "charlie"], ["delta", "echo"], ["unnamed"]]),
        ("3", "0", [["alpha", "Bravo", "charlie"], ["delta", "echo", "unnamed"]]),
        ("10", "4", [["echo", "unnamed"]]),
        ("1", "6", [[]]),
        ("0", "0", [[]]),
        ("5000", "0", [CREATION_ORDER]),  # capped at 1000, never refused
    ],
)
def test_top_is_the_page_size_and_skip_applies_once(
    dataset: Dataset, client: httpx.Client, top: str, skip: str, pages: list[list[str]]
) -> None:
    body = client.get(TASKS_PATH, params={"$top": top, "$skip": skip}).json()
    seen = [dataset.names(body)]
    while "@odata.nextLink" in body:
        query = dict(parse_qsl(urlsplit(body["@odata.nextLink"]).query))
        assert "$skip" not in query
        assert query["$top"] == top
        body = client.get(body["@odata.nextLink"]).json()
        seen.append(dataset.names(body))
    assert seen == pages


# --- $count and /$count ---


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"$count": "true"}, 6),
        ({"$count": "true", "$top": "1", "$skip": "1"}, 6),
        ({"$count": "true", "$filter": "status eq 'pending'"}, 3),
        ({"$count": "false"}, None),
        ({}, None),
    ],
    ids=["all", "ignores-top-and-skip", "filtered", "false", "absent"],
)
def test_count_true_is_a_json_number(client: httpx.Client, params: dict[str, str], count: int | None) -> None:
    response = client.get(TASKS_PATH, params=params)
    body = response.json()
    if count is None:
        assert "@odata.count" not in body
        return
    assert type(body["@odata.count"]) is int
    assert body["@odata.count"] == count
    assert f'"@odata.count":{count},' in response.text


@pytest.mark.parametrize(
    ("path", "filter_", "count"),
    [
        ("", None, "6"),
        ("", "status eq 'pending'", "3"),
        ("", f"{SCT}/managedDeviceCount ge 1", "2"),
        (f"/{SCT}", None, "2"),
        (f"/{SCT}", "managedDeviceCount gt 1", "1"),
        (f"/{AVT}", None, "1"),
        (f"/{UDT}", "unmanagedDevices/any(d: d/os eq 'Windows')", "1"),
        (f"/{BASE}", None, "6"),
    ],
)
def test_count_segment_honours_filter_and_cast(
    client: httpx.Client, path: str, filter_: str | None, count: str
) -> None:
    params = {} if filter_ is None else {"$filter": filter_}
    response = client.get(f"{TASKS_PATH}{path}/$count", params=params)
    assert (response.status_code, response.text) == (200, count)
    assert response.headers["content-type"].startswith("text/plain")


# --- type-cast segments ---


@pytest.mark.parametrize(
    ("cast", "filter_", "names"),
    [
        (SCT, None, ["Bravo", "echo"]),
        (SCT, "managedDeviceCount gt 1", ["Bravo"]),
        (SCT, "intendedSettings/any(s: s/name eq 'mode')", ["Bravo"]),
        (AVT, "appName eq 'Reader'", ["charlie"]),
        (UDT, None, ["delta"]),
        (BASE, None, CREATION_ORDER),
    ],
)
def test_type_cast_segment_lists_one_type(
    dataset: Dataset, client: httpx.Client, cast: str, filter_: str | None, names: list[str]
) -> None:
    """On a segment the type's own properties are usable by bare name (filters.py)."""
    params = {} if filter_ is None else {"$filter": filter_}
    body = client.get(f"{TASKS_PATH}/{cast}", params=params).json()
    assert body["@odata.context"] == f"https://graph.microsoft.com/beta/$metadata#{TASKS_PATH[6:]}/{cast}"
    assert dataset.names(body) == names


@pytest.mark.parametrize(
    ("name", "cast", "status"),
    [
        ("charlie", AVT, 200),
        ("Bravo", AVT, 404),
        ("alpha", SCT, 404),
        ("delta", BASE, 200),
        ("Bravo", SCT, 200),
    ],
)
def test_type_cast_segment_on_one_task(
    dataset: Dataset, client: httpx.Client, name: str, cast: str, status: int
) -> None:
    """A task of another type is not found through the cast, as OData says of a failed cast."""
    task_id = dataset.ids[name]
    response = client.get(f"{TASKS_PATH}/{task_id}/{cast}")
    assert response.status_code == status, response.text
    body = response.json()
    if status == 404:
        assert body["error"]["code"] == "ResourceNotFound"
        # Intune's JSON-in-string message (docs/graph-behaviour.md, "Errors"), naming the key that missed.
        assert (
            f"deviceAppManagementTask '{task_id}' was not found"
            in json.loads(body["error"]["message"])["Message"]
        )
        return
    assert body["id"] == task_id
    context = f"https://graph.microsoft.com/beta/$metadata#{TASKS_PATH[6:]}/{cast}/$entity"
    assert body["@odata.context"] == context


def test_unknown_type_cast_segment_is_400(client: httpx.Client) -> None:
    response = client.get(f"{TASKS_PATH}/microsoft.graph.nope")
    assert_bad_request(response, "Resource not found for the segment 'microsoft.graph.nope'.")


# --- option names: `$` optional, case, repeats, unknown ---


@pytest.mark.parametrize(
    "params",
    [
        [("filter", "status eq 'pending'"), ("orderby", "displayName desc"), ("top", "2"), ("count", "true")],
        [
            ("$FILTER", "status eq 'pending'"),
            ("$OrderBy", "displayName desc"),
            ("$Top", "2"),
            ("$count", "true"),
        ],
    ],
    ids=["no-dollar", "any-case"],
)
def test_dollar_prefix_is_optional(
    dataset: Dataset, client: httpx.Client, params: list[tuple[str, str]]
) -> None:
    """On beta the `$` prefix is optional (docs/graph-behaviour.md, "Query options")."""
    body = client.get(TASKS_PATH, params=tuple(params)).json()
    assert body["@odata.count"] == 3
    assert dataset.names(body) == ["echo", "charlie"]
    assert dataset.walk(client, TASKS_PATH, dict(params)) == ["echo", "charlie", "alpha"]


@pytest.mark.parametrize(
    ("query", "option"),
    [
        ("$filter=status eq 'pending'&$filter=status eq 'active'", "$filter"),
        ("$top=1&top=2", "$top"),
        ("$select=id&$SELECT=id", "$select"),
        ("orderby=id&orderby=id", "$orderby"),
    ],
)
def test_a_repeated_option_is_400(client: httpx.Client, query: str, option: str) -> None:
    response = client.get(f"{TASKS_PATH}?{query}")
    assert_bad_request(
        response,
        f"Query option '{option}' was specified more than once, but it must be specified at most once.",
    )


INTUNE_NOT_ALLOWED = (
    "The query specified in the URI is not valid. Query option '{}' is not allowed. To allow it, set the "
    "'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings."
)


@pytest.mark.parametrize(
    ("path", "query", "option"),
    [
        ("", '$search="antivirus"', "Search"),
        ("", "search=antivirus", "Search"),
        ("/$count", "$search=antivirus", "Search"),
        ("/$count", "$top=1", "Top"),
        ("/$count", "$orderby=displayName", "OrderBy"),
        ("/{id}", "$filter=status eq 'pending'", "Filter"),
        ("/{id}", "$skiptoken=x", "SkipToken"),
    ],
)
def test_options_an_operation_does_not_serve_get_intunes_message(
    dataset: Dataset, client: httpx.Client, path: str, query: str, option: str
) -> None:
    url = TASKS_PATH + path.replace("{id}", dataset.ids["alpha"]) + "?" + query
    assert_bad_request(client.get(url), INTUNE_NOT_ALLOWED.format(option))


def test_an_unknown_dollar_option_is_400_and_a_custom_one_is_ignored(client: httpx.Client) -> None:
    assert_bad_request(client.get(f"{TASKS_PATH}?$nope=1"), "The query parameter '$nope' is not supported.")
    assert client.get(f"{TASKS_PATH}?nope=1").status_code == 200


# --- values the model does not know, and syntax errors ---


def unknown(name: str, type_name: str = BASE) -> str:
    return f"Could not find a property named '{name}' on type '{type_name}'."


@pytest.mark.parametrize(
    ("path", "option", "value", "message"),
    [
        ("", "$filter", "nope eq 1", unknown("nope")),
        ("", "$filter", "managedDeviceCount eq 1", unknown("managedDeviceCount")),  # derived: needs a cast
        ("", "$filter", f"{SCT}/appName eq 'x'", unknown("appName", SCT)),
        (
            "",
            "$filter",
            f"{SCT}/intendedSettings/any(s: s/nope eq 'x')",
            unknown("nope", "microsoft.graph.keyValuePair"),
        ),
        ("", "$orderby", "displayName,nope desc", unknown("nope")),
        ("", "$orderby", "insights", unknown("insights")),
        ("", "$select", "id,nope", unknown("nope")),
        (f"/{AVT}", "$filter", "intendedSettings/any()", unknown("intendedSettings", AVT)),
        (f"/{AVT}", "$select", "appName,insights,nope", unknown("nope", AVT)),
    ],
)
def test_an_unknown_property_is_400_naming_it(
    client: httpx.Client, path: str, option: str, value: str, message: str
) -> None:
    assert_bad_request(client.get(TASKS_PATH + path, params={option: value}), message)


@pytest.mark.parametrize(
    ("filter_", "message"),
    [
        ("status eq", "Expression expected at position 9 in 'status eq'."),
        ("status eq 'pending' and", "Expression expected at position 23 in 'status eq 'pending' and'."),
        ("(status eq 'pending'", "')' expected at position 20 in '(status eq 'pending''."),
        ("status eq 'pending')", "Syntax error at position 19 in 'status eq 'pending')'."),
        ("status # 1", "Syntax error: character '#' is not valid at position 7 in 'status # 1'."),
        (
            "startswith(displayName, 'a'",
            "')' or ',' expected at position 27 in 'startswith(displayName, 'a''.",
        ),
        ("", "Expression expected at position 0 in ''."),
    ],
)
def test_a_filter_syntax_error_is_400_naming_the_position(
    client: httpx.Client, filter_: str, message: str
) -> None:
    assert_bad_request(client.get(TASKS_PATH, params={"$filter": filter_}), message)


# --- $skiptoken ---


def skiptoken(client: httpx.Client, path: str = "", **params: str) -> str:
    """The $skiptoken of the first nextLink of a query with pages of one task."""
    body = client.get(TASKS_PATH + path, params={"$top": "1", **params}).json()
    token: str = dict(parse_qsl(urlsplit(body["@odata.nextLink"]).query))["$skiptoken"]
    return token


def tampered_payload(token: str) -> str:
    """The token with other sort-key values but its original signature."""
    payload, _, mac = token.partition(".")
    keys = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    keys[-1] = "ffffffff-ffff-4fff-bfff-ffffffffffff"  # past every id
    forged = base64.urlsafe_b64encode(json.dumps(keys, separators=(",", ":")).encode()).rstrip(b"=")
    return f"{forged.decode()}.{mac}"


def tampered_signature(token: str) -> str:
    payload, _, mac = token.partition(".")
    return f"{payload}.{('A' if mac[0] != 'A' else 'B') + mac[1:]}"


PENDING = {"$filter": "status eq 'pending'"}


@pytest.mark.parametrize(
    ("make_token", "path", "params"),
    [
        (lambda token: "abc.def", "", PENDING),
        (lambda token: "not base64!", "", PENDING),
        (lambda token: token.partition(".")[0], "", PENDING),  # no signature at all
        (tampered_payload, "", PENDING),
        (tampered_signature, "", PENDING),
        (lambda token: token, "", {"$filter": "status eq 'active'"}),  # replayed with another filter
        (lambda token: token, "", {}),  # ... without the filter
        (lambda token: token, "", {**PENDING, "$orderby": "displayName"}),  # ... with another order
        (lambda token: token, f"/{SCT}", PENDING),  # ... on a type-cast segment
    ],
    ids=[
        "forged",
        "not-base64",
        "unsigned",
        "tampered-payload",
        "tampered-signature",
        "other-filter",
        "no-filter",
        "other-orderby",
        "other-cast",
    ],
)
def test_a_skiptoken_is_only_valid_for_its_own_query(
    client: httpx.Client, make_token: Callable[[str], str], path: str, params: dict[str, str]
) -> None:
    token = skiptoken(client, **PENDING)
    # The untouched token on its own query is accepted: the 400s below are about the change.
    assert client.get(TASKS_PATH, params={**PENDING, "$top": "1", "$skiptoken": token}).status_code == 200
    response = client.get(TASKS_PATH + path, params={**params, "$top": "1", "$skiptoken": make_token(token)})
    assert_bad_request(response, "The $skiptoken value is not valid for this request.")


def test_a_skiptoken_is_only_valid_for_its_own_tenant(dataset: Dataset, client: httpx.Client) -> None:
    token = skiptoken(client, **PENDING)
    server = dataset.server
    with server.client(server.token(tenant=str(uuid.uuid4()))) as stranger:
        response = stranger.get(TASKS_PATH, params={**PENDING, "$top": "1", "$skiptoken": token})
    assert_bad_request(response, "The $skiptoken value is not valid for this request.")


# --- the SDK's URL encoding, and nextLinks ---


@pytest.mark.parametrize(
    ("query", "names"),
    [
        # As the SDK sends it (docs/graph-behaviour.md, "Requests the SDK sends"): %20 and %27,
        # literal commas in list options, `$` literal.
        (
            "$count=true&$filter=status%20eq%20%27pending%27%20and%20category%20eq%20%27advancedThreatProtection%27"
            "&$orderby=displayName%20desc,createdDateTime&$select=id,displayName,status,priority&$top=2",
            ["echo"],
        ),
        # A comma inside $filter is %2C; $count=false and $skip=0 are sent too.
        (
            "$count=false&$filter=status%20in%20(%27pending%27%2C%27active%27)&$orderby=displayName&$skip=0&$top=2",
            ["Bravo", "alpha", "charlie", "echo"],
        ),
        # Form encoding: `+` for a space.
        ("$filter=status+eq+'pending'&$orderby=displayName+desc&$top=2", ["echo", "charlie", "alpha"]),
        # The name percent-encoded, as the URI template writes it before the SDK's decoding handler.
        ("%24filter=status%20eq%20%27pending%27&%24top=2", ["alpha", "charlie", "echo"]),
    ],
    ids=["sdk-verbatim", "sdk-comma-count-false-skip-0", "plus-for-space", "encoded-dollar"],
)
def test_sdk_style_and_form_encodings_are_accepted(
    dataset: Dataset, client: httpx.Client, query: str, names: list[str]
) -> None:
    assert dataset.walk(client, f"{TASKS_PATH}?{query}") == names


def test_next_link_is_absolute_and_keeps_every_other_option(dataset: Dataset, client: httpx.Client) -> None:
    params = [
        ("$filter", "status ne 'rejected'"),
        ("$orderby", "displayName desc,createdDateTime"),
        ("$select", "id,displayName"),
        ("$top", "2"),
        ("$skip", "1"),
        ("$count", "true"),
        ("custom", "kept, too"),
    ]
    kept = sorted(p for p in params if p[0] != "$skip")
    url: str | None = f"{dataset.server.url}{TASKS_PATH}"
    pages: list[list[str]] = []
    while url is not None:
        body = client.get(url, params=None if pages else tuple(params)).json()
        assert body["@odata.count"] == 5
        assert body["@odata.context"].endswith("deviceAppManagementTasks(id,displayName)")
        pages.append(dataset.names(body))
        url = body.get("@odata.nextLink")
        if url is not None:
            assert url.startswith(f"{dataset.server.url}{TASKS_PATH}?")
            query = parse_qsl(urlsplit(url).query)
            assert sorted(p for p in query if p[0] != "$skiptoken") == kept
            assert [p[0] for p in query].count("$skiptoken") == 1
    assert pages == [["delta", "charlie"], ["alpha", "Bravo"]]


def test_next_link_keeps_the_type_cast_segment(dataset: Dataset, client: httpx.Client) -> None:
    body = client.get(f"{TASKS_PATH}/{SCT}", params={"top": "1"}).json()
    link = body["@odata.nextLink"]
    assert urlsplit(link).path == f"{TASKS_PATH}/{SCT}"
    assert dict(parse_qsl(urlsplit(link).query))["top"] == "1"
    assert dataset.names(body) + dataset.names(client.get(link).json()) == ["Bravo", "echo"]
