"""Schemathesis against a live server, once per backend: generated requests, valid and invalid, for every
operation the OpenAPI document (web/openapi.py) describes, each answer checked for no 5xx and for the
status, content type, headers and body the document promises; then the answers fuzzing never provokes
(304, 401, 403, 405, 412, 413, 415), each checked the same way. Every error but the identity
platform's (OAuth's shape, by design) must be Graph's envelope, also inside a $batch answer.

The document's keys are GUIDs the server assigned, so a random one only finds a 404: most examples swap
in a task (of a type the path serves, with every property set) and a navigation entity made for that
example, so reads, PATCH, DELETE and updateStatus act on something; the rest keep the random key.
Schemathesis does not follow discriminators, so a task in a polymorphic answer is also checked against
the schema its `@odata.type` maps to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_schema_validator import OAS30ReadValidator
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from graphtasks.config import DEFAULT_TENANT
from graphtasks.model.schema import (
    APP_VULNERABILITY_TASK,
    DEVICE_APP_MANAGEMENT_TASK,
    NAVIGATION_NAMES,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
    TASK_TYPES_BY_NAME,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
)
from graphtasks.model.types import EntityType
from graphtasks.web.openapi import openapi_document
from graphtasks.web.openapi_operations import VERSION
from tests.support.examples import FOUNDING_REQUEST
from tests.support.server import Server

# The paths and schemas do not depend on the server's address; the requests name it.
DOCUMENT = openapi_document("http://127.0.0.1")
COMPONENTS = DOCUMENT["components"]
SCHEMA = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        # NUL characters are a documented 400 (PostgreSQL text cannot hold them); they would only
        # crowd out the requests that get further.
        {"generation": {"allow-x00": False, "with-security-parameters": False}}
    ),
)
TASKS = f"{VERSION}/deviceAppManagement/deviceAppManagementTasks"
EXAMPLES = 6  # per operation and generation mode: about 20 s per backend
# A task of each type with every property set, so that answers show every property with a value.
FULL_TASKS: dict[EntityType, dict[str, Any]] = {
    DEVICE_APP_MANAGEMENT_TASK: {
        "displayName": "d",
        "dueDateTime": "2030-01-01T00:00:00Z",
        "status": "active",
    },
    SECURITY_CONFIGURATION_TASK: FOUNDING_REQUEST,
    APP_VULNERABILITY_TASK: {
        "@odata.type": APP_VULNERABILITY_TASK.odata_type,
        "appName": "a",
        "appPublisher": "p",
        "appVersion": "1",
        "mitigationType": "update",
        "insights": "i",
        "managedDeviceCount": 1,
        "mobileAppCount": 2,
        "remediation": "r",
    },
    UNMANAGED_DEVICE_DISCOVERY_TASK: {
        "@odata.type": UNMANAGED_DEVICE_DISCOVERY_TASK.odata_type,
        "unmanagedDevices": [
            {"os": "Windows", "deviceName": "pc", "lastSeenDateTime": "2024-05-01T10:00:00Z"}
        ],
    },
}
FULL_CHILD = {"managedDeviceId": "m", "displayName": "d", "lastSyncDateTime": "2024-01-01T00:00:00Z"}
FULL_APP = {"mobileAppId": "m", "displayName": "d", "mobileAppType": "win32", "version": "1"}


# operationId -> the server bug it hits today (reported, not fixed here).
@pytest.fixture(scope="module")
def server(real_server: Server) -> Server:
    """`graphtasks serve` as a process: schemathesis sends its cases over the network."""
    return real_server


def entities_conform(ctx: CheckContext, response: schemathesis.Response, case: Case[Any]) -> bool | None:
    """Each entity of a JSON answer against the schema its @odata.type maps to."""
    if not response.headers.get("content-type", [""])[0].startswith("application/json"):
        return None
    body = response.json()
    for entity in body.get("value", [body]) if isinstance(body, dict) else []:
        name = str(entity.get("@odata.type", "")).removeprefix("#")
        if name in COMPONENTS["schemas"] and "error" not in entity:
            schema = {"$ref": f"#/components/schemas/{name}", "components": COMPONENTS}
            OAS30ReadValidator(schema).validate(entity)
    return None


# The identity endpoints answer OAuth's errors, as Entra's do, not Graph's.
OAUTH_OPERATIONS = frozenset({"discover_instance", "get_openid_configuration", "get_jwks", "get_token"})
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")


def graph_error_problem(body: object) -> str | None:
    """What keeps `body` from being Graph's error envelope; None when it is one."""
    if not isinstance(body, dict):
        return f"not a JSON object: {body!r:.300}"
    error = body.get("error")
    if not isinstance(error, dict) or set(body) != {"error"}:
        return f"not {{'error': {{...}}}}: {body!r:.300}"
    if not (isinstance(error.get("code"), str) and error["code"]) or not isinstance(
        error.get("message"), str
    ):
        return f"no code or message: {error!r:.300}"
    inner = error.get("innerError")
    if not isinstance(inner, dict) or not all(isinstance(inner.get(k), str) for k in _INNER_KEYS):
        return f"innerError lacks {_INNER_KEYS}: {inner!r:.300}"
    return None if _DATE.match(inner["date"]) else f"innerError.date {inner['date']!r}"


_INNER_KEYS = ("date", "request-id", "client-request-id")


def graph_errors(ctx: CheckContext, response: schemathesis.Response, case: Case[Any]) -> bool | None:
    """Every 4xx/5xx answer, and every failed request inside a $batch answer, is Graph's envelope."""
    if case.operation.definition.raw.get("operationId") in OAUTH_OPERATIONS:
        return None
    if response.status_code >= 400:
        problem = graph_error_problem(_json_or_text(response))
        assert problem is None, f"{response.status_code}: {problem}"
    elif case.operation.path == "/$batch" and response.status_code == 200:
        for item in response.json()["responses"]:
            if item["status"] >= 400:
                problem = graph_error_problem(item.get("body"))
                assert problem is None, f"batch item {item['status']}: {problem}"
    return None


def _json_or_text(response: schemathesis.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    entities_conform,
    graph_errors,
]


def operation_params() -> Iterator[Any]:
    """(path, operationId, mode) of every operation; negative only where there is something to negate."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method in {"parameters", "servers"}:
                continue
            # A tenant can be any string, and a form any fields: nothing to negate there.
            body = operation.get("requestBody", {}).get("content", {})
            inputs = "{task_id}" in path or "parameters" in operation or "application/json" in body
            for mode in (
                (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if inputs else (GenerationMode.POSITIVE,)
            ):
                yield pytest.param(
                    path, operation["operationId"], mode, id=f"{operation['operationId']}-{mode}"
                )


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.mark.parametrize(("path", "operation_id", "mode"), list(operation_params()))
def test_operation_conforms(
    server: Server, http: httpx.Client, path: str, operation_id: str, mode: GenerationMode
) -> None:
    operation = SCHEMA.find_operation_by_id(operation_id)
    owners = owner_types(path)
    headers = {"Authorization": http.headers["Authorization"]}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Case[Any], data: st.DataObject) -> None:
        # A negative key may well name another route ($count, a cast); only valid ones are sent.
        keyed = "{task_id}" in path and (mode is GenerationMode.NEGATIVE or data.draw(st.integers(0, 3)) > 0)
        if keyed:
            case.path_parameters = real_keys(http, path, data.draw(st.sampled_from(owners)))
        case.call_and_validate(base_url=base_url(server, path), headers=headers, checks=CHECKS)

    run()


def base_url(server: Server, path: str) -> str:
    """Where the document's `path` is served: below /beta, or below its own first server (the identity
    endpoints at the root; $batch's first is /beta too)."""
    servers = DOCUMENT["paths"][path].get("servers", DOCUMENT["servers"])
    return server.url + str(servers[0]["url"]).removeprefix("http://127.0.0.1")


def owner_types(path: str) -> list[EntityType]:
    """The types a task at `path` may have: those of its cast segment that have its navigation."""
    segments = path.split("/")
    cast = next((TASK_TYPES_BY_NAME[s] for s in segments if s in TASK_TYPES_BY_NAME), None)
    navigation = next((s for s in segments if s in NAVIGATION_NAMES), None)
    return [
        t
        for t in TASK_TYPES
        if (cast is None or cast in t.ancestors())
        and (navigation is None or t.navigation_property(navigation))
    ]


def real_keys(http: httpx.Client, path: str, task_type: EntityType) -> dict[str, str]:
    """A new task of `task_type`, and a new entity in the path's navigation if the path has a key there."""
    task = created(http, TASKS, {"@odata.type": task_type.odata_type, **FULL_TASKS[task_type]})
    keys = {"task_id": task}
    if "{child_id}" in path:
        navigation = next(s for s in path.split("/") if s in NAVIGATION_NAMES)
        body = FULL_APP if navigation == "mobileApps" else FULL_CHILD
        keys["child_id"] = created(http, f"{TASKS}/{task}/{navigation}", body)
    return keys


def created(http: httpx.Client, url: str, body: dict[str, Any]) -> str:
    response = http.post(url, json=body)
    assert response.status_code == 201, response.text
    key = response.json()["id"]
    assert isinstance(key, str)
    return key


def conforms(operation_id: str, response: httpx.Response, *, expected: int, **keys: str) -> None:
    """`response` has the status expected, and is one the document describes for the operation."""
    assert response.status_code == expected, response.text
    case = SCHEMA.find_operation_by_id(operation_id).Case(path_parameters=keys)
    case.validate_response(response, checks=CHECKS)


def test_no_token_is_a_documented_401_and_a_read_token_a_documented_403(server: Server) -> None:
    with httpx.Client(base_url=server.url, transport=server.transport()) as anonymous:
        conforms("list_tasks", anonymous.get(TASKS), expected=401)
    with server.client(server.token(roles=("DeviceManagementApps.Read.All",))) as reader:
        conforms("create_task", reader.post(TASKS, json={}), expected=403)


def test_conditional_requests_answer_a_documented_304_and_412(http: httpx.Client) -> None:
    task = created(http, TASKS, {})
    etag = http.get(f"{TASKS}/{task}").headers["ETag"]
    unchanged = http.get(f"{TASKS}/{task}", headers={"If-None-Match": etag})
    conforms("get_task", unchanged, expected=304, task_id=task)
    http.patch(f"{TASKS}/{task}", json={"displayName": "changed"})
    stale = http.post(f"{TASKS}/{task}/updateStatus", json={"status": "active"}, headers={"If-Match": etag})
    conforms("update_status", stale, expected=412, task_id=task)


def test_a_body_that_is_not_json_is_a_documented_415(http: httpx.Client) -> None:
    response = http.post(TASKS, content=b"displayName=x", headers={"Content-Type": "text/plain"})
    conforms("create_task", response, expected=415)


def test_a_body_over_4_mib_is_a_documented_413(http: httpx.Client) -> None:
    task = created(http, TASKS, {})
    response = http.patch(f"{TASKS}/{task}", json={"displayName": "x" * (4 * 1024 * 1024)})
    conforms("update_task", response, expected=413, task_id=task)


def allow_params() -> Iterator[Any]:
    for path in DOCUMENT["paths"]:
        short = path.removeprefix("/deviceAppManagement/deviceAppManagementTasks") or "/"
        yield pytest.param(path, id=short)


@pytest.mark.parametrize("path", list(allow_params()))
def test_an_undocumented_method_is_a_405_that_allows_the_documented_ones(
    server: Server, http: httpx.Client, path: str
) -> None:
    key = "0c7b385a-6ae4-4837-87e2-24a2b782e1c6"
    concrete = path.replace("{task_id}", key).replace("{child_id}", key).replace("{tenant}", DEFAULT_TENANT)
    response = http.put(base_url(server, path) + concrete)
    documented = {m.upper() for m in DOCUMENT["paths"][path] if m not in {"parameters", "servers"}}
    assert response.status_code == 405
    error = COMPONENTS["responses"]["MethodNotAllowed"]["content"]["application/json"]["schema"]
    OAS30ReadValidator({**error, "components": COMPONENTS}).validate(response.json())
    assert set(response.headers["Allow"].split(", ")) - {"HEAD"} == documented
