"""The operations web/openapi.py describes, in two parts.

The Graph operations under /beta: the rows of the route table (web/routes.py: OPERATIONS), each
type-cast and navigation segment expanded into the concrete paths the model serves, each handler given
its kind (what it does, the query options it reads, the Prefer values it honours). HEAD, which the
service answers wherever it answers GET, has no row and is left out.

The service's other operations, written out as path items (`service_paths`): `$batch` (beta and v1.0,
web/batch.py), `$metadata` and `openapi.json` (web/documents.py), and the identity platform's face
(web/discovery.py), whose errors are OAuth's, not Graph's. The admin endpoints (web/admin.py) are left
out: they are the operator's, outside Graph's URL space, guarded by a key no Graph client holds.

Serves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from graphtasks.auth.permissions import Access
from graphtasks.model import schema as model
from graphtasks.model.records import STATUS_NOTE_ANNOTATION
from graphtasks.model.types import NAMESPACE, EntityType
from graphtasks.odata.options import COUNT_OPTIONS, ENTITY_OPTIONS, LIST_OPTIONS
from graphtasks.web.routes import CAST, NAVIGATION, OPERATIONS

VERSION = "/beta"  # every row's path starts with it; the server URL carries it, the paths do not
MINIMAL, REPRESENTATION = "return=minimal", "return=representation"
STATUS_NOTE = f'odata.include-annotations="{STATUS_NOTE_ANNOTATION.removeprefix("@")}"'
_NAVIGATIONS = tuple(dict.fromkeys(n.name for t in model.TASK_TYPES for n in t.navigation))


@dataclass(frozen=True)
class Kind:
    """What a handler does, as far as its description goes."""

    verb: str
    options: frozenset[str] = frozenset()  # the system query options it reads
    prefer: tuple[str, ...] = ()  # the Prefer values it honours


# One line per handler of web/handlers.py and web/navigation.py.
KINDS = {
    "list_tasks": Kind("list", LIST_OPTIONS, (STATUS_NOTE,)),
    "create_task": Kind("create", prefer=(MINIMAL, STATUS_NOTE)),
    "count_tasks": Kind("count", COUNT_OPTIONS),
    "get_task": Kind("get", ENTITY_OPTIONS, (STATUS_NOTE,)),
    "update_task": Kind("update", prefer=(REPRESENTATION, STATUS_NOTE)),
    "delete_task": Kind("delete"),
    "update_status": Kind("action"),
    # A navigation collection has no $expand below it, and its entity takes $select alone.
    "list_children": Kind("list", LIST_OPTIONS - {"expand"}),
    "create_child": Kind("create"),
    "count_children": Kind("count", COUNT_OPTIONS),
    "get_child": Kind("get", frozenset({"select"})),
    "update_child": Kind("update", prefer=(REPRESENTATION,)),
    "delete_child": Kind("delete"),
}


@dataclass(frozen=True)
class Operation:
    path: str  # below /beta, with the cast and navigation segments made concrete
    method: str
    handler: str
    access: Access
    cast: EntityType | None
    navigation: str | None
    qualified: bool  # the namespace-qualified spelling of an action

    @property
    def kind(self) -> Kind:
        return KINDS[self.handler]

    @property
    def operation_id(self) -> str:
        parts = (self.handler, self.cast and self.cast.name, self.navigation, self.qualified and "qualified")
        return "_".join(part for part in parts if part)

    @property
    def read_types(self) -> tuple[EntityType, ...]:
        """The entity types an answer holds: a union where a navigation's target depends on the task."""
        if self.navigation is not None:
            return _targets(self.cast, self.navigation)
        return (self.cast or model.DEVICE_APP_MANAGEMENT_TASK,)

    @property
    def write_types(self) -> tuple[EntityType, ...]:
        return model.TASK_TYPES if self.navigation is None else _targets(self.cast, self.navigation)


def operations() -> list[Operation]:
    operations: list[Operation] = []
    for row in OPERATIONS:
        assert row.path.startswith(VERSION)  # noqa: S101 - Graph's operations are beta ones
        operations += _expand(row.path.removeprefix(VERSION), row.method, row.handler, row.access)
    return operations


def _expand(path: str, method: str, handler: str, access: Access) -> Iterator[Operation]:
    """One operation per type-cast and navigation segment the model serves at a templated path."""
    last = path.rsplit("/", 1)[-1]
    qualified = last.startswith(f"{NAMESPACE}.") and "{" not in last
    for cast in model.TASK_TYPES if CAST in path else (None,):
        for navigation in _NAVIGATIONS if NAVIGATION in path else (None,):
            if navigation is not None and not _targets(cast, navigation):
                continue  # the cast type has no such navigation: a 400
            concrete = path.replace(CAST, cast.qualified_name) if cast else path
            concrete = concrete.replace(NAVIGATION, navigation) if navigation else concrete
            yield Operation(concrete, method, handler, access, cast, navigation, qualified)


def _targets(cast: EntityType | None, navigation: str) -> tuple[EntityType, ...]:
    owners = (cast,) if cast else model.TASK_TYPES
    return tuple(dict.fromkeys(t for owner in owners if (t := model.navigation_target(owner, navigation))))


def tag(op: Operation) -> str:
    return model.TASKS_SEGMENT if op.navigation is None else f"{model.TASKS_SEGMENT}.{op.navigation}"


# --- the service's other operations ---

JSON = dict[str, Any]
TRACE_HEADERS = ("request-id", "client-request-id")
# Statuses any request may get before it reaches its handler: the connection limits (414, 431) and an
# overloaded server (503); a Graph operation may also be throttled or get an injected fault.
LIMITS = (414, 431, 503)
TRAFFIC = (429, 503, 504)
BATCH, BATCH_ANSWER = "microsoft.graph.BatchRequestContent", "microsoft.graph.BatchResponseContent"
OAUTH_ERROR = "graphtasks.identity.OAuthError"
Failures = Callable[[Iterable[int]], JSON]  # statuses -> their error responses, by reference


def component(name: str, section: str) -> JSON:
    return {"$ref": f"#/components/{section}/{name}"}


def response(description: str, content: JSON | None = None, headers: Iterable[str] = ()) -> JSON:
    answer: JSON = {"description": description}
    answer["headers"] = {name: component(name, "headers") for name in (*TRACE_HEADERS, *headers)}
    return answer | ({"content": content} if content else {})


def json_response(description: str, schema: JSON, headers: Iterable[str] = ()) -> JSON:
    return response(description, {"application/json": {"schema": schema}}, headers)


def service_paths(server_url: str, failures: Failures) -> JSON:
    """The path items of $batch, the documents and the identity endpoints; those not below /beta name
    their own servers."""
    versions = [{"url": f"{server_url}/{v}", "description": f"Graph {v}"} for v in ("beta", "v1.0")]
    root = [{"url": server_url, "description": "The identity platform, as graphtasks serves it"}]
    tenant = {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}
    tenant["description"] = "The tenant's id (a GUID); the token endpoint takes no other form."
    return {
        "/$batch": {"servers": versions, "post": _batch(failures)},
        "/$metadata": {"get": _document("get_metadata", "The OData CSDL.", "application/xml", failures)},
        "/openapi.json": {"get": _document("get_openapi", "This document.", "application/json", failures)},
        "/common/discovery/instance": {"servers": root, "get": _instance_discovery(failures)},
        "/{tenant}/v2.0/.well-known/openid-configuration": {
            "servers": root,
            "parameters": [tenant],
            "get": _identity("get_openid_configuration", "The tenant's OpenID configuration.", failures),
        },
        "/{tenant}/discovery/v2.0/keys": {
            "servers": root,
            "parameters": [tenant],
            "get": _identity("get_jwks", "The keys tokens are signed with (JWKS).", failures),
        },
        "/{tenant}/oauth2/v2.0/token": {"servers": root, "parameters": [tenant], "post": _token(failures)},
    }


def _batch(failures: Failures) -> JSON:
    schema = component(BATCH_ANSWER, "schemas")
    answer = json_response("The answers, one per request, whatever their statuses.", schema)
    return {
        "operationId": "batch",
        "summary": "Send up to 20 requests in one (JSON batching)",
        "description": "Each request needs its own permission; a request whose dependency failed gets 424.",
        "tags": ["$batch"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": component(BATCH, "schemas")}},
        },
        "responses": {"200": answer, **failures((400, 401, 413, 415, *LIMITS, *TRAFFIC))},
    }


def _document(operation_id: str, summary: str, media_type: str, failures: Failures) -> JSON:
    schema = {"type": "string"} if media_type == "application/xml" else {"type": "object"}
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["documents"],
        "security": [],
        "responses": {"200": response(summary, {media_type: {"schema": schema}}), **failures(LIMITS)},
    }


def _identity(operation_id: str, summary: str, failures: Failures, *, schema: str = "") -> JSON:
    answer = {"type": "object"} if not schema else component(schema, "schemas")
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["identity"],
        "security": [],
        "responses": {"200": json_response(summary, answer), **failures(LIMITS)},
    }


def _instance_discovery(failures: Failures) -> JSON:
    operation = _identity("discover_instance", "Where an authority's OpenID configuration is.", failures)
    text = "An authorize URL, https://{host}/{tenant}/oauth2/v2.0/authorize (MSAL's question)."
    operation["parameters"] = [
        {"name": "authorization_endpoint", "in": "query", "description": text, "schema": {"type": "string"}}
    ]
    operation["responses"]["400"] = _oauth_error("An authorize URL that names no tenant.")
    return operation


def _token(failures: Failures) -> JSON:
    operation = _identity(
        "get_token",
        "A token, for a client secret or assertion.",
        failures,
        schema="graphtasks.identity.Token",
    )
    form = component("graphtasks.identity.TokenRequest", "schemas")
    operation["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": form}},
    }
    operation["responses"]["400"] = _oauth_error("A request the identity platform refuses.")
    operation["responses"]["401"] = _oauth_error("A client credential that is missing or wrong.")
    operation["responses"]["413"] = _oauth_error("A form over 64 KiB, refused before it is read.")
    operation["responses"]["504"] = _oauth_error("The registry's answer took past the statement time limit.")
    operation["responses"] = dict(sorted(operation["responses"].items()))
    return operation


def _oauth_error(description: str) -> JSON:
    return json_response(f"{description} OAuth's error body.", component(OAUTH_ERROR, "schemas"))


def service_schemas() -> JSON:
    strings = {"type": "string"}
    headers = {"type": "object", "additionalProperties": {"type": "string"}}
    method = {"type": "string", "enum": ["GET", "POST", "PATCH", "PUT", "DELETE"]}
    item = {
        "id": {"type": "string", "minLength": 1},
        "method": method,
        "url": {"type": "string", "minLength": 1, "description": "Relative to the version, or absolute."},
        "headers": headers,
        "body": {"description": "JSON, or base64 text; needs a Content-Type header."},
        "dependsOn": {"type": "array", "items": strings},
    }
    answer = {"id": strings, "status": {"type": "integer"}, "headers": headers, "body": {}}
    items = component(f"{BATCH}Item", "schemas")
    return {
        BATCH: _object({"requests": {"type": "array", "minItems": 1, "maxItems": 20, "items": items}}),
        f"{BATCH}Item": _object(item, ["id", "method", "url"]),
        BATCH_ANSWER: _object({"responses": {"type": "array", "items": _object(answer, ["id", "status"])}}),
        **_identity_schemas(),
    }


def _identity_schemas() -> JSON:
    strings, integer = {"type": "string"}, {"type": "integer"}
    fields = (
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "client_assertion_type",
        "client_assertion",
    )
    error = {
        "error": strings,
        "error_description": strings,
        "error_codes": {"type": "array", "items": integer},
        "timestamp": strings,
        "trace_id": strings,
        "correlation_id": strings,
    }
    token = {"token_type": strings, "expires_in": integer, "ext_expires_in": integer, "access_token": strings}
    return {
        "graphtasks.identity.TokenRequest": {
            "type": "object",
            "properties": {name: dict(strings) for name in fields},
        },
        "graphtasks.identity.Token": _object(token),
        OAUTH_ERROR: {"type": "object", "properties": error, "required": ["error", "error_description"]},
    }


def _object(properties: JSON, required: list[str] | None = None) -> JSON:
    """An object with these properties; all of them required unless `required` names some."""
    return {
        "type": "object",
        "properties": properties,
        "required": [*properties] if required is None else required,
    }
