"""The OpenAPI 3.0.3 description of the Graph operations graphtasks serves under /beta, generated.

Nothing here is a copy: the operations come from the route table (web/openapi_operations.py reads it,
expanding each type-cast and navigation segment into the concrete paths the model serves); the schemas
of the model's types from model/jsonschema.py (a read view and closed create and update views of each
entity type), the error responses from errors.py, the query options from odata/options.py. A handler
this module cannot describe is a KeyError while the document is built, so a new route cannot go
undocumented.

Owns the rest: paths, operations, parameters, responses, headers, Graph's error envelope, security,
and the instance annotations the web layer adds to the model's entities, which model/jsonschema.py
lists but does not know: `@odata.etag`, with the ETag header, If-None-Match (304) on reads and
If-Match (412) on writes (web/etags.py, a graphtasks extension), and the updateStatus note. The
operations outside the route table ($batch, $metadata, openapi.json, the identity endpoints) are
web/openapi_operations.py's `service_paths`.

Every status an operation can answer is listed: besides its own, those of the connection limits (414,
431), of an overloaded server (503) and, on Graph operations, of throttling and injected faults (429,
503, 504, with Retry-After when the wait is known).

Pure: builds a dict; serves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from graphtasks import __version__, errors
from graphtasks.clouds import GRAPH_APP_ID
from graphtasks.config import DEFAULT_TENANT
from graphtasks.model import schema as model
from graphtasks.model.jsonschema import (
    INT32_MAX,
    Annotations,
    navigation_paths,
    object_schema,
    page_schema,
    property_paths,
    read_schema,
    ref,
    string,
    type_schemas,
    write_schema,
)
from graphtasks.model.records import STATUS_NOTE_ANNOTATION
from graphtasks.odata.options import MAX_PAGE_SIZE
from graphtasks.web.openapi_operations import (
    LIMITS,
    MINIMAL,
    REPRESENTATION,
    STATUS_NOTE,
    TRAFFIC,
    VERSION,
    Operation,
    component,
    json_response,
    operations,
    response,
    service_paths,
    service_schemas,
    tag,
)
from graphtasks.web.routes import TASK

JSON = dict[str, Any]
ERRORS = "microsoft.graph.ODataErrors"

_TASK = TASK.removeprefix(VERSION)
# The Graph application id's scope names Graph in every cloud (clouds.py: Cloud.default_scopes).
_SCOPE = f"{GRAPH_APP_ID}/.default"
# Annotations a client may send back from an answer (the SDK does on a round-trip PATCH); ignored.
_ECHOED = {"@odata.context": "Ignored.", "@odata.etag": "The entity's weak ETag (web/etags.py)."}
_HEADERS = {  # name -> description; the ones naming an entity hold a URL
    "request-id": "The request's id, repeated in an error's innerError.",
    "client-request-id": "The client-request-id sent, or else the request-id.",
    "Location": "The URL of the entity created.",
    "OData-EntityId": "The URL of the entity created.",
    "ETag": "The entity's weak ETag, as its @odata.etag.",
    "Preference-Applied": "The Prefer value applied.",
    "WWW-Authenticate": "Graph's Bearer challenge.",
    "Allow": "The methods the path serves.",
    "Retry-After": "Seconds to wait before retrying, when the server knows.",
}
_OPTIONAL_HEADERS = {"Retry-After"}
# The headers errors.py's Unauthorized, MethodNotAllowed and Retryable carry.
_ERROR_HEADERS = {401: ("WWW-Authenticate",), 405: ("Allow",), **dict.fromkeys(TRAFFIC, ("Retry-After",))}
_KEYS = {"task_id": "The task's id, a GUID.", "child_id": "The navigation entity's id, a GUID."}
_OPTIONS = {  # name -> description, in the order the parameters are listed
    "filter": "An OData $filter expression (README, Querying).",
    "select": "The properties to return; a derived type's with its cast prefix.",
    "orderby": "Sort keys; `id` always follows as the last one.",
    "top": f"The page size; a value above {MAX_PAGE_SIZE} is capped to {MAX_PAGE_SIZE}.",
    "skip": "Items to skip, once: the nextLink continues after them.",
    "count": "Whether to add @odata.count, over all pages.",
    "expand": "The navigation collections to return inline.",
    "skiptoken": "An opaque continuation token, from @odata.nextLink.",
}


def openapi_document(server_url: str) -> JSON:
    """The description of every Graph operation, for a server at `server_url` (no trailing slash).
    Deterministic: the same dict, key order included, for the same `server_url`."""
    server_url = server_url.rstrip("/")
    ops = operations()
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "graphtasks: Microsoft Graph beta deviceAppManagementTasks",
            "version": __version__,
            "description": "A self-hostable stand-in for Intune's deviceAppManagementTasks on Graph beta. "
            "Errors use Graph's envelope; every answer carries request-id and client-request-id.",
            "license": {"name": "MIT"},
        },
        "servers": [{"url": f"{server_url}{VERSION}", "description": "Graph beta, as graphtasks serves it"}],
        "security": [{"bearer": []}, {"oauth2": [_SCOPE]}],
        "tags": [{"name": tag} for tag in dict.fromkeys([*(tag(op) for op in ops), *_SERVICE_TAGS])],
        "paths": _paths(ops) | service_paths(server_url, _failures),
        "components": {
            "schemas": _schemas(),
            "responses": _error_responses(),
            "headers": {name: _header(text, name) for name, text in _HEADERS.items()},
            "securitySchemes": _security_schemes(server_url),
        },
    }


# --- paths and operations ---


def _paths(operations: Iterable[Operation]) -> JSON:
    paths: JSON = {}
    for op in operations:
        if op.path not in paths:
            keys = [_key_parameter(name) for name in re.findall(r"\{(\w+)\}", op.path)]
            paths[op.path] = {"parameters": keys} if keys else {}
        paths[op.path][op.method.lower()] = _operation(op)
    return paths


def _key_parameter(name: str) -> JSON:
    schema = {"type": "string", "format": "uuid"}
    return {"name": name, "in": "path", "required": True, "description": _KEYS[name], "schema": schema}


def _operation(op: Operation) -> JSON:
    verb = _VERBS[op.kind.verb]
    body, responses = verb.describe(op)
    what = f"the {op.navigation} of a task" if op.navigation else model.TASKS_SEGMENT
    operation: JSON = {
        "operationId": op.operation_id,
        "summary": verb.summary.format(what) + (f", as {op.cast.name}" if op.cast else ""),
        "description": f"Needs one of the permissions {', '.join(op.access.value)}.",
        "tags": [tag(op)],
    }
    if parameters := [*_query_parameters(op), *_header_parameters(op, verb)]:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    statuses = [400, 401, 403, *LIMITS, *TRAFFIC]
    statuses += [404] if op.path.startswith(_TASK) else []  # the task, or its entity, may not exist
    statuses += [412] if verb.condition == "If-Match" else []
    statuses += [413, 415] if body is not None else []
    operation["responses"] = dict(sorted({**responses, **_failures(statuses)}.items()))
    return operation


_SERVICE_TAGS = ("$batch", "documents", "identity")


def _failures(statuses: Iterable[int]) -> JSON:
    """Graph's error answers for `statuses`, by reference, in order."""
    return {str(status): component(_error_name(status), "responses") for status in sorted(set(statuses))}


Described = tuple[JSON | None, JSON]  # (request body schema or None, success responses)


def _list(op: Operation) -> Described:
    page = page_schema(op.read_types)
    return None, {"200": json_response("A page; @odata.nextLink, if present, is the next one.", page)}


def _count(op: Operation) -> Described:
    count = {"text/plain": {"schema": {"type": "integer", "format": "int32", "minimum": 0}}}
    return None, {"200": response("The number of items that match $filter.", count)}


def _get(op: Operation) -> Described:
    unchanged = response("Unchanged since the ETag If-None-Match names.", headers=("ETag",))
    return None, {
        "200": json_response("The entity.", read_schema(op.read_types), ("ETag",)),
        "304": unchanged,
    }


def _create(op: Operation) -> Described:
    entity = read_schema(op.read_types)
    responses = {"201": json_response("Created: the entity as stored.", entity, ("Location", "ETag"))}
    if MINIMAL in op.kind.prefer:
        headers = ("Location", "OData-EntityId", "Preference-Applied")
        responses["204"] = response(f"Created, under Prefer: {MINIMAL}.", headers=headers)
    return write_schema(op.write_types, "Create"), responses


def _update(op: Operation) -> Described:
    responses = {"204": response("Updated: properties left out keep their values.")}
    if REPRESENTATION in op.kind.prefer:
        text = f"Updated, under Prefer: {REPRESENTATION}: the entity as stored."
        responses["200"] = json_response(text, read_schema(op.read_types), ("ETag", "Preference-Applied"))
    return write_schema(op.write_types, "Update"), responses


def _delete(op: Operation) -> Described:
    return None, {"204": response("Deleted, and with a task its navigation entities.")}


def _action(op: Operation) -> Described:
    body = ref(f"{model.UPDATE_STATUS.qualified_name}RequestBody")
    return body, {"204": response(f"Done; the note is shown under Prefer: {STATUS_NOTE}.")}


@dataclass(frozen=True)
class _Verb:
    summary: str
    describe: Callable[[Operation], Described]
    condition: str | None = None  # the conditional-request header it honours (web/etags.py)


_VERBS = {
    "list": _Verb("List {}", _list),
    "count": _Verb("Count {}", _count),
    "get": _Verb("Get one of {}", _get, "If-None-Match"),
    "create": _Verb("Create one of {}", _create),
    "update": _Verb("Update one of {}", _update, "If-Match"),
    "delete": _Verb("Delete one of {}", _delete, "If-Match"),
    "action": _Verb("Set the status of one of {} (updateStatus)", _action, "If-Match"),
}


def _query_parameters(op: Operation) -> list[JSON]:
    if unknown := op.kind.options - _OPTIONS.keys():
        raise KeyError(f"no description of the query options {sorted(unknown)}")
    parameters: list[JSON] = []
    for name in (name for name in _OPTIONS if name in op.kind.options):
        schema = _option_schema(op, name)
        # An OData list is one comma-separated value.
        style = {"style": "form", "explode": False} if schema["type"] == "array" else {}
        parameters.append({"name": f"${name}", "in": "query", "description": _OPTIONS[name], **style})
        parameters[-1]["schema"] = schema
    return parameters


def _option_schema(op: Operation, name: str) -> JSON:
    if name in {"top", "skip"}:  # non-negative Int32s, as ODataLib reads them
        return {"type": "integer", "format": "int32", "minimum": 0, "maximum": INT32_MAX}
    if name in {"filter", "skiptoken", "count"}:
        return {"type": "boolean" if name == "count" else "string"}
    # A task collection's derived types are named with their cast; a navigation's have none.
    paths = partial(property_paths, op.read_types, casts=op.navigation is None)
    values = {
        "select": lambda: [*paths(orderable=False), "*"],
        "orderby": lambda: [f"{p}{o}" for p in paths(orderable=True) for o in ("", " desc")],
        "expand": lambda: [*navigation_paths(op.read_types[0]), "*"],
    }[name]()
    return {"type": "array", "minItems": 1, "items": {"type": "string", "enum": values}}


def _header_parameters(op: Operation, verb: _Verb) -> list[JSON]:
    parameters = []
    if verb.condition is not None:
        text = "An ETag, a list of them, or `*` (a graphtasks extension: Intune has no ETags)."
        parameters.append({"name": verb.condition, "in": "header", "description": text, "schema": string()})
    if op.kind.prefer:
        schema = {"type": "string", "enum": list(op.kind.prefer)}
        parameters.append({"name": "Prefer", "in": "header", "description": "RFC 7240.", "schema": schema})
    return parameters


# --- responses, headers, security ---


def _header(description: str, name: str) -> JSON:
    schema = string("uri") if name in {"Location", "OData-EntityId"} else string()
    return {"description": description, "required": name not in _OPTIONAL_HEADERS, "schema": schema}


def _error_classes() -> dict[int, list[type[errors.GraphError]]]:
    """errors.py's classes by status, in the order it defines them."""
    by_status: dict[int, list[type[errors.GraphError]]] = {}
    for value in vars(errors).values():
        if isinstance(value, type) and issubclass(value, errors.GraphError) and value.status != 500:
            by_status.setdefault(value.status, []).append(value)
    return by_status


def _error_name(status: int) -> str:
    return _error_classes()[status][0].__name__


def _error_responses() -> JSON:
    responses = {}
    for status, classes in _error_classes().items():
        codes = ", ".join(dict.fromkeys(c.code for c in classes))
        text = f"{HTTPStatus(status).phrase}; Graph error code {codes}."
        responses[classes[0].__name__] = json_response(
            text, ref(f"{ERRORS}.ODataError"), _ERROR_HEADERS.get(status, ())
        )
    return responses


def _security_schemes(server_url: str) -> JSON:
    token_url = f"{server_url}/{DEFAULT_TENANT}/oauth2/v2.0/token"
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token of graphtasks' issuer (`graphtasks token`) or of a trusted one; "
            "an application's permissions are its `roles`, a user's its `scp`.",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Client credentials of an app (`graphtasks apps add`). The token URL names the "
            f"default tenant, {DEFAULT_TENANT}: put another tenant's id in its place.",
            "flows": {
                "clientCredentials": {"tokenUrl": token_url, "scopes": {_SCOPE: "The app's permissions."}}
            },
        },
    }


# --- schemas ---


def _schemas() -> JSON:
    return type_schemas(_annotations()) | _error_schemas() | service_schemas()


def _annotations() -> Annotations:
    note = f"The note of the last updateStatus, under Prefer: {STATUS_NOTE}."
    return Annotations(
        read={"@odata.etag": _ECHOED["@odata.etag"]}, echoed=_ECHOED, bound={STATUS_NOTE_ANNOTATION: note}
    )


def _error_schemas() -> JSON:
    date = string(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
    inner = {"date": date, "request-id": string(), "client-request-id": string(), "message": string()}
    message = string(description="Intune's 403 and 404 carry a JSON document serialized in this string.")
    main = {"code": string(), "message": message, "innerError": ref(f"{ERRORS}.InnerError")}
    envelope = {"error": ref(f"{ERRORS}.MainError")}
    return {
        f"{ERRORS}.ODataError": object_schema(
            "ODataError", "Graph's error envelope.", envelope, required=["error"]
        ),
        f"{ERRORS}.MainError": object_schema("MainError", "The error.", main, required=[*main]),
        f"{ERRORS}.InnerError": object_schema(
            "InnerError", "When, and which request.", inner, required=[*inner][:3]
        ),
    }
