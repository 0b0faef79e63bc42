"""How the HTTP server itself guards its connections: the uvicorn options that bound what one client
may send and hold (web/connections.py is the only place that knows uvicorn's knobs for this).

Imports nothing of uvicorn at module level, so the CLI can read it before the server loads.
"""

from __future__ import annotations

from typing import Any

from graphtasks.config import Settings


def connection_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run keyword arguments for the limits in Settings."""
    return {
        # uvicorn answers past this with a plain-text 503; see the limits work in issue 7.
        "limit_concurrency": settings.max_connections,
        "timeout_keep_alive": 5,
    }
