"""`graphtasks serve`: its options (listening, trusted issuers, TLS), the Settings they make, the banner
printed at start-up, and the uvicorn run: in this process, or with --workers N in N worker processes
that rebuild the Settings from the environment (graphtasks/asgi.py). uvicorn and graphtasks.app load
only when the server starts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from graphtasks import __version__
from graphtasks.auth.tokens import issuer_for
from graphtasks.cli.common import cloud_option, database_options, env, env_int
from graphtasks.clouds import cloud_named
from graphtasks.config import DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_URL_BYTES, DEFAULT_TENANT, Settings
from graphtasks.tls import TlsFiles, local_tls
from graphtasks.web.connections import connection_options, raise_descriptor_limit


def add_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the Graph server")
    database_options(serve)
    serve.add_argument("--host", default=env("HOST", "127.0.0.1"), help="address to listen on")
    serve.add_argument("--port", type=int, default=env_int("PORT", 8000), help="port to listen on")
    serve.add_argument(
        "--base-url", default=env("BASE_URL"), help="public base URL, e.g. https://graph.example"
    )
    serve.add_argument("--clock-skew", type=int, default=env_int("CLOCK_SKEW", 60), help="token leeway, s")
    cloud_option(serve)
    _trust_options(serve)
    serve.add_argument(
        "--flush-to-disk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fsync every commit (default: off on SQLite, on on PostgreSQL)",
    )
    serve.add_argument(
        "--group-commit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let concurrent writes share one transaction and one flush (default: on)",
    )
    serve.add_argument(
        "--page-size",
        type=int,
        default=env_int("PAGE_SIZE", 1000),
        help="tasks per page, 1..1000 (Intune's default and most is 1000)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=env_int("WORKERS", 1),
        help="server processes sharing the port, each with its own database connections (default 1)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    _limit_options(serve)
    _traffic_options(serve)
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a certificate from a local CA")
    serve.add_argument(
        "--tls-dir", default=env("TLS_DIR", "./graphtasks-tls"), help="where the local CA lives"
    )
    serve.add_argument("--cert", default=env("CERT"), help="your own certificate (PEM); with --key")
    serve.add_argument("--key", default=env("KEY"), help="your own certificate's private key (PEM)")


def _trust_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trust-issuer",
        nargs=2,
        action="append",
        default=[],
        metavar=("ISSUER", "JWKS"),
        help="also accept tokens from ISSUER ({tenantid} stands for the token's tenant), signed with a key "
        "of JWKS (a file or an https:// URL); repeatable",
    )
    parser.add_argument(
        "--trust-entra",
        nargs="?",
        const="",
        metavar="JWKS",
        help="accept Entra ID's v1.0 and v2.0 tokens of the chosen cloud, any tenant; keys from JWKS "
        "(default: the cloud's published key set)",
    )
    parser.add_argument(
        "--audience",
        action="append",
        default=[],
        help="an audience accepted besides the cloud's Graph, e.g. your own app id URI; repeatable",
    )
    parser.add_argument(
        "--jwks-min-refresh",
        type=float,
        default=60.0,
        help="seconds between two reads of a trusted issuer's JWKS, at least (default 60)",
    )


def _limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-connections",
        type=int,
        default=env_int("MAX_CONNECTIONS", 1000),
        help="open connections per process; past it a request gets 503 with Retry-After (default 1000)",
    )
    parser.add_argument(
        "--max-url-bytes",
        type=int,
        default=DEFAULT_MAX_URL_BYTES,
        help=f"longest request URL; past it 414 (default {DEFAULT_MAX_URL_BYTES})",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=int,
        default=DEFAULT_MAX_HEADER_BYTES,
        help=f"most header bytes in a request; past it 431 (default {DEFAULT_MAX_HEADER_BYTES})",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=10.0,
        help="seconds a client may take to send a request's line and headers (default 10)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=30.0,
        help="seconds a client may pause while sending a body (default 30)",
    )


def _traffic_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--throttle",
        default=env("THROTTLE", "off"),
        help="off (default), intune (Intune's documented limits) or custom numbers, e.g. "
        "'window=20,tenant_writes=200,app_writes=100,tenant_requests=2000,app_requests=1000' "
        "(a number left out keeps intune's)",
    )
    parser.add_argument(
        "--redis",
        default=env("REDIS"),
        help="redis://host:port/db to keep throttling counters in (default: the database)",
    )
    parser.add_argument(
        "--faults",
        default=env("FAULTS"),
        help="a JSON file of fault and latency injection rules to start with (see docs/resilience.md)",
    )


def _trusted_issuers(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    trusted = [(issuer, jwks) for issuer, jwks in args.trust_issuer]
    if args.trust_entra is not None:
        cloud = cloud_named(args.cloud)
        jwks = args.trust_entra or cloud.entra_jwks_url
        trusted += [(issuer, jwks) for issuer in cloud.entra_issuers]
    return tuple(trusted)


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    tls = _tls(args)
    raise_descriptor_limit(settings)  # workers inherit it
    if settings.faults_file is not None:
        _install_faults(settings)
    if args.workers == 1:
        _serve_in_process(settings, tls)
    else:
        _serve_workers(settings, tls, args.workers)
    return 0


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        database_url=args.database,
        host=args.host,
        port=args.port,
        base_url=args.base_url,
        issuer=args.issuer,
        cloud_name=args.cloud,
        trusted_issuers=_trusted_issuers(args),
        extra_audiences=tuple(args.audience),
        jwks_min_refresh_s=args.jwks_min_refresh,
        clock_skew_s=args.clock_skew,
        flush_to_disk=args.flush_to_disk,
        group_commit=args.group_commit,
        access_log=args.access_log,
        page_size=args.page_size,
        max_connections=args.max_connections,
        max_url_bytes=args.max_url_bytes,
        max_header_bytes=args.max_header_bytes,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        throttle=args.throttle,
        redis_url=args.redis,
        workers=args.workers,
        faults_file=args.faults,
    )


def _install_faults(settings: Settings) -> None:
    """Put the --faults plan in force, once, here: an app (or a worker uvicorn restarts later) never
    installs it, so nothing undoes a change made at run time."""
    from graphtasks.app import fault_plans, install_faults_file, open_backend

    database = open_backend(settings).database
    try:
        install_faults_file(fault_plans(database), settings.faults_file or "")
    finally:
        database.dispose()


def _serve_in_process(settings: Settings, tls: TlsFiles | None) -> None:
    import uvicorn

    from graphtasks.app import create_app

    app = create_app(settings)
    print(banner(settings, tls), flush=True)
    uvicorn.run(app, **_uvicorn_options(settings, tls))


def _serve_workers(settings: Settings, tls: TlsFiles | None, workers: int) -> None:
    """uvicorn's supervisor with `workers` processes, each loading graphtasks.asgi's factory."""
    import uvicorn

    from graphtasks.app import open_backend
    from graphtasks.asgi import SETTINGS_VARIABLE, settings_to_json

    # Migrate and make the first signing key here, once, before any worker starts: workers starting
    # together would manage (migrations and the first key are serialized in the database), but would
    # all wait on one another; this way they find the database ready. It also fails here, once, with a
    # readable error when the database cannot be opened.
    open_backend(settings).database.dispose()
    # Workers are spawned, not forked: they inherit the environment, and nothing else of this process.
    os.environ[SETTINGS_VARIABLE] = settings_to_json(settings)
    print(banner(settings, tls, workers=workers), flush=True)
    options = _uvicorn_options(settings, tls)
    uvicorn.run("graphtasks.asgi:app_from_environment", factory=True, workers=workers, **options)


def _uvicorn_options(settings: Settings, tls: TlsFiles | None) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "access_log": settings.access_log,
        "log_level": "info" if settings.access_log else "warning",
        "server_header": False,
        "ssl_certfile": None if tls is None else str(tls.certificate),
        "ssl_keyfile": None if tls is None else str(tls.key),
        **connection_options(settings),
    }


def _tls(args: argparse.Namespace) -> TlsFiles | None:
    if bool(args.cert) != bool(args.key):
        raise ValueError("give --cert and --key together")
    if args.cert:
        return TlsFiles(Path(args.cert), Path(args.key))
    return local_tls(Path(args.tls_dir), args.host) if args.tls else None


def banner(settings: Settings, tls: TlsFiles | None = None, *, workers: int = 1) -> str:
    """What `graphtasks serve` prints before it listens: where, which database, cloud, issuers, TLS."""
    url = make_url(settings.database_url)
    where = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    flush = (
        settings.flush_to_disk if settings.flush_to_disk is not None else url.get_backend_name() != "sqlite"
    )
    lines = [
        f"graphtasks {__version__}: Microsoft Graph beta, deviceAppManagementTasks",
        f"  listening  {where}/beta/deviceAppManagement/deviceAppManagementTasks",
        *([f"             ({workers} worker processes)"] if workers > 1 else []),
        f"  public URL {settings.base_url or '(from each request Host header)'}",
        f"  database   {url.render_as_string(hide_password=True)}",
        f"             (flush to disk: {'on' if flush else 'off'};"
        f" group commit: {'on' if settings.group_commit else 'off'})",
        f"  cloud      {settings.cloud_name}: tokens for {settings.cloud.graph_url}",
        f"  throttling {settings.throttle}"
        + (
            f" (counters in {settings.redis_url})"
            if settings.throttle != "off" and settings.redis_url
            else ""
        ),
        *(
            [f"  faults     {settings.faults_file} (change: graphtasks faults set)"]
            if settings.faults_file
            else []
        ),
        f"  issuer     {issuer_for(settings.issuer, '{tenant}')}  keys: {where}/common/discovery/v2.0/keys",
        *(f"  trusted    {issuer}  keys: {jwks}" for issuer, jwks in settings.trusted_issuers),
        f"  token      graphtasks token --database '{url.render_as_string(hide_password=True)}'",
        f"             (default tenant {DEFAULT_TENANT}; --tenant, --roles, --scopes, --expires)",
    ]
    if tls is not None and tls.authority is not None:
        lines.append(f"  TLS        trust the local CA: export REQUESTS_CA_BUNDLE={tls.authority.resolve()}")
        lines.append(
            f"             (and SSL_CERT_FILE={tls.authority.resolve()} for httpx and the Graph SDK)"
        )
    return "\n".join(lines)
