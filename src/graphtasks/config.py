"""Settings: every knob of the server in one frozen value, built by the CLI (flags, then environment).

No module-level instance: create_app and the CLI receive a Settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from graphtasks.clouds import TENANT_PLACEHOLDER, Cloud, cloud_named
from graphtasks.traffic.throttling import parse_throttle

# How the request log writes each line, and the logger it writes them on (web/request_log.py).
LOG_FORMATS = ("text", "json")
REQUEST_LOGGER = "graphtasks.requests"

DEFAULT_DATABASE = "sqlite:///./graphtasks.db"
# The tenant `graphtasks token` issues for when no --tenant is given.
# --database memory: a database in the server process's memory, nothing written to disk, gone when the
# process ends (storage/engine.py).
MEMORY_DATABASE = "memory"
DEFAULT_TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
# The issuer of tokens made offline by `graphtasks token` (which cannot know the origin clients will
# reach) when no --issuer is given. Every server without --issuer accepts it from its own key, beside the
# origin clients reach it by (README, "Issuers").
DEFAULT_ISSUER = "https://login.graphtasks.local"
# Hosts a key set may be read from over plain http: this machine only (tests, a local identity provider).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Graph's request-body limit is 4 MB.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# The request line and the header block, in bytes (web/connections.py says why these numbers).
DEFAULT_MAX_URL_BYTES = 16 * 1024
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
# One tenant's storage work at once: as many statements as the machine has cores (at least two), so one
# tenant can keep every core busy but no more, and another tenant's statement is always next in line.
DEFAULT_TENANT_CONCURRENCY = max(2, os.cpu_count() or 2)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    port: int = 8000
    # Public base URL (scheme://host[:port], no version) used in @odata.context, nextLink and
    # Location; None means: from the request's scheme and Host header.
    base_url: str | None = None
    # The issuer base URL the OpenID configuration names and the token endpoint signs as; tokens carry
    # iss = f"{issuer}/{tid}/v2.0", as Entra's v2.0 tokens do. None: the origin the client reached (or
    # base_url), so issuer and authority share scheme, host and port as on Entra.
    issuer: str | None = None
    # global, usgov, dod or china: the Graph host tokens are for and @odata.context names (clouds.py).
    cloud_name: str = "global"
    # Other issuers whose tokens are accepted: (issuer, JWKS file or URL); {tenantid} in an issuer stands
    # for the token's tenant.
    trusted_issuers: tuple[tuple[str, str], ...] = ()
    # Audiences accepted besides the cloud's Graph (e.g. a deployment's own app id URI).
    extra_audiences: tuple[str, ...] = ()
    # A trusted issuer's JWKS is re-read at most this often, however many unknown kids arrive.
    jwks_min_refresh_s: float = 60.0
    clock_skew_s: int = 60
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # None keeps each backend's default; see storage/engine.py.
    flush_to_disk: bool | None = None
    # Concurrent writes share one transaction and one commit (one fsync), each answered only after it,
    # so flushing to disk costs SQLite's create rate little; PostgreSQL already merges concurrent
    # commits' flushes, and there it changes little either way (docs/performance.md). See
    # storage/group_commit.py.
    group_commit: bool = True
    page_size: int = 1000
    # One line per request on the `graphtasks.requests` logger (web/request_log.py), text or json.
    request_log: bool = True
    log_format: str = "text"
    # What a client may send and how long it may take (web/connections.py): past these a request gets
    # a Graph error or its connection is closed, so no client can hold a worker.
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000
    # Throttling profile: off, intune (docs/graph-behaviour.md, "Throttling") or custom numbers
    # (traffic/throttling.py).
    throttle: str = "off"
    # Where throttling counters live: Redis when given; else the database, or this process's memory
    # when it is the only one (SQLite, one worker), which costs a read no write transaction.
    redis_url: str | None = None
    # Server processes (`serve --workers`); with SQLite and 1, nothing else shares the counters.
    workers: int = 1
    # Fault and latency injection rules loaded at start (traffic/faults.py); changed later through the
    # admin endpoint or `graphtasks faults`.
    faults_file: str | None = None
    # Storage work (docs/resilience.md, "Bounded work per request"): a statement running past
    # query_timeout_s is cut off (504), and one tenant holds at most tenant_concurrency of the storage
    # threads at once; its other requests wait their turn.
    query_timeout_s: float = 5.0
    tenant_concurrency: int = DEFAULT_TENANT_CONCURRENCY
    # Responses: a page stops early, with its nextLink, once it holds max_response_bytes; a $batch answer
    # stops at max_batch_response_bytes, the items past it answered with an error.
    max_response_bytes: int = 4 * 1024 * 1024
    max_batch_response_bytes: int = 32 * 1024 * 1024
    # The Host values answered (empty: the bound host and its localhost forms), and the addresses whose
    # X-Forwarded-* headers are believed (empty: none).
    allowed_hosts: tuple[str, ...] = ()
    forwarded_allow_ips: tuple[str, ...] = ()
    # The request journal (web/journal.py): the most recent requests kept per tenant; 0 keeps none.
    journal_size: int = 1000
    # Tasks to load at start (model/fixtures.py), into load_tenant.
    load_file: str | None = None
    load_tenant: str = DEFAULT_TENANT
    # How long a tenant's licence (the tenant registry) is believed before it is read again.
    licence_cache_s: float = 5.0
    # A loopback-bound server answers admin requests from this machine without the key
    # (auth/admin.py) unless this is set.
    admin_key_required: bool = False

    @property
    def cloud(self) -> Cloud:
        return cloud_named(self.cloud_name)

    @property
    def audiences(self) -> tuple[str, ...]:
        return (*self.cloud.audiences, *self.extra_audiences)

    def issuer_base(self, origin: str) -> str:
        """The issuer base URL for a client that reached the server at `origin`."""
        return self.issuer or origin

    def __post_init__(self) -> None:
        cloud_named(self.cloud_name)
        for issuer, jwks in self.trusted_issuers:
            if not issuer.replace(TENANT_PLACEHOLDER, "").startswith("https://"):
                raise ValueError(f"a trusted issuer must be an https:// URL, not {issuer!r}")
            if jwks.startswith("http://") and urlsplit(jwks).hostname not in LOOPBACK_HOSTS:
                # Whoever could rewrite the key set on its way could sign tokens for every tenant.
                raise ValueError(f"a key set must come from a file or an https:// URL, not {jwks!r}")
        if self.jwks_min_refresh_s < 0:
            raise ValueError("the JWKS refresh interval must not be negative")
        if not 0 <= self.clock_skew_s <= 300:
            raise ValueError("clock skew must be between 0 and 300 seconds")
        if not 1 <= self.page_size <= 1000:
            raise ValueError("the page size must be between 1 and 1000")
        if self.max_body_bytes < 1024:
            raise ValueError("the body size limit must be at least 1024 bytes")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("the base URL must start with http:// or https://")
        if self.issuer is not None and not self.issuer.startswith(("http://", "https://")):
            raise ValueError("the issuer must be an http:// or https:// URL")
        self._check_limits()

    def _check_limits(self) -> None:
        if self.header_timeout_s <= 0 or self.body_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"the port must be between 0 and 65535, not {self.port}")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.workers > 1 and self.database_url == MEMORY_DATABASE:
            raise ValueError("a memory database lives in one process: it cannot serve --workers")
        if self.max_connections < 1:
            raise ValueError("the connection limit must be at least 1")
        if self.max_url_bytes < 1024 or self.max_header_bytes < 1024:
            raise ValueError("the URL and header limits must be at least 1024 bytes")
        parse_throttle(self.throttle)
        self._check_budgets()
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"the log format must be one of {', '.join(LOG_FORMATS)}")

    def _check_budgets(self) -> None:
        if self.query_timeout_s <= 0:
            raise ValueError("the query timeout must be positive")
        if self.licence_cache_s < 0:
            raise ValueError("--licence-cache must not be negative")
        if self.journal_size < 0:
            raise ValueError("--journal-size must not be negative")
        if self.tenant_concurrency < 1:
            raise ValueError("--tenant-concurrency must be at least 1")
        if min(self.max_response_bytes, self.max_batch_response_bytes) < 64 * 1024:
            raise ValueError("the response budgets must be at least 65536 bytes")
