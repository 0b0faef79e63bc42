"""The OpenAPI document (web/openapi.py) without a server: a valid OpenAPI 3.0.3 document, one that
describes every route of the route table and no other, $batch, the documents and the identity endpoints,
every type of the model, every status an operation can answer, and request-body schemas that accept
exactly the bodies model/validation.py accepts."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from openapi_spec_validator import validate as validate_spec
from starlette.routing import Match, Route
from starlette.types import ASGIApp

from graphtasks.auth.permissions import Access
from graphtasks.config import DEFAULT_TENANT, Settings
from graphtasks.errors import GraphError, ModelValidationFailure
from graphtasks.model.schema import (
    COMPLEX_TYPES,
    ENUM_TYPES,
    NAVIGATION_TARGETS,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
)
from graphtasks.model.validation import validate_create, validate_update, validate_update_status
from graphtasks.web.discovery import discovery_routes
from graphtasks.web.documents import document_routes
from graphtasks.web.openapi import openapi_document
from graphtasks.web.openapi_operations import VERSION
from graphtasks.web.requests import GraphRequest
from graphtasks.web.routes import GraphHandler, batch_routes
from tests.support.examples import FOUNDING_REQUEST
from tests.unit.test_dispatch import reference_routes

SERVER = "http://127.0.0.1:8000"
DOCUMENT = openapi_document(SERVER)
SCHEMAS = DOCUMENT["components"]["schemas"]
TASKS = "/deviceAppManagement/deviceAppManagementTasks"
KEY = "8d5b8f2e-2f7a-4f5e-9d7c-0a1b2c3d4e5f"


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method.upper(), operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method not in {"parameters", "servers"}
    ]


# The operations outside the route table (web/openapi_operations.py: service_paths).
SERVICE = {
    "batch",
    "get_metadata",
    "get_openapi",
    "discover_instance",
    "get_openid_configuration",
    "get_jwks",
    "get_token",
}


def graph_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(p, m, o) for p, m, o in operations() if o["operationId"] not in SERVICE]


def operation(operation_id: str) -> dict[str, Any]:
    return next(op for _, _, op in operations() if op["operationId"] == operation_id)


def test_document_is_valid_openapi_3_0() -> None:
    assert DOCUMENT["openapi"] == "3.0.3"
    validate_spec(DOCUMENT)


def test_document_is_deterministic_and_names_the_server() -> None:
    assert json.dumps(openapi_document(SERVER)) == json.dumps(DOCUMENT)
    assert DOCUMENT["servers"] == [
        {"url": f"{SERVER}/beta", "description": "Graph beta, as graphtasks serves it"}
    ]


class StandIn:
    def __getattr__(self, name: str) -> Callable[[GraphRequest], Coroutine[Any, Any, ASGIApp]]:
        async def handler(request: GraphRequest) -> ASGIApp:
            raise NotImplementedError

        handler.__name__ = name
        return handler


def passthrough(access: Access | None, handler: GraphHandler) -> GraphHandler:
    return handler


# The route table's rows as Starlette routes, with the segment rules of the dispatcher, which
# tests/unit/test_dispatch.py holds to them.
ROUTES = reference_routes()


def routed(path: str, method: str) -> Route | None:
    """The route that serves a documented path, its keys filled in."""
    concrete = VERSION + path.replace("{task_id}", KEY).replace("{child_id}", KEY)
    scope = {"type": "http", "path": concrete, "root_path": "", "method": method}
    return next((r for r in ROUTES if r.matches(scope)[0] is Match.FULL), None)


@pytest.mark.parametrize(
    ("path", "method", "operation_id"), [(p, m, o["operationId"]) for p, m, o in graph_operations()]
)
def test_every_documented_operation_is_served_by_its_route(path: str, method: str, operation_id: str) -> None:
    route = routed(path, method)
    assert route is not None
    assert operation_id == route.name or operation_id.startswith(f"{route.name}_")


def test_every_route_and_method_is_documented() -> None:
    served = {(route.path, method) for route in ROUTES for method in (route.methods or set()) - {"HEAD"}}
    documented = set()
    for path, method, _ in graph_operations():
        route = routed(path, method)
        assert route is not None
        documented.add((route.path, method))
    assert documented == served


def service_routes() -> list[Route]:
    """The routes outside the route table, with stand-ins for what they would call."""
    nothing: Any = None
    return [
        *batch_routes(StandIn().batch, passthrough),
        *document_routes(Settings()),
        *discovery_routes(nothing, Settings(), nothing, calls=nothing),
    ]


def served_at(path: str) -> list[str]:
    """The concrete paths, version or none included, that a documented path names."""
    servers = DOCUMENT["paths"][path].get("servers", DOCUMENT["servers"])
    concrete = path.replace("{tenant}", DEFAULT_TENANT)
    return [server["url"].removeprefix(SERVER) + concrete for server in servers]


def test_every_other_route_is_documented_and_no_more() -> None:
    routes = service_routes()
    documented = set()
    for path, method, op in operations():
        if op["operationId"] not in SERVICE:
            continue
        for concrete in served_at(path):
            scope = {"type": "http", "path": concrete, "root_path": "", "method": method}
            route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
            assert route is not None, (concrete, method)
            documented.add((route.path, method))
    assert documented == {(r.path, m) for r in routes for m in (r.methods or set()) - {"HEAD"}}


def test_batch_is_served_in_both_versions_and_its_schema_takes_a_batch() -> None:
    assert served_at("/$batch") == ["/beta/$batch", "/v1.0/$batch"]
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": "/deviceAppManagement/deviceAppManagementTasks"},
            {
                "id": "2",
                "method": "POST",
                "url": "/deviceAppManagement/deviceAppManagementTasks",
                "headers": {"Content-Type": "application/json"},
                "body": {"displayName": "x"},
                "dependsOn": ["1"],
            },
        ]
    }
    assert documented("batch", batch)
    assert not documented("batch", {"requests": []})
    assert not documented("batch", {"requests": [{"id": "1", "method": "GET"}]})


def test_documents_and_identity_endpoints_need_no_token() -> None:
    for _, _, op in operations():
        if op["operationId"] in SERVICE - {"batch"}:
            assert op["security"] == [], op["operationId"]
    assert "security" not in operation("batch")


def test_retry_after_is_optional() -> None:
    assert DOCUMENT["components"]["headers"]["Retry-After"]["required"] is False


def test_enums_are_string_enums_in_declared_order() -> None:
    for enum in ENUM_TYPES:
        assert SCHEMAS[enum.qualified_name] == {
            "title": enum.name,
            "type": "string",
            "enum": list(enum.members),
        }


def test_every_type_has_its_schemas_with_all_its_properties() -> None:
    for complex_type in COMPLEX_TYPES:
        assert set(SCHEMAS[complex_type.qualified_name]["properties"]) == {
            "@odata.type",
            *(p.name for p in complex_type.properties),
        }
    for entity_type in (*TASK_TYPES, *NAVIGATION_TARGETS):
        for view in ("Create", "Update"):
            properties = SCHEMAS[f"{entity_type.qualified_name}{view}"]["properties"]
            assert {p.name for p in entity_type.properties} <= set(properties)
        read = SCHEMAS[entity_type.qualified_name]
        own = read["allOf"][1] if entity_type.base else read
        assert {p.name for p in entity_type.own_properties} <= set(own["properties"])
        assert f"{entity_type.qualified_name}CollectionResponse" in SCHEMAS


def test_derived_tasks_inherit_through_all_of_and_a_discriminator() -> None:
    base, *derived = TASK_TYPES
    mapping = SCHEMAS[base.qualified_name]["discriminator"]
    assert mapping == {
        "propertyName": "@odata.type",
        "mapping": {t.odata_type: f"#/components/schemas/{t.qualified_name}" for t in TASK_TYPES},
    }
    for task_type in derived:
        assert SCHEMAS[task_type.qualified_name]["allOf"][0] == {
            "$ref": f"#/components/schemas/{base.qualified_name}"
        }


def request_schema(operation_id: str) -> dict[str, Any]:
    schema = operation(operation_id)["requestBody"]["content"]["application/json"]["schema"]
    return {**schema, "components": DOCUMENT["components"]}


def documented(operation_id: str, body: object) -> bool:
    return bool(OAS30WriteValidator(request_schema(operation_id)).is_valid(body))


def accepted(validate: Callable[[object], object], body: object) -> bool:
    try:
        validate(body)
    except (GraphError, ModelValidationFailure):
        return False
    return True


def test_founding_example_fits_the_create_schema() -> None:
    OAS30WriteValidator(request_schema("create_task")).validate(FOUNDING_REQUEST)


SCT = "#microsoft.graph.securityConfigurationTask"
UDDT = "microsoft.graph.unmanagedDeviceDiscoveryTask"


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        (FOUNDING_REQUEST, True),
        ({}, True),
        ({"displayName": "x", "dueDateTime": "2017-01-01T00:02:18.1994089-08:00"}, True),
        ({"@odata.type": "#microsoft.graph.appVulnerabilityTask", "appName": "x", "mobileAppCount": 3}, True),
        ({"@odata.type": UDDT, "unmanagedDevices": [{"os": "Windows"}]}, True),
        ({"appName": "x"}, False),  # a derived property on the base type
        ({"@odata.type": "#microsoft.graph.nope"}, False),
        ({"status": "done"}, False),
        ({"status": None}, False),
        ({"displayName": 3}, False),
        ({"dueDateTime": "yesterday"}, False),
        ({"@odata.type": SCT, "managedDeviceCount": 65537}, False),
        ({"@odata.type": SCT, "intendedSettings": None}, False),
        # The items may be null (the model's items_nullable), and nothing else but a keyValuePair.
        ({"@odata.type": SCT, "intendedSettings": [None]}, True),
        ({"@odata.type": SCT, "intendedSettings": [{"name": "n"}, None]}, True),
        ({"@odata.type": UDDT, "unmanagedDevices": [None, {"os": "Windows"}]}, True),
        ({"@odata.type": SCT, "intendedSettings": [{}]}, False),
        ({"@odata.type": SCT, "intendedSettings": ["null"]}, False),
        ({"@odata.type": SCT, "intendedSettings": [{"value": "v"}]}, False),  # name has no default
        ({"@odata.type": SCT, "intendedSettings": [{"name": "n", "other": 1}]}, False),
        ([], False),
    ],
)
def test_create_schema_accepts_what_the_server_accepts(body: object, valid: bool) -> None:
    assert (documented("create_task", body), accepted(validate_create, body)) == (valid, valid)


@pytest.mark.parametrize(
    ("body", "in_document", "on_server"),
    [
        ({"assignedTo": "secops@contoso.com"}, True, True),
        ({"@odata.type": SCT, "insights": "x"}, True, True),
        ({"@odata.type": "#microsoft.graph.deviceAppManagementTask", "status": "active"}, True, True),
        ({"insights": None, "intendedSettings": []}, True, True),
        ({"intendedSettings": [None, {"name": "n"}]}, True, True),
        ({"intendedSettings": None}, False, False),
        ({"managedDeviceCount": -1}, False, False),
        ({"@odata.type": "#microsoft.graph.appVulnerabilityTask"}, False, False),
        # Looser than the server: naming the base type limits a body to the base's properties.
        ({"@odata.type": "#microsoft.graph.deviceAppManagementTask", "insights": "x"}, True, False),
    ],
)
def test_update_schema_accepts_what_the_server_accepts(
    body: object, in_document: bool, on_server: bool
) -> None:
    # On a securityConfigurationTask: the schema of its own type (the operation's anyOf holds all four).
    schema = {"$ref": f"#/components/schemas/{SECURITY_CONFIGURATION_TASK.qualified_name}Update"}
    valid = OAS30WriteValidator({**schema, "components": DOCUMENT["components"]}).is_valid(body)
    assert (valid, accepted(lambda b: validate_update(b, SECURITY_CONFIGURATION_TASK), body)) == (
        in_document,
        on_server,
    )


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"status": "completed", "note": "patched"}, True),
        ({"status": "active", "note": None}, True),
        ({"note": "x"}, False),
        ({"status": "done"}, False),
        ({"status": "active", "reason": "x"}, False),
    ],
)
def test_update_status_schema_accepts_what_the_server_accepts(body: object, valid: bool) -> None:
    assert (documented("update_status", body), accepted(validate_update_status, body)) == (valid, valid)


def test_read_schema_takes_an_answer_with_every_property() -> None:
    answer = {**FOUNDING_REQUEST, "id": KEY, "createdDateTime": "2026-01-01T00:00:00Z", "managedDevices": []}
    answer["intendedSettings"] = [
        {**FOUNDING_REQUEST["intendedSettings"][0], "@odata.type": "#microsoft.graph.keyValuePair"}
    ]
    schema = {"$ref": f"#/components/schemas/{SECURITY_CONFIGURATION_TASK.qualified_name}"}
    OAS30ReadValidator({**schema, "components": DOCUMENT["components"]}).validate(answer)


# Every Graph operation: the connection limits, throttling, faults and an overloaded server.
COMMON = ["414", "429", "431", "503", "504"]


@pytest.mark.parametrize(
    ("operation_id", "statuses"),
    [
        ("list_tasks", ["200", "400", "401", "403", *COMMON]),
        ("create_task", ["201", "204", "400", "401", "403", "413", "415", *COMMON]),
        ("count_tasks", ["200", "400", "401", "403", *COMMON]),
        ("get_task", ["200", "304", "400", "401", "403", "404", *COMMON]),
        ("update_task", ["200", "204", "400", "401", "403", "404", "412", "413", "415", *COMMON]),
        ("delete_task", ["204", "400", "401", "403", "404", "412", *COMMON]),
        ("update_status", ["204", "400", "401", "403", "404", "412", "413", "415", *COMMON]),
        ("update_status_qualified", ["204", "400", "401", "403", "404", "412", "413", "415", *COMMON]),
        (
            "update_status_securityConfigurationTask",
            ["204", "400", "401", "403", "404", "412", "413", "415", *COMMON],
        ),
        (
            "update_status_deviceAppManagementTask_qualified",
            ["204", "400", "401", "403", "404", "412", "413", "415", *COMMON],
        ),
        (
            "create_child_appVulnerabilityTask_mobileApps",
            ["201", "400", "401", "403", "404", "413", "415", *COMMON],
        ),
        (
            "update_child_managedDevices",
            ["200", "204", "400", "401", "403", "404", "412", "413", "415", *COMMON],
        ),
        ("batch", ["200", "400", "401", "413", "414", "415", "429", "431", "503", "504"]),
        ("get_metadata", ["200", "414", "431", "503"]),
        ("get_jwks", ["200", "414", "431", "503"]),
        ("discover_instance", ["200", "400", "414", "431", "503"]),
        ("get_token", ["200", "400", "401", "413", "414", "431", "503", "504"]),
    ],
)
def test_operation_statuses(operation_id: str, statuses: list[str]) -> None:
    assert sorted(operation(operation_id)["responses"]) == sorted(statuses)


def test_create_answers_201_with_location() -> None:
    created = operation("create_task")["responses"]["201"]
    assert created["headers"]["Location"] == {"$ref": "#/components/headers/Location"}
    assert DOCUMENT["components"]["headers"]["Location"]["required"] is True


@pytest.mark.parametrize(
    ("operation_id", "headers"),
    [
        ("list_tasks", ["Prefer"]),
        ("create_task", ["Prefer"]),
        ("get_task", ["If-None-Match", "Prefer"]),
        ("update_task", ["If-Match", "Prefer"]),
        ("delete_task", ["If-Match"]),
        ("update_status", ["If-Match"]),
        ("update_status_appVulnerabilityTask_qualified", ["If-Match"]),
        ("get_child_mobileApps", ["If-None-Match"]),
        ("update_child_mobileApps", ["If-Match", "Prefer"]),
        ("count_children_mobileApps", []),
    ],
)
def test_header_parameters(operation_id: str, headers: list[str]) -> None:
    parameters = operation(operation_id).get("parameters", [])
    assert [p["name"] for p in parameters if p["in"] == "header"] == headers


def test_entity_answers_carry_the_etag() -> None:
    for operation_id, status in [
        ("get_task", "200"),
        ("create_task", "201"),
        ("update_child_managedDevices", "200"),
    ]:
        assert "ETag" in operation(operation_id)["responses"][status]["headers"]
    for entity_type in (TASK_TYPES[0], *NAVIGATION_TARGETS):
        assert SCHEMAS[entity_type.qualified_name]["properties"]["@odata.etag"]["readOnly"] is True


def test_lists_are_pages_and_counts_are_text() -> None:
    page = SCHEMAS["microsoft.graph.deviceAppManagementTaskCollectionResponse"]
    assert list(page["properties"]) == ["@odata.context", "@odata.count", "@odata.nextLink", "value"]
    assert list(operation("count_tasks")["responses"]["200"]["content"]) == ["text/plain"]


@pytest.mark.parametrize(
    ("operation_id", "options"),
    [
        (
            "list_tasks",
            ["$filter", "$select", "$orderby", "$top", "$skip", "$count", "$expand", "$skiptoken"],
        ),
        ("count_tasks", ["$filter"]),
        ("get_task", ["$select", "$expand"]),
        (
            "list_children_mobileApps",
            ["$filter", "$select", "$orderby", "$top", "$skip", "$count", "$skiptoken"],
        ),
        ("get_child_managedDevices", ["$select"]),
        ("delete_task", []),
    ],
)
def test_query_options(operation_id: str, options: list[str]) -> None:
    parameters = operation(operation_id).get("parameters", [])
    assert [p["name"] for p in parameters if p["in"] == "query"] == options


@pytest.mark.parametrize(
    ("status", "name", "headers"),
    [
        (400, "BadRequest", []),
        (401, "Unauthorized", ["WWW-Authenticate"]),
        (403, "Forbidden", []),
        (404, "NotFound", []),
        (405, "MethodNotAllowed", ["Allow"]),
        (412, "PreconditionFailed", []),
        (413, "PayloadTooLarge", []),
        (414, "UriTooLong", []),
        (415, "UnsupportedMediaType", []),
        (429, "TooManyRequests", ["Retry-After"]),
        (431, "HeadersTooLarge", []),
        (503, "ServiceUnavailable", ["Retry-After"]),
        (504, "GatewayTimeout", ["Retry-After"]),
    ],
)
def test_errors_use_graphs_envelope(status: int, name: str, headers: list[str]) -> None:
    response = DOCUMENT["components"]["responses"][name]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/microsoft.graph.ODataErrors.ODataError"
    }
    assert list(response["headers"]) == ["request-id", "client-request-id", *headers]
    body = {
        "error": {
            "code": "BadRequest",
            "message": "m",
            "innerError": {"date": "2024-07-07T21:59:24", "request-id": KEY, "client-request-id": KEY},
        }
    }
    schema = {"$ref": "#/components/schemas/microsoft.graph.ODataErrors.ODataError"}
    OAS30ReadValidator({**schema, "components": DOCUMENT["components"]}).validate(body)


def test_security_bearer_jwt_or_client_credentials() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["bearer"] | {"description": ""} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "",
    }
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == f"{SERVER}/{DEFAULT_TENANT}/oauth2/v2.0/token"
    assert DOCUMENT["security"] == [{"bearer": []}, {"oauth2": list(flow["scopes"])}]
