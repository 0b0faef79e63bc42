"""The ASGI entry point of worker processes: `graphtasks.asgi:app_from_environment`, a factory.

uvicorn runs several workers only from an import string, so `graphtasks serve --workers N` cannot hand
its Settings value to the workers: it writes them as JSON into GRAPHTASKS_WORKER_SETTINGS, which the
spawned workers inherit, and each worker rebuilds them here and calls create_app, opening its own engine
and connection pool. This module owns that hand-off and nothing else; nothing happens at import.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any, get_args, get_origin, get_type_hints

from starlette.types import ASGIApp

from graphtasks.allocator import return_large_blocks
from graphtasks.app import create_app
from graphtasks.config import Settings

SETTINGS_VARIABLE = "GRAPHTASKS_WORKER_SETTINGS"


def settings_to_json(settings: Settings) -> str:
    return json.dumps(asdict(settings))


def settings_from_json(text: str) -> Settings:
    """The inverse of settings_to_json; Settings validates the values again."""
    hints = get_type_hints(Settings)
    values = {name: _from_json(value, hints[name]) for name, value in json.loads(text).items()}
    return Settings(**values)


def _from_json(value: Any, hint: Any) -> Any:
    """JSON has no tuples: a list becomes a tuple wherever Settings declares one, item by item."""
    if get_origin(hint) is not tuple or not isinstance(value, list):
        return value
    args = get_args(hint)
    # tuple[X, ...] has one item type for any length; tuple[X, Y] one per position.
    item_hints = args[:1] * len(value) if args[1:] == (Ellipsis,) else args
    return tuple(_from_json(item, item_hint) for item, item_hint in zip(value, item_hints, strict=True))


def app_from_environment() -> ASGIApp:
    """The app of one worker process, built from the Settings its parent wrote into the environment."""
    text = os.environ.get(SETTINGS_VARIABLE)
    if text is None:
        raise RuntimeError(
            f"{SETTINGS_VARIABLE} is not set; start workers with `graphtasks serve --workers N`"
        )
    return_large_blocks()
    return create_app(settings_from_json(text))
