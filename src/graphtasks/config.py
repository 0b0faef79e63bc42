"""Settings: every knob of the server in one frozen value, built by the CLI (flags, then environment).

Each field that is a flag of `graphtasks serve` says so here, with its --help text and how its text is
read (`flag`, `Flag`); the CLI derives the flags, their GRAPHTASKS_* variables and the Settings it builds
from them (cli/common.py, cli/serve.py), and the fields' order is the order --help lists them in. No
module-level instance: create_app and the CLI receive a Settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from graphtasks.clouds import CLOUDS, TENANT_PLACEHOLDER, Cloud, cloud_named
from graphtasks.traffic.throttling import parse_throttle

# How the request log writes each line, and the logger it writes them on (web/request_log.py).
LOG_FORMATS = ("text", "json")
REQUEST_LOGGER = "graphtasks.requests"

DEFAULT_DATABASE = "sqlite:///./graphtasks.db"
# --database memory: a database in the server process's memory, nothing written to disk, gone when the
# process ends (storage/engine.py).
MEMORY_DATABASE = "memory"
# The tenant `graphtasks token` issues for when no --tenant is given.
DEFAULT_TENANT = "8f1c7e5a-3b2d-4c6e-9a1f-0d2b4c6e8a10"
# The display name of an app registered without one (`graphtasks apps add`, the admin API).
DEFAULT_APP_NAME = "graphtasks app"
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


T = TypeVar("T")
# How a flag's text becomes its field's value (cli/common.py turns each into argparse's terms): as it
# is; a whole number; a number; "switch", a flag that turns the setting on; "on-off", --x and --no-x;
# "list", comma-separated items; "repeat", a flag given once per item (no environment variable: one
# cannot hold several); "file", the path of a file readable at start; "guid", a tenant id.
Parse = Literal["text", "int", "float", "switch", "on-off", "list", "repeat", "file", "guid"]
FLAG = "graphtasks.flag"  # the key of a field's Flag in its metadata


@dataclass(frozen=True)
class Flag:
    """How a setting is given on the command line: its --help text, its name when that is not the
    field's name in kebab case (`page_size` is --page-size), how its text is read, and its choices."""

    help: str
    name: str | None = None
    parse: Parse = "text"
    choices: tuple[str, ...] = ()


def flag(
    default: T, help: str, *, name: str | None = None, parse: Parse = "text", choices: tuple[str, ...] = ()
) -> T:
    """A Settings field that `graphtasks serve` takes as a flag."""
    return field(default=default, metadata={FLAG: Flag(help, name, parse, choices)})


@dataclass(frozen=True)
class Settings:
    database_url: str = flag(
        DEFAULT_DATABASE, "sqlite:///path or postgresql://user@host/db", name="--database"
    )
    # The issuer base URL the OpenID configuration names and the token endpoint signs as; tokens carry
    # iss = f"{issuer}/{tid}/v2.0", as Entra's v2.0 tokens do. None: the origin the client reached (or
    # base_url), so issuer and authority share scheme, host and port as on Entra.
    issuer: str | None = flag(
        None,
        "token issuer base URL (default: the origin clients reach the server at; "
        f"`graphtasks token` signs as {DEFAULT_ISSUER}, which such a server accepts too)",
    )
    host: str = flag("127.0.0.1", "address to listen on")
    port: int = flag(8000, "port to listen on", parse="int")
    # Public base URL (scheme://host[:port], no version) used in @odata.context, nextLink and
    # Location; None means: from the request's scheme and Host header.
    base_url: str | None = flag(None, "public base URL, e.g. https://graph.example")
    clock_skew_s: int = flag(60, "token leeway, s", name="--clock-skew", parse="int")
    # The Graph host tokens are for and @odata.context names (clouds.py).
    cloud_name: str = flag(
        "global",
        "the Microsoft cloud to stand in for: its Graph host is the token audience and the "
        "host @odata.context names; its Entra hosts make up --trust-entra's issuers",
        name="--cloud",
        choices=tuple(CLOUDS),
    )
    # Other issuers whose tokens are accepted: (issuer, JWKS file or URL); {tenantid} in an issuer stands
    # for the token's tenant. Flags of their own (--trust-issuer, --trust-entra: cli/serve.py).
    trusted_issuers: tuple[tuple[str, str], ...] = ()
    extra_audiences: tuple[str, ...] = flag(
        (),
        "an audience accepted besides the cloud's Graph, e.g. your own app id URI; repeatable",
        name="--audience",
        parse="repeat",
    )
    # A trusted issuer's JWKS is re-read at most this often, however many unknown kids arrive.
    jwks_min_refresh_s: float = flag(
        60.0,
        "seconds between two reads of a trusted issuer's JWKS, at least",
        name="--jwks-min-refresh",
        parse="float",
    )
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # None keeps each backend's default; see storage/engine.py.
    flush_to_disk: bool | None = flag(
        None, "fsync every commit (default: off on SQLite, on on PostgreSQL)", parse="on-off"
    )
    # Concurrent SQLite writes share one transaction and one commit (one fsync), each answered only
    # after it, so flushing to disk costs SQLite's create rate little. PostgreSQL already merges
    # concurrent commits' flushes, and grouping measured no faster there, so it applies to SQLite only
    # (docs/performance.md). See storage/group_commit.py.
    group_commit: bool = flag(
        True, "let concurrent SQLite writes share one transaction and one flush", parse="on-off"
    )
    page_size: int = flag(1000, "tasks per page, 1..1000 (Intune's default and most is 1000)", parse="int")
    # With SQLite and 1, nothing else shares the throttling counters.
    workers: int = flag(
        1, "server processes sharing the port, each with its own database connections", parse="int"
    )
    # One line per request on the `graphtasks.requests` logger (web/request_log.py), text or json.
    # Its flag is --quiet, the other way round (cli/serve.py).
    request_log: bool = True
    log_format: str = flag(
        "text",
        "the request log: a line of text, or a JSON object, per request",
        choices=LOG_FORMATS,
    )
    # What a client may send and how long it may take (web/connections.py): past these a request gets
    # a Graph error or its connection is closed, so no client can hold a worker.
    max_connections: int = flag(
        1000, "open connections per process; past it a request gets 503 with Retry-After", parse="int"
    )
    max_url_bytes: int = flag(DEFAULT_MAX_URL_BYTES, "longest request URL; past it 414", parse="int")
    max_header_bytes: int = flag(
        DEFAULT_MAX_HEADER_BYTES, "most header bytes in a request; past it 431", parse="int"
    )
    header_timeout_s: float = flag(
        10.0,
        "seconds a client may take to send a request's line and headers",
        name="--header-timeout",
        parse="float",
    )
    body_timeout_s: float = flag(
        30.0, "seconds a client may pause while sending a body", name="--body-timeout", parse="float"
    )
    # Storage work (docs/resilience.md, "Bounded work per request"): a statement running past
    # query_timeout_s is cut off (504), and one tenant holds at most tenant_concurrency of the storage
    # threads at once; its other requests wait their turn.
    query_timeout_s: float = flag(
        5.0,
        "seconds a database statement may run; past it the request gets 504",
        name="--query-timeout",
        parse="float",
    )
    tenant_concurrency: int = flag(
        DEFAULT_TENANT_CONCURRENCY,
        "storage threads one tenant may hold at once; its other requests wait their turn",
        parse="int",
    )
    max_response_bytes: int = flag(
        4 * 1024 * 1024,
        "a page stops early, with its @odata.nextLink, once it holds this many bytes",
        parse="int",
    )
    max_batch_response_bytes: int = flag(
        32 * 1024 * 1024, "a $batch answer's budget; items past it are answered with an error", parse="int"
    )
    allowed_hosts: tuple[str, ...] = flag(
        (),
        "Host values answered, comma-separated (default: the bound host and its localhost forms)",
        parse="list",
    )
    forwarded_allow_ips: tuple[str, ...] = flag(
        (),
        "addresses whose X-Forwarded-* headers are believed, comma-separated (default: none)",
        parse="list",
    )
    # Throttling profile: docs/graph-behaviour.md, "Throttling", and traffic/throttling.py.
    throttle: str = flag(
        "off",
        "off, intune (Intune's documented limits) or custom numbers, e.g. "
        "'window=20,tenant_writes=200,app_writes=100,tenant_requests=2000,app_requests=1000' "
        "(a number left out keeps intune's)",
    )
    # Where throttling counters live: Redis when given; else the database, or this process's memory
    # when it is the only one (SQLite, one worker), which costs a read no write transaction.
    redis_url: str | None = flag(
        None, "redis://host:port/db to keep throttling counters in (default: the database)", name="--redis"
    )
    # Fault and latency injection rules loaded at start (traffic/faults.py); changed later through the
    # admin endpoint or `graphtasks faults`.
    faults_file: str | None = flag(
        None,
        "a JSON file of fault and latency injection rules to start with (see docs/resilience.md)",
        name="--faults",
        parse="file",
    )
    # The request journal: web/journal.py.
    journal_size: int = flag(
        1000,
        "requests kept per tenant in the request journal (graphtasks requests); 0 keeps none",
        parse="int",
    )
    licence_cache_s: float = flag(
        5.0,
        "seconds a tenant's licence is believed before the tenant registry is read again",
        name="--licence-cache",
        parse="float",
    )
    # A loopback-bound server answers admin requests from this machine without the key
    # (auth/admin.py) unless this is set.
    admin_key_required: bool = flag(
        False,
        "ask for the admin key even from this machine (a loopback-bound server does not)",
        parse="switch",
    )
    # Tasks to load at start (model/fixtures.py), into load_tenant.
    load_file: str | None = flag(
        None,
        "a JSON file of tasks to add at start (an export, a collection answer or a list of tasks)",
        name="--load",
        parse="file",
    )
    load_tenant: str = flag(
        DEFAULT_TENANT, "the tenant --load adds tasks to, when the file does not name one", parse="guid"
    )

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
