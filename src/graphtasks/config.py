"""Settings: every knob of the server in one frozen value, built by the CLI (flags, then environment).

No module-level instance: create_app and the CLI receive a Settings.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DATABASE = "sqlite:///./graphtasks.db"
# The tenant `graphtasks token` issues for when no --tenant is given.
DEFAULT_TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
# Our own token issuer: tokens carry iss = f"{DEFAULT_ISSUER}/{tid}/v2.0", as Entra's v2.0 tokens do.
DEFAULT_ISSUER = "https://login.graphtasks.local"
# Graph's request-body limit is 4 MB.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    port: int = 8000
    # Public base URL (scheme://host[:port], no version) used in @odata.context, nextLink and
    # Location; None means: from the request's scheme and Host header.
    base_url: str | None = None
    issuer: str = DEFAULT_ISSUER
    clock_skew_s: int = 60
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # None keeps each backend's default; see storage/engine.py.
    flush_to_disk: bool | None = None
    page_size: int = 1000
    access_log: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.clock_skew_s <= 300:
            raise ValueError("clock skew must be between 0 and 300 seconds")
        if not 1 <= self.page_size <= 1000:
            raise ValueError("the page size must be between 1 and 1000")
        if self.max_body_bytes < 1024:
            raise ValueError("the body size limit must be at least 1024 bytes")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("the base URL must start with http:// or https://")
