"""create_app(settings) -> the ASGI application. Opening the database, migrating it and loading the
signing keys happen here, when the factory is called, never at import.

The request path, layer by layer, is drawn in web/application.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from graphtasks.auth.admin import AdminAccess, admin_key, is_loopback
from graphtasks.auth.console_sessions import ConsoleSessions
from graphtasks.auth.jwks import JwksSource
from graphtasks.auth.keys import KeyRing, load_key_ring
from graphtasks.auth.tenants import TenantLicences
from graphtasks.auth.token_service import TokenService
from graphtasks.auth.tokens import TokenVerifier, TrustedIssuer, own_issuers
from graphtasks.config import Settings
from graphtasks.errors import GraphError
from graphtasks.model.fixtures import named_tenant, read_tasks
from graphtasks.odata.paging import SkiptokenSigner
from graphtasks.storage.base import TaskStore
from graphtasks.storage.engine import Database, open_database
from graphtasks.storage.engine_setup import WORKER_THREADS
from graphtasks.storage.migrate import upgrade_to_head
from graphtasks.storage.registry import SqlAppStore, SqlAssertionStore, SqlKeyStore, SqlTenantStore
from graphtasks.storage.sql import SqlTaskStore
from graphtasks.storage.traffic_stores import SqlCounterStore, SqlFaultPlanStore
from graphtasks.traffic.throttling import CounterStore, MemoryCounterStore, parse_throttle

if TYPE_CHECKING:
    from graphtasks.storage.redis_counters import RedisCounterStore
from graphtasks.web.admin import admin_routes
from graphtasks.web.admin_registry import Registry, registry_routes
from graphtasks.web.admin_state import AdminState, state_routes
from graphtasks.web.application import GraphApplication
from graphtasks.web.batch import batch_handler
from graphtasks.web.blocking import BlockingCalls
from graphtasks.web.console import console_routes
from graphtasks.web.discovery import discovery_routes
from graphtasks.web.dispatch import graph_endpoints
from graphtasks.web.documents import document_routes
from graphtasks.web.gate import FaultPlans, TrafficGate
from graphtasks.web.guard import make_guard
from graphtasks.web.handlers import TaskHandlers
from graphtasks.web.hosts import allowed_hosts
from graphtasks.web.journal import Journal
from graphtasks.web.navigation import NavigationHandlers
from graphtasks.web.request_log import RequestLog
from graphtasks.web.requests import base_url
from graphtasks.web.routes import GRAPH_OPERATIONS, batch_routes


@dataclass(frozen=True)
class Backend:
    """What a running server holds: the database, its task store and the signing keys."""

    database: Database
    store: TaskStore
    keys: KeyRing
    apps: SqlAppStore
    tenants: SqlTenantStore


def open_backend(settings: Settings) -> Backend:
    database = open_database(
        settings.database_url, flush_to_disk=settings.flush_to_disk, group_commit=settings.group_commit
    )
    upgrade_to_head(database)
    keys = load_key_ring(SqlKeyStore(database))
    return Backend(database, SqlTaskStore(database), keys, SqlAppStore(database), SqlTenantStore(database))


def token_verifier(settings: Settings, keys: KeyRing) -> TokenVerifier:
    """The trusted issuers first, so that no Host header can make our own `{origin}` issuer stand in
    for one; then our own. Issuers that share a JWKS share its cache."""
    sources: dict[str, JwksSource] = {}
    trusted = tuple(
        TrustedIssuer(
            issuer, sources.setdefault(jwks, JwksSource(jwks, min_interval_s=settings.jwks_min_refresh_s))
        )
        for issuer, jwks in settings.trusted_issuers
    )
    issuers = (*trusted, *own_issuers(keys, settings.issuer))
    return TokenVerifier(issuers, settings.audiences, settings.clock_skew_s)


def fault_plans(database: Database) -> FaultPlans:
    return FaultPlans(SqlFaultPlanStore(database), GRAPH_OPERATIONS)


def install_faults_file(plans: FaultPlans, path: str) -> None:
    """Make the plan in `path` the one in force (for every process on the database)."""
    try:
        plan = plans.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"fault plan {path}: {error}") from None
    plans.replace(plan)


def load_tasks_file(store: TaskStore, path: str, tenant: str) -> int:
    """Add the tasks of the file at `path` (model/fixtures.py) to the tenant the file names (an export)
    or to `tenant`; those whose ids the tenant has already are left as they are, so a server restarted
    with the same file on the same database starts as it was. How many were added."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError) as error:
        raise ValueError(f"tasks to load, {path}: {error}") from None
    tenant = named_tenant(document) or tenant
    try:
        stored = read_tasks(document)
    except GraphError as error:
        raise ValueError(f"tasks to load, {path}: {error.message}") from None
    return store.add_tasks(tenant, stored, skip_existing=True)


def redis_counters(url: str) -> RedisCounterStore:
    """Throttling counters in the Redis at `url` (no connection is made yet)."""
    # Imported here: redis is the optional `redis` extra, needed only by a server given --redis.
    try:
        from graphtasks.storage.redis_counters import RedisCounterStore
    except ModuleNotFoundError as error:
        if error.name != "redis":
            raise
        raise ValueError(
            "throttling counters in Redis need the redis client: pip install 'graphtasks[redis]'"
        ) from None
    return RedisCounterStore(url)


def _counters(settings: Settings, database: Database) -> tuple[CounterStore, Callable[[], None]]:
    """Where throttling counts live: Redis when given; this process's memory when it alone serves the
    database (SQLite, one worker); else the database. And what closes it."""
    if settings.redis_url is not None:
        redis_store = redis_counters(settings.redis_url)
        return redis_store, redis_store.close
    if database.dialect == "sqlite" and settings.workers == 1:
        return MemoryCounterStore(), lambda: None
    return SqlCounterStore(database), lambda: None


def create_app(settings: Settings, *, backend: Backend | None = None) -> GraphApplication:
    backend = backend or open_backend(settings)
    # After the migrations, which may rightly take longer (docs/resilience.md, "Query time").
    backend.database.limit_statements(settings.query_timeout_s)
    # SQLite reads are in-process B-tree lookups: one row by key is cheaper inline than via a thread.
    calls = BlockingCalls(
        threads=WORKER_THREADS,
        inline_point_reads=backend.database.dialect == "sqlite",
        tenant_concurrency=settings.tenant_concurrency,
    )
    skiptokens = SkiptokenSigner(backend.keys.derive_secret("skiptoken"))
    tasks = TaskHandlers(settings, backend.store, skiptokens, calls)
    navigation = NavigationHandlers(settings, backend.store, skiptokens, calls)
    licences = TenantLicences(backend.tenants.find, ttl_s=settings.licence_cache_s)
    plans = fault_plans(backend.database)
    plans.load()
    counters, close_counters = _counters(settings, backend.database)
    gate = TrafficGate(parse_throttle(settings.throttle), counters, plans, calls=calls)
    guard = make_guard(
        token_verifier(settings, backend.keys),
        licences,
        calls=calls,
        gate=gate,
        origin=lambda request: base_url(request.scope, settings),
    )
    token_service = TokenService(
        backend.keys, settings.cloud, backend.apps.find, SqlAssertionStore(backend.database)
    )
    sessions = ConsoleSessions(backend.keys.derive_secret("console-session"))
    access = AdminAccess(
        admin_key(backend.keys),
        loopback_trusted=not settings.admin_key_required and is_loopback(settings.host),
        sessions=sessions,
        public_url=settings.base_url,
    )
    journal = Journal(settings.journal_size) if settings.journal_size else None
    state = AdminState(
        settings, access, backend.store, backend.keys, backend.tenants.put, licences, gate, journal, calls
    )
    routes = [
        *admin_routes(plans, access, calls=calls),
        *state_routes(state),
        *registry_routes(Registry(access, backend.apps, backend.tenants, licences, calls)),
        *batch_routes(
            batch_handler(
                settings.max_body_bytes,
                max_header_bytes=settings.max_header_bytes,
                max_answer_bytes=settings.max_batch_response_bytes,
            ),
            guard,
        ),
        *document_routes(settings),
        *console_routes(settings, access, sessions),
        *discovery_routes(backend.keys, settings, token_service, calls=calls),
    ]

    def shut_down() -> None:
        calls.close()
        close_counters()

    request_log = RequestLog(settings.log_format) if settings.request_log else None
    return GraphApplication(
        graph_endpoints(guard, tasks, navigation),
        routes,
        on_shutdown=shut_down,
        hosts=allowed_hosts(settings),
        request_log=request_log,
        journal=journal,
    )
