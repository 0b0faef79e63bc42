"""ETags and conditional requests: a graphtasks extension (Intune's tasks carry no ETags).

Every task and child carries `@odata.etag`, a weak ETag computed from its whole stored state
(model/documents.py), so it changes whenever the entity does. `If-Match` on PATCH, DELETE and
updateStatus is checked inside the write's transaction (storage's Precondition): a mismatch is 412
and nothing is written. `If-None-Match` on GET answers 304 when the entity has not changed. Without
these headers nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphtasks.errors import PreconditionFailed
from graphtasks.model.documents import Entity, etag_of
from graphtasks.web.requests import GraphRequest
from graphtasks.web.responses import GraphResponse


def if_match(request: GraphRequest) -> Callable[[Entity], None] | None:
    """The request's If-Match as a storage precondition; None without the header."""
    header = request.headers.get("if-match")
    if header is None:
        return None

    def check(current: Entity) -> None:
        etag = etag_of(current)
        if not _matches(header, etag):
            raise PreconditionFailed(f"If-Match does not name the entity's current ETag, {etag}.")

    return check


def conditional_answer(request: GraphRequest, body: Any, etag: str) -> GraphResponse:
    """An entity's 200 with its ETag, or 304 when If-None-Match names that ETag."""
    if not_modified(request, etag):
        return GraphResponse.empty(304, headers={"ETag": etag})
    return GraphResponse.json(body, headers={"ETag": etag})


def not_modified(request: GraphRequest, etag: str) -> bool:
    """Whether If-None-Match names the entity as the client already has it."""
    header = request.headers.get("if-none-match")
    return header is not None and _matches(header, etag)


def _matches(header: str, etag: str) -> bool:
    """`*` or a comma-separated list of ETags, compared weakly: OData's ETags are weak."""
    tags = {tag.strip() for tag in header.split(",")}
    return "*" in tags or _opaque(etag) in {_opaque(tag) for tag in tags}


def _opaque(tag: str) -> str:
    return tag.removeprefix("W/")
