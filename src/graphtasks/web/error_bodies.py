"""Graph's error answer for a GraphError: `{"error": {"code", "message", "innerError"}}` with the
request's ids and the date, Intune's JSON-in-string message where Intune sends one
(docs/graph-behaviour.md, "Errors")."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request

from graphtasks.errors import GraphError
from graphtasks.web.responses import GraphResponse


def error_response(request: Request, exc: GraphError) -> GraphResponse:
    body = error_body(
        exc,
        request_id=request_state(request, "request_id"),
        client_request_id=request_state(request, "client_request_id"),
        url=str(request.url),
    )
    return GraphResponse(
        exc.status, (orjson.dumps(body),), headers=exc.headers, media_type="application/json"
    )


def error_body(exc: GraphError, *, request_id: str, client_request_id: str, url: str) -> dict[str, Any]:
    message = _intune_message(exc.message, client_request_id, url) if exc.intune_envelope else exc.message
    inner: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
        **exc.inner_error_extra,
    }
    if exc.message_in_inner_error:
        inner["message"] = message
    return {"error": {"code": exc.code, "message": message, "innerError": inner}}


def _intune_message(message: str, activity_id: str, url: str) -> str:
    """Intune's JSON-in-string error message (docs/graph-behaviour.md, "Errors"), indented with CRLF
    like .NET's."""
    document = {
        "_version": 3,
        "Message": f"{message} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000"
        f" - Activity ID: {activity_id} - Url: {url}",
        "CustomApiErrorPhrase": "",
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    return json.dumps(document, indent=2).replace("\n", "\r\n")


def request_state(request: Request, name: str) -> str:
    """The request-id (or client-request-id) the context middleware put on the request; a fresh one if
    the request never went through it."""
    value = request.scope.get("state", {}).get(name)
    return value if isinstance(value, str) else str(uuid.uuid4())
