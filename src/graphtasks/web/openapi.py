"""The OpenAPI 3.0.3 description of the Graph operations graphtasks serves under /beta, generated.

Nothing here is a copy: the paths come from the route table (web/routes.py: `graph_routes`, called with
stand-in endpoints and a guard that records each route's access level), each type-cast and navigation
segment expanded into the concrete paths the model serves; the schemas come from model/schema.py, the
error responses from errors.py, the query options from odata/options.py. A handler this module cannot
describe is a KeyError while the document is built, so a new route cannot go undocumented. HEAD, which
Starlette answers for every GET, is left out.

Each entity type has two views:
- `microsoft.graph.<type>`: what answers carry, shaped as in Graph's own OpenAPI: open objects, derived
  types as `allOf` their base, polymorphism through the `@odata.type` discriminator, nothing required
  but `@odata.type` (under $select any other property may be absent);
- `microsoft.graph.<type>Create` and `...Update`: what a request body may hold, flattened and closed
  (`additionalProperties: false`), since the server refuses an unknown property with a 400 and JSON
  Schema cannot close an `allOf`. Read-only properties are listed as such: sent, they are ignored.

The ETags of web/etags.py (a graphtasks extension) are described too: `@odata.etag` and the ETag
header, If-None-Match (304) on reads, If-Match (412) on writes.

Pure: builds a dict; serves nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from graphtasks import __version__, errors
from graphtasks.auth.permissions import Access
from graphtasks.clouds import GRAPH_APP_ID
from graphtasks.config import DEFAULT_TENANT
from graphtasks.model import schema as model
from graphtasks.model.schema import ComplexType, EntityType, EnumType, NavigationProperty, Property
from graphtasks.odata.options import COUNT_OPTIONS, ENTITY_OPTIONS, LIST_OPTIONS, MAX_PAGE_SIZE
from graphtasks.web.routes import CAST, NAVIGATION, TASK, GraphHandler, graph_routes
from graphtasks.web.serialization import STATUS_NOTE_ANNOTATION

JSON = dict[str, Any]
VERSION = "/beta"  # every route starts with it; the server URL carries it, the paths do not
ODATA_TYPE = "@odata.type"
ERRORS = "microsoft.graph.ODataErrors"
_ENTITY_TYPES = (*model.TASK_TYPES, *model.NAVIGATION_TARGETS)
_NAVIGATIONS = tuple(dict.fromkeys(n.name for t in model.TASK_TYPES for n in t.navigation))


def _template(path: str) -> str:
    """OpenAPI templates name parameters only: `{task_id:graphkey}` -> `{task_id}`."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


_TASK = _template(TASK.removeprefix(VERSION))
_INT32_MAX = 2**31 - 1
# OData's dateTimeOffsetValue in RFC 3339's form, with at most Graph's seven fractional digits and
# .NET's ±14:00 offsets: the form the server writes, and most of what model/edm.py reads (which also
# takes a time without seconds or offset, as the SDK sends it).
_DATETIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,7})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9]|[+-]14:00)$"
)
# The Graph application id's scope names Graph in every cloud (clouds.py: Cloud.default_scopes).
_SCOPE = f"{GRAPH_APP_ID}/.default"
_MINIMAL, _REPRESENTATION = "return=minimal", "return=representation"
_STATUS_NOTE = f'odata.include-annotations="{STATUS_NOTE_ANNOTATION.removeprefix("@")}"'
# Annotations a client may send back from an answer (the SDK does on a round-trip PATCH); ignored.
_ECHOED = {"@odata.context": "Ignored.", "@odata.etag": "The entity's weak ETag (web/etags.py)."}
_TRACE_HEADERS = ("request-id", "client-request-id")
_HEADERS = {  # name -> description; the ones naming an entity hold a URL
    "request-id": "The request's id, repeated in an error's innerError.",
    "client-request-id": "The client-request-id sent, or else the request-id.",
    "Location": "The URL of the entity created.",
    "OData-EntityId": "The URL of the entity created.",
    "ETag": "The entity's weak ETag, as its @odata.etag.",
    "Preference-Applied": "The Prefer value applied.",
    "WWW-Authenticate": "Graph's Bearer challenge.",
    "Allow": "The methods the path serves.",
}
# The headers errors.py's Unauthorized and MethodNotAllowed carry.
_ERROR_HEADERS = {401: ("WWW-Authenticate",), 405: ("Allow",)}
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


@dataclass(frozen=True)
class _Kind:
    """What a handler does, as far as its description goes."""

    verb: str
    options: frozenset[str] = frozenset()  # the system query options it reads
    prefer: tuple[str, ...] = ()  # the Prefer values it honours


# One line per handler of web/handlers.py and web/navigation.py.
_KINDS = {
    "list_tasks": _Kind("list", LIST_OPTIONS, (_STATUS_NOTE,)),
    "create_task": _Kind("create", prefer=(_MINIMAL, _STATUS_NOTE)),
    "count_tasks": _Kind("count", COUNT_OPTIONS),
    "get_task": _Kind("get", ENTITY_OPTIONS, (_STATUS_NOTE,)),
    "update_task": _Kind("update", prefer=(_REPRESENTATION, _STATUS_NOTE)),
    "delete_task": _Kind("delete"),
    "update_status": _Kind("action"),
    # A navigation collection has no $expand below it, and its entity takes $select alone.
    "list_children": _Kind("list", LIST_OPTIONS - {"expand"}),
    "create_child": _Kind("create"),
    "count_children": _Kind("count", COUNT_OPTIONS),
    "get_child": _Kind("get", frozenset({"select"})),
    "update_child": _Kind("update", prefer=(_REPRESENTATION,)),
    "delete_child": _Kind("delete"),
}


def openapi_document(server_url: str) -> JSON:
    """The description of every Graph operation, for a server at `server_url` (no trailing slash).
    Deterministic: the same dict, key order included, for the same `server_url`."""
    server_url = server_url.rstrip("/")
    operations = _operations()
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
        "tags": [{"name": tag} for tag in dict.fromkeys(_tag(op) for op in operations)],
        "paths": _paths(operations),
        "components": {
            "schemas": _schemas(),
            "responses": _error_responses(),
            "headers": {name: _header(text, name) for name, text in _HEADERS.items()},
            "securitySchemes": _security_schemes(server_url),
        },
    }


# --- the operations, read from the route table ---


@dataclass(frozen=True)
class _Operation:
    path: str  # below /beta, with the cast and navigation segments made concrete
    method: str
    handler: str
    access: Access
    cast: EntityType | None
    navigation: str | None
    qualified: bool  # the namespace-qualified spelling of an action

    @property
    def kind(self) -> _Kind:
        return _KINDS[self.handler]

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


@dataclass(frozen=True)
class _Recorded:
    """What the recording guard leaves in a route in place of the guarded handler."""

    access: Access | None
    handler: GraphHandler

    async def __call__(self, request: Request) -> Response:
        return await self.handler(request)


class _StandIn:
    """Stands in for the task and navigation handlers: each attribute is a handler with just a name."""

    def __getattr__(self, name: str) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(request: Request) -> Response:
            raise NotImplementedError(name)

        handler.__name__ = name
        return handler


def _operations() -> list[_Operation]:
    stand_in = _StandIn()
    operations: list[_Operation] = []
    for route in graph_routes(stand_in, stand_in, _Recorded):
        recorded = route.endpoint
        assert isinstance(recorded, _Recorded) and recorded.access is not None  # noqa: S101 - Graph routes
        assert route.path.startswith(VERSION)  # noqa: S101 - Graph routes are beta ones
        path = _template(route.path.removeprefix(VERSION))
        for method in sorted((route.methods or set()) - {"HEAD"}):
            operations += _expand(path, method, route.name, recorded.access)
    return operations


def _expand(path: str, method: str, handler: str, access: Access) -> Iterator[_Operation]:
    """One operation per type-cast and navigation segment the model serves at a templated path."""
    last = path.rsplit("/", 1)[-1]
    qualified = last.startswith(f"{model.NAMESPACE}.") and "{" not in last
    for cast in model.TASK_TYPES if _template(CAST) in path else (None,):
        for navigation in _NAVIGATIONS if _template(NAVIGATION) in path else (None,):
            if navigation is not None and not _targets(cast, navigation):
                continue  # the cast type has no such navigation: a 400
            concrete = path.replace(_template(CAST), cast.qualified_name) if cast else path
            concrete = concrete.replace(_template(NAVIGATION), navigation) if navigation else concrete
            yield _Operation(concrete, method, handler, access, cast, navigation, qualified)


def _targets(cast: EntityType | None, navigation: str) -> tuple[EntityType, ...]:
    owners = (cast,) if cast else model.TASK_TYPES
    return tuple(dict.fromkeys(t for owner in owners if (t := model.navigation_target(owner, navigation))))


def _derived(entity_type: EntityType) -> list[EntityType]:
    return [t for t in _ENTITY_TYPES if entity_type in t.ancestors() and t is not entity_type]


def _tag(op: _Operation) -> str:
    return model.TASKS_SEGMENT if op.navigation is None else f"{model.TASKS_SEGMENT}.{op.navigation}"


# --- paths and operations ---


def _paths(operations: Iterable[_Operation]) -> JSON:
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


def _operation(op: _Operation) -> JSON:
    verb = _VERBS[op.kind.verb]
    body, responses = verb.describe(op)
    what = f"the {op.navigation} of a task" if op.navigation else model.TASKS_SEGMENT
    operation: JSON = {
        "operationId": op.operation_id,
        "summary": verb.summary.format(what) + (f", as {op.cast.name}" if op.cast else ""),
        "description": f"Needs one of the permissions {', '.join(op.access.value)}.",
        "tags": [_tag(op)],
    }
    if parameters := [*_query_parameters(op), *_header_parameters(op, verb)]:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    statuses = [400, 401, 403]
    statuses += [404] if op.path.startswith(_TASK) else []  # the task, or its entity, may not exist
    statuses += [412] if verb.condition == "If-Match" else []
    statuses += [413, 415] if body is not None else []
    failures = {str(status): _ref(_error_name(status), "responses") for status in statuses}
    operation["responses"] = dict(sorted({**responses, **failures}.items()))
    return operation


Described = tuple[JSON | None, JSON]  # (request body schema or None, success responses)


def _list(op: _Operation) -> Described:
    types = op.read_types
    page = _ref(f"{types[0].qualified_name}CollectionResponse") if len(types) == 1 else _page(_read(op))
    return None, {"200": _json("A page; @odata.nextLink, if present, is the next one.", page)}


def _count(op: _Operation) -> Described:
    count = {"text/plain": {"schema": {"type": "integer", "format": "int32", "minimum": 0}}}
    return None, {"200": _response("The number of items that match $filter.", count)}


def _get(op: _Operation) -> Described:
    unchanged = _response("Unchanged since the ETag If-None-Match names.", headers=("ETag",))
    return None, {"200": _json("The entity.", _read(op), ("ETag",)), "304": unchanged}


def _create(op: _Operation) -> Described:
    responses = {"201": _json("Created: the entity as stored.", _read(op), ("Location", "ETag"))}
    if _MINIMAL in op.kind.prefer:
        headers = ("Location", "OData-EntityId", "Preference-Applied")
        responses["204"] = _response(f"Created, under Prefer: {_MINIMAL}.", headers=headers)
    return _write(op, "Create"), responses


def _update(op: _Operation) -> Described:
    responses = {"204": _response("Updated: properties left out keep their values.")}
    if _REPRESENTATION in op.kind.prefer:
        text = f"Updated, under Prefer: {_REPRESENTATION}: the entity as stored."
        responses["200"] = _json(text, _read(op), ("ETag", "Preference-Applied"))
    return _write(op, "Update"), responses


def _delete(op: _Operation) -> Described:
    return None, {"204": _response("Deleted, and with a task its navigation entities.")}


def _action(op: _Operation) -> Described:
    body = _ref(f"{model.UPDATE_STATUS.qualified_name}RequestBody")
    return body, {"204": _response(f"Done; the note is shown under Prefer: {_STATUS_NOTE}.")}


@dataclass(frozen=True)
class _Verb:
    summary: str
    describe: Callable[[_Operation], Described]
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


def _read(op: _Operation) -> JSON:
    types = op.read_types
    if len(types) == 1:
        return _ref(types[0].qualified_name)
    return {"oneOf": [_ref(t.qualified_name) for t in types], "discriminator": _discriminator(types)}


def _write(op: _Operation, mode: str) -> JSON:
    refs = [_ref(f"{t.qualified_name}{mode}") for t in op.write_types]
    if len(refs) == 1:
        return refs[0]
    # A create of a derived type must name it, so at most one create schema fits a body; an update, or
    # a create whose types need no @odata.type, may fit several (the task's own type decides).
    exclusive = mode == "Create" and sum(t.base is None for t in op.write_types) <= 1
    return {"oneOf" if exclusive else "anyOf": refs}


def _query_parameters(op: _Operation) -> list[JSON]:
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


def _option_schema(op: _Operation, name: str) -> JSON:
    if name in {"top", "skip"}:  # non-negative Int32s, as ODataLib reads them
        return {"type": "integer", "format": "int32", "minimum": 0, "maximum": _INT32_MAX}
    if name in {"filter", "skiptoken", "count"}:
        return {"type": "boolean" if name == "count" else "string"}
    values = {
        "select": lambda: [*_property_paths(op, orderable=False), "*"],
        "orderby": lambda: [f"{p}{o}" for p in _property_paths(op, orderable=True) for o in ("", " desc")],
        "expand": lambda: [*_expandable(op), "*"],
    }[name]()
    return {"type": "array", "minItems": 1, "items": {"type": "string", "enum": values}}


def _property_paths(op: _Operation, *, orderable: bool) -> list[str]:
    """A collection's properties, a derived type's with its cast; a collection cannot be ordered by."""
    types = op.read_types
    derived = _derived(types[0]) if op.navigation is None else []
    named: list[tuple[EntityType | None, Property]] = [(None, p) for t in types for p in t.properties]
    named += [(d, p) for d in derived for p in d.own_properties]
    paths = [
        f"{d.qualified_name}/{p.name}" if d else p.name for d, p in named if not (orderable and p.collection)
    ]
    return list(dict.fromkeys(paths))


def _expandable(op: _Operation) -> list[str]:
    """A navigation's bare name expands it on every task that has it; its cast form on one type."""
    family = [op.read_types[0], *_derived(op.read_types[0])]
    names = [n.name for t in family for n in t.navigation]
    return list(
        dict.fromkeys([*names, *(f"{t.qualified_name}/{n.name}" for t in family for n in t.navigation)])
    )


def _header_parameters(op: _Operation, verb: _Verb) -> list[JSON]:
    parameters = []
    if verb.condition is not None:
        text = "An ETag, a list of them, or `*` (a graphtasks extension: Intune has no ETags)."
        parameters.append({"name": verb.condition, "in": "header", "description": text, "schema": _string()})
    if op.kind.prefer:
        schema = {"type": "string", "enum": list(op.kind.prefer)}
        parameters.append({"name": "Prefer", "in": "header", "description": "RFC 7240.", "schema": schema})
    return parameters


# --- responses, headers, security ---


def _response(description: str, content: JSON | None = None, headers: Iterable[str] = ()) -> JSON:
    response: JSON = {"description": description}
    response["headers"] = {name: _ref(name, "headers") for name in (*_TRACE_HEADERS, *headers)}
    return response | ({"content": content} if content else {})


def _json(description: str, schema: JSON, headers: Iterable[str] = ()) -> JSON:
    return _response(description, {"application/json": {"schema": schema}}, headers)


def _header(description: str, name: str) -> JSON:
    schema = _string("uri") if name in {"Location", "OData-EntityId"} else _string()
    return {"description": description, "required": True, "schema": schema}


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
        responses[classes[0].__name__] = _json(
            text, _ref(f"{ERRORS}.ODataError"), _ERROR_HEADERS.get(status, ())
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
    schemas: JSON = {
        e.qualified_name: {"title": e.name, "type": "string", "enum": [*e.members]} for e in model.ENUM_TYPES
    }
    schemas |= {c.qualified_name: _complex_schema(c) for c in model.COMPLEX_TYPES}
    for t in _ENTITY_TYPES:
        schemas[t.qualified_name] = _read_schema(t)
        schemas[f"{t.qualified_name}CollectionResponse"] = {
            "title": f"{t.name} page",
            **_page(_ref(t.qualified_name)),
        }
    for t in _ENTITY_TYPES:
        schemas[f"{t.qualified_name}Create"] = _write_schema(t, update=False)
        schemas[f"{t.qualified_name}Update"] = _write_schema(t, update=True)
    schemas[f"{model.UPDATE_STATUS.qualified_name}RequestBody"] = _action_schema()
    return schemas | _error_schemas()


def _read_schema(t: EntityType) -> JSON:
    properties: JSON = {p.name: _property_schema(p) for p in t.own_properties}
    properties |= {n.name: _navigation_schema(t, n) for n in t.navigation}
    if t is model.UPDATE_STATUS.binding:
        text = f"The note of the last updateStatus, under Prefer: {_STATUS_NOTE}."
        properties[STATUS_NOTE_ANNOTATION] = _string(description=text, nullable=True, readOnly=True)
    if t.base is not None:
        # A derived type does not narrow @odata.type: code generators refuse a redefined property.
        own = {"type": "object", "properties": properties}
        return {"title": t.name, "description": t.description, "allOf": [_ref(t.base.qualified_name), own]}
    family = [t, *_derived(t)]
    annotations: JSON = {ODATA_TYPE: {"type": "string", "enum": [d.odata_type for d in family]}}
    annotations["@odata.etag"] = _string(description=_ECHOED["@odata.etag"], readOnly=True)
    schema = _object(t.name, t.description, annotations | properties, required=[ODATA_TYPE])
    return schema | ({"discriminator": _discriminator(family)} if len(family) > 1 else {})


def _write_schema(t: EntityType, *, update: bool) -> JSON:
    # A PATCH may name the task's own type or a base of it (model/validation.py: validate_update).
    names = [a.qualified_name for a in (t.ancestors() if update else (t,))]
    properties: JSON = {ODATA_TYPE: {"type": "string", "enum": [*(f"#{n}" for n in names), *names]}}
    properties |= {name: _string(description=text, readOnly=True) for name, text in _ECHOED.items()}
    properties |= {p.name: _property_schema(p) for p in t.properties}
    properties |= {n.name: _navigation_schema(t, n) for n in t.navigation}
    required = [ODATA_TYPE] if not update and t.base is not None else []  # without it: the base type
    mode = "update" if update else "create"
    description = f"A request body that {mode}s a {t.name}; read-only properties are ignored."
    return _object(f"{t.name} ({mode})", description, properties, required=required, closed=True)


def _complex_schema(c: ComplexType) -> JSON:
    """One schema for both directions: the server writes every member, and a request may leave out all
    but the non-nullable strings, which have no default (model/validation.py: _missing_complex_member)."""
    properties: JSON = {ODATA_TYPE: {"type": "string", "enum": [f"#{c.qualified_name}", c.qualified_name]}}
    properties |= {p.name: _property_schema(p) for p in c.properties}
    required = [p.name for p in c.properties if not p.nullable and p.type is model.STRING]
    return _object(c.name, c.description, properties, required=required, closed=True)


def _action_schema() -> JSON:
    action = model.UPDATE_STATUS
    parameters = [Property(p.name, p.type, p.nullable, f"The {p.name}.") for p in action.parameters]
    properties = {p.name: _property_schema(p) for p in parameters}
    required = [p.name for p in parameters if not p.nullable]
    title, description = f"{action.name} parameters", f"The parameters of {action.qualified_name}."
    return _object(title, description, properties, required=required, closed=True)


def _property_schema(p: Property) -> JSON:
    if p.collection:  # never null: empty, and a null is refused (model/validation.py)
        return {"type": "array", "description": p.description, "items": _type_schema(p)}
    if isinstance(p.type, EnumType | ComplexType):
        assert not p.nullable  # noqa: S101 - the model's enum-typed properties are all non-nullable
        return _type_schema(p)
    schema = {**_type_schema(p), "description": p.description}
    return schema | ({"nullable": True} if p.nullable else {}) | ({"readOnly": True} if p.read_only else {})


def _type_schema(p: Property) -> JSON:
    if isinstance(p.type, EnumType | ComplexType):
        return _ref(p.type.qualified_name)
    if p.type is model.INT32:
        low, high = p.value_range or (-_INT32_MAX - 1, _INT32_MAX)
        return {"type": "integer", "format": "int32", "minimum": low, "maximum": high}
    datetime = _string("date-time", pattern=_DATETIME_PATTERN)
    return {model.STRING: _string(), model.DATETIME_OFFSET: datetime}[p.type]


def _navigation_schema(owner: EntityType, navigation: NavigationProperty) -> JSON:
    target = model.navigation_target(owner, navigation.name)
    assert target is not None  # noqa: S101 - the owner's own navigation
    text = f"{navigation.description} Returned under $expand; ignored in a request body."
    return {"type": "array", "readOnly": True, "description": text, "items": _ref(target.qualified_name)}


def _page(item: JSON) -> JSON:
    properties = {
        "@odata.context": _string(),
        "@odata.count": {"type": "integer", "format": "int64", "minimum": 0},
        "@odata.nextLink": _string("uri", description="The next page; absent on the last one."),
        "value": {"type": "array", "items": item},
    }
    return {"type": "object", "required": ["@odata.context", "value"], "properties": properties}


def _error_schemas() -> JSON:
    date = _string(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")
    inner = {"date": date, "request-id": _string(), "client-request-id": _string(), "message": _string()}
    message = _string(description="Intune's 403 and 404 carry a JSON document serialized in this string.")
    main = {"code": _string(), "message": message, "innerError": _ref(f"{ERRORS}.InnerError")}
    envelope = {"error": _ref(f"{ERRORS}.MainError")}
    return {
        f"{ERRORS}.ODataError": _object(
            "ODataError", "Graph's error envelope.", envelope, required=["error"]
        ),
        f"{ERRORS}.MainError": _object("MainError", "The error.", main, required=[*main]),
        f"{ERRORS}.InnerError": _object(
            "InnerError", "When, and which request.", inner, required=[*inner][:3]
        ),
    }


# --- building blocks ---


def _object(
    title: str, description: str, properties: JSON, *, required: list[str], closed: bool = False
) -> JSON:
    schema: JSON = {"title": title, "description": description, "type": "object"}
    schema |= {"additionalProperties": False} if closed else {}
    return schema | ({"required": required} if required else {}) | {"properties": properties}


def _string(format_: str | None = None, **keywords: Any) -> JSON:
    return {"type": "string"} | ({"format": format_} if format_ else {}) | keywords


def _discriminator(types: Iterable[EntityType]) -> JSON:
    return {
        "propertyName": ODATA_TYPE,
        "mapping": {t.odata_type: _ref(t.qualified_name)["$ref"] for t in types},
    }


def _ref(name: str, section: str = "schemas") -> JSON:
    return {"$ref": f"#/components/{section}/{name}"}
