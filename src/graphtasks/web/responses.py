"""The JSON answers of the Graph API: their media type, and a response that renders its content with
orjson or sends bytes already rendered (a stored document)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)


class GraphJSONResponse(Response):
    media_type = ODATA_JSON

    def render(self, content: Any) -> bytes:
        """A JSON value, or bytes already rendered (an answer made from a stored document)."""
        return content if isinstance(content, bytes) else orjson.dumps(content)
