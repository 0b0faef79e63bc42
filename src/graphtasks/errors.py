"""The one error tree. Each class fixes its HTTP status and Graph error code
(docs/graph-behaviour.md, "Errors").

Code anywhere raises these; web/error_bodies.py is the single place that turns them into Graph's
`{"error": {...}}` body. Nothing here knows about HTTP frameworks.

    GraphError                      500 InternalServerError
    ├── BadRequest                  400 BadRequest
    │   ├── ModelValidationFailure  400 ModelValidationFailure (message repeated in innerError)
    │   ├── NoRouteMatch            400 No method match route template
    │   └── QueryOptionNotAllowed   400 BadRequest
    ├── Unauthorized                401 InvalidAuthenticationToken (+ WWW-Authenticate)
    ├── Forbidden                   403 Forbidden (Intune's JSON-in-string message)
    ├── NotFound                    404 ResourceNotFound (Intune's JSON-in-string message)
    ├── InvalidVersion              404 ResourceNotFound (gateway, plain message)
    ├── MethodNotAllowed            405 Request_BadRequest (+ Allow)
    ├── RequestTimeout              408 RequestTimeout (a slow client; web/http_protocol.py)
    ├── Conflict                    409 Conflict (an import naming a task id that exists)
    ├── PreconditionFailed          412 PreconditionFailed (If-Match; a graphtasks extension)
    ├── FailedDependency            424 FailedDependency ($batch: a request whose dependency failed)
    ├── PayloadTooLarge             413 RequestEntityTooLarge
    ├── UriTooLong                  414 RequestUriTooLong
    ├── UnsupportedMediaType        415 UnsupportedMediaType
    ├── HeadersTooLarge             431 RequestHeaderFieldsTooLarge
    └── Retryable                   (+ Retry-After when the wait is known)
        ├── TooManyRequests         429 TooManyRequests (Graph's throttling body)
        ├── ServiceUnavailable      503 ServiceUnavailable
        └── GatewayTimeout          504 GatewayTimeout
"""

from __future__ import annotations

from typing import ClassVar


class GraphError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "InternalServerError"
    # Intune answers some errors with a JSON document serialized inside `message`
    # (docs/graph-behaviour.md, "Errors").
    intune_envelope: ClassVar[bool] = False
    # Intune's 400 validation errors repeat the message inside innerError (same section).
    message_in_inner_error: ClassVar[bool] = False
    # Fields some errors add inside innerError, besides date and the request ids.
    inner_error_extra: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(GraphError):
    status, code = 400, "BadRequest"


class ModelValidationFailure(BadRequest):
    code = "ModelValidationFailure"
    message_in_inner_error = True


class NoRouteMatch(BadRequest):
    # Intune's answer for a path it knows but does not serve
    # (docs/graph-behaviour.md, "Navigation collections").
    code = "No method match route template"


class QueryOptionNotAllowed(BadRequest):
    def __init__(self, option: str) -> None:
        # Intune's ASP.NET OData wording for options a collection does not enable
        # (docs/graph-behaviour.md, "Query options").
        super().__init__(
            f"The query specified in the URI is not valid. Query option '{option}' is not allowed. "
            "To allow it, set the 'AllowedQueryOptions' property on EnableQueryAttribute or "
            "QueryValidationSettings."
        )


class Unauthorized(GraphError):
    status, code = 401, "InvalidAuthenticationToken"

    def __init__(self, message: str) -> None:
        # Graph's challenge on every 401; the SDK only reacts to it when it carries claims=.
        super().__init__(
            message,
            headers={
                "WWW-Authenticate": 'Bearer realm="", authorization_uri='
                '"https://login.microsoftonline.com/common/oauth2/authorize", '
                'client_id="00000003-0000-0000-c000-000000000000"'
            },
        )


class Forbidden(GraphError):
    status, code = 403, "Forbidden"
    intune_envelope = True


class CrossSiteRefused(GraphError):
    """A request to the admin endpoints that a browser says another site's page sent (auth/admin.py)."""

    status, code = 403, "Forbidden"

    def __init__(self) -> None:
        super().__init__("The admin endpoints do not answer requests made by another site's page.")


class NotFound(GraphError):
    status, code = 404, "ResourceNotFound"
    intune_envelope = True


class InvalidVersion(GraphError):
    status, code = 404, "ResourceNotFound"

    def __init__(self, version: str) -> None:
        super().__init__(f"Invalid version: {version}")


class MethodNotAllowed(GraphError):
    status, code = 405, "Request_BadRequest"

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(
            "Specified HTTP method is not allowed for the request target.",
            headers={"Allow": ", ".join(allowed)},
        )


class Conflict(GraphError):
    status, code = 409, "Conflict"


class PreconditionFailed(GraphError):
    status, code = 412, "PreconditionFailed"


class FailedDependency(GraphError):
    status, code = 424, "FailedDependency"


class PayloadTooLarge(GraphError):
    status, code = 413, "RequestEntityTooLarge"


class UriTooLong(GraphError):
    status, code = 414, "RequestUriTooLong"


class UnsupportedMediaType(GraphError):
    status, code = 415, "UnsupportedMediaType"


class HeadersTooLarge(GraphError):
    status, code = 431, "RequestHeaderFieldsTooLarge"


class Retryable(GraphError):
    """An answer the client may retry: 429, 503 and 504 are the statuses Graph's SDKs retry, on every
    method, so one of these must only ever be raised before any state has changed."""

    def __init__(self, message: str, *, retry_after_s: int | None) -> None:
        # Whole seconds, as Graph sends them (the SDK treats 0 like a missing header: its own backoff).
        headers = {} if retry_after_s is None else {"Retry-After": str(retry_after_s)}
        super().__init__(message, headers=headers)
        self.retry_after_s = retry_after_s


class TooManyRequests(Retryable):
    status, code = 429, "TooManyRequests"
    # Graph's throttling answer carries these inside innerError too (docs/graph-behaviour.md, "Throttling").
    inner_error_extra: ClassVar[dict[str, str]] = {
        "code": "429",
        "message": "Please retry after",
        "status": "429",
    }

    def __init__(self, *, retry_after_s: int | None) -> None:
        super().__init__("Please retry again later.", retry_after_s=retry_after_s)


class ServiceUnavailable(Retryable):
    status, code = 503, "ServiceUnavailable"


class GatewayTimeout(Retryable):
    status, code = 504, "GatewayTimeout"


def task_not_found(task_id: str) -> NotFound:
    # Intune's 404 carries no detail beyond "An error has occurred" (docs/graph-behaviour.md, "Errors");
    # the id is added so that a person reading the error knows which key missed.
    return NotFound(f"An error has occurred - deviceAppManagementTask '{task_id}' was not found")


def child_not_found(navigation: str, child_id: str) -> NotFound:
    return NotFound(f"An error has occurred - {navigation} entity '{child_id}' was not found")


class RequestTimeout(GraphError):
    # Written by the HTTP protocol, before any application runs, and followed by a closed connection.
    status, code = 408, "RequestTimeout"
