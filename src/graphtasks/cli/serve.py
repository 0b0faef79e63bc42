"""`graphtasks serve`: its options (listening, trusted issuers, TLS), the Settings they make, the banner
printed at start-up, and the uvicorn run: in this process, or with --workers N in N worker processes
that rebuild the Settings from the environment (graphtasks/asgi.py). uvicorn and graphtasks.app load
only when the server starts.
"""

from __future__ import annotations

import argparse
import copy
import errno
import os
import shlex
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from graphtasks import __version__
from graphtasks.auth.tokens import issuer_for
from graphtasks.cli.common import (
    SETTING_DEFAULTS,
    CliError,
    cloud_option,
    comma_list,
    database_options,
    guid,
    option,
    readable_file,
)
from graphtasks.clouds import cloud_named
from graphtasks.config import DEFAULT_TENANT, LOG_FORMATS, MEMORY_DATABASE, REQUEST_LOGGER, Settings
from graphtasks.tls import TlsFiles, local_tls
from graphtasks.web.connections import connection_options, raise_descriptor_limit
from graphtasks.web.hosts import allowed_hosts

if TYPE_CHECKING:
    from graphtasks.app import Backend


def add_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the Graph server")
    database_options(serve)
    option(serve, "--host", setting="host", help="address to listen on")
    option(serve, "--port", setting="port", type=int, help="port to listen on")
    option(serve, "--base-url", setting="base_url", help="public base URL, e.g. https://graph.example")
    option(serve, "--clock-skew", setting="clock_skew_s", type=int, help="token leeway, s")
    cloud_option(serve)
    _trust_options(serve)
    option(
        serve,
        "--flush-to-disk",
        setting="flush_to_disk",
        action=argparse.BooleanOptionalAction,
        help="fsync every commit (default: off on SQLite, on on PostgreSQL)",
    )
    option(
        serve,
        "--group-commit",
        setting="group_commit",
        action=argparse.BooleanOptionalAction,
        help="let concurrent writes share one transaction and one flush",
    )
    option(
        serve,
        "--page-size",
        setting="page_size",
        type=int,
        help="tasks per page, 1..1000 (Intune's default and most is 1000)",
    )
    option(
        serve,
        "--workers",
        setting="workers",
        type=int,
        help="server processes sharing the port, each with its own database connections",
    )
    _log_options(serve)
    _limit_options(serve)
    _budget_options(serve)
    _traffic_options(serve)
    _tls_options(serve)


def _log_options(parser: argparse.ArgumentParser) -> None:
    option(parser, "--quiet", action="store_true", help="no request log (errors are still logged)")
    option(
        parser,
        "--log-format",
        setting="log_format",
        choices=LOG_FORMATS,
        help="the request log: a line of text, or a JSON object, per request",
    )


def _tls_options(parser: argparse.ArgumentParser) -> None:
    option(parser, "--tls", action="store_true", help="serve HTTPS with a certificate from a local CA")
    option(parser, "--tls-dir", default="./graphtasks-tls", help="where the local CA lives")
    option(parser, "--cert", type=readable_file, help="your own certificate (PEM); with --key")
    option(parser, "--key", type=readable_file, help="your own certificate's private key (PEM)")


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
    option(
        parser,
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
    option(
        parser,
        "--jwks-min-refresh",
        setting="jwks_min_refresh_s",
        type=float,
        help="seconds between two reads of a trusted issuer's JWKS, at least",
    )


def _limit_options(parser: argparse.ArgumentParser) -> None:
    option(
        parser,
        "--max-connections",
        setting="max_connections",
        type=int,
        help="open connections per process; past it a request gets 503 with Retry-After",
    )
    option(
        parser, "--max-url-bytes", setting="max_url_bytes", type=int, help="longest request URL; past it 414"
    )
    option(
        parser,
        "--max-header-bytes",
        setting="max_header_bytes",
        type=int,
        help="most header bytes in a request; past it 431",
    )
    option(
        parser,
        "--header-timeout",
        setting="header_timeout_s",
        type=float,
        help="seconds a client may take to send a request's line and headers",
    )
    option(
        parser,
        "--body-timeout",
        setting="body_timeout_s",
        type=float,
        help="seconds a client may pause while sending a body",
    )


def _budget_options(parser: argparse.ArgumentParser) -> None:
    option(
        parser,
        "--query-timeout",
        setting="query_timeout_s",
        type=float,
        help="seconds a database statement may run; past it the request gets 504",
    )
    option(
        parser,
        "--tenant-concurrency",
        setting="tenant_concurrency",
        type=int,
        help="storage threads one tenant may hold at once; its other requests wait their turn",
    )
    option(
        parser,
        "--max-response-bytes",
        setting="max_response_bytes",
        type=int,
        help="a page stops early, with its @odata.nextLink, once it holds this many bytes",
    )
    option(
        parser,
        "--max-batch-response-bytes",
        setting="max_batch_response_bytes",
        type=int,
        help="a $batch answer's budget; items past it are answered with an error",
    )
    option(
        parser,
        "--allowed-hosts",
        setting="allowed_hosts",
        type=comma_list,
        help="Host values answered, comma-separated (default: the bound host and its localhost forms)",
    )
    option(
        parser,
        "--forwarded-allow-ips",
        setting="forwarded_allow_ips",
        type=comma_list,
        help="addresses whose X-Forwarded-* headers are believed, comma-separated (default: none)",
    )


def _traffic_options(parser: argparse.ArgumentParser) -> None:
    option(
        parser,
        "--throttle",
        setting="throttle",
        help="off, intune (Intune's documented limits) or custom numbers, e.g. "
        "'window=20,tenant_writes=200,app_writes=100,tenant_requests=2000,app_requests=1000' "
        "(a number left out keeps intune's)",
    )
    option(
        parser,
        "--redis",
        setting="redis_url",
        help="redis://host:port/db to keep throttling counters in (default: the database)",
    )
    option(
        parser,
        "--faults",
        setting="faults_file",
        type=readable_file,
        help="a JSON file of fault and latency injection rules to start with (see docs/resilience.md)",
    )
    option(
        parser,
        "--journal-size",
        setting="journal_size",
        type=int,
        help="requests kept per tenant in the request journal (graphtasks requests); 0 keeps none",
    )
    option(
        parser,
        "--licence-cache",
        setting="licence_cache_s",
        type=float,
        help="seconds a tenant's licence is believed before the tenant registry is read again",
    )
    option(
        parser,
        "--admin-key-required",
        setting="admin_key_required",
        action="store_true",
        help="ask for the admin key even from this machine (a loopback-bound server does not)",
    )
    option(
        parser,
        "--load",
        setting="load_file",
        type=readable_file,
        help="a JSON file of tasks to add at start (an export, a collection answer or a list of tasks)",
    )
    option(
        parser,
        "--load-tenant",
        setting="load_tenant",
        type=guid,
        help="the tenant --load adds tasks to, when the file does not name one",
    )


def _trusted_issuers(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    trusted = [(issuer, jwks) for issuer, jwks in args.trust_issuer]
    if args.trust_entra is not None:
        cloud = cloud_named(args.cloud)
        jwks = args.trust_entra or cloud.entra_jwks_url
        trusted += [(issuer, jwks) for issuer in cloud.entra_issuers]
    for _, jwks in trusted:
        _check_key_set(jwks)
    return tuple(trusted)


def _check_key_set(location: str) -> None:
    """A key set in a file is read now, so a wrong path fails at start, not at the first token. One at
    a URL is fetched when a token needs it (the network may come later than the server)."""
    from graphtasks.auth.jwks import parse_jwks

    if location.startswith(("https://", "http://")):
        return
    try:
        parse_jwks(Path(readable_file(location)).read_bytes())
    except (argparse.ArgumentTypeError, ValueError) as error:
        raise CliError(f"trusted key set: {error}") from None


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    tls = _tls(args)
    _check_port_free(settings)
    raise_descriptor_limit(settings)  # workers inherit it
    if args.workers == 1:
        _serve_in_process(settings, tls)
    else:
        _prepare_database(settings)
        _serve_workers(settings, tls, args.workers)
    return 0


def settings_from_arguments(arguments: list[str]) -> Settings:
    """The Settings `graphtasks serve ARGUMENTS` would run with (for a server made in process)."""
    parser = argparse.ArgumentParser(prog="graphtasks")
    add_parser(parser.add_subparsers(dest="command"))
    return _settings(parser.parse_args(["serve", *arguments]))


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
        request_log=not args.quiet,
        log_format=args.log_format,
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
        journal_size=args.journal_size,
        licence_cache_s=args.licence_cache,
        admin_key_required=args.admin_key_required,
        load_file=args.load,
        load_tenant=args.load_tenant,
        query_timeout_s=args.query_timeout,
        tenant_concurrency=args.tenant_concurrency,
        max_response_bytes=args.max_response_bytes,
        max_batch_response_bytes=args.max_batch_response_bytes,
        allowed_hosts=args.allowed_hosts,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )


def _prepare_database(settings: Settings) -> None:
    """--faults and --load for the worker processes, done once, here, on a connection of its own; and
    a --redis that cannot be used is refused here, once."""
    from graphtasks.app import open_backend, redis_counters

    if settings.redis_url is not None:  # the workers would each fail later, one traceback apiece
        redis_counters(settings.redis_url).close()
    backend = open_backend(settings)
    try:
        _prepare(backend, settings)
    finally:
        backend.database.dispose()


def _prepare(backend: Backend, settings: Settings) -> None:
    """Put the --faults plan in force and add the --load tasks, once, at start: an app (or a worker
    uvicorn restarts later) never does, so nothing undoes a change made at run time."""
    from graphtasks.app import fault_plans, install_faults_file, load_tasks_file

    if settings.faults_file is not None:
        install_faults_file(fault_plans(backend.database), settings.faults_file)
    if settings.load_file is not None:
        added = load_tasks_file(backend.store, settings.load_file, settings.load_tenant)
        print(f"graphtasks: {added} tasks loaded from {settings.load_file}", flush=True)


def _serve_in_process(settings: Settings, tls: TlsFiles | None) -> None:
    import uvicorn

    from graphtasks.allocator import return_large_blocks
    from graphtasks.app import create_app, open_backend

    return_large_blocks()
    backend = open_backend(settings)
    _prepare(backend, settings)
    app = create_app(settings, backend=backend)
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


def _check_port_free(settings: Settings) -> None:
    """Fail before the banner, in one line, when the address is taken (a second server, say); uvicorn
    would print the banner's promise first and its own error after."""
    try:
        family = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((settings.host, settings.port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CliError(
                f"{settings.host}:{settings.port} is already in use",
                "is another graphtasks serve running? choose another port with --port",
            ) from None
        raise CliError(
            f"cannot listen on {settings.host}:{settings.port}: {error.strerror or error}"
        ) from None


def log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging, with the request log's logger (web/request_log.py) writing its lines, as they
    are, to stdout; uvicorn's own access log stays off. Applied in every worker process too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["requests"] = {"format": "%(message)s"}
    config["handlers"]["requests"] = {
        "class": "logging.StreamHandler",
        "formatter": "requests",
        "stream": "ext://sys.stdout",
    }
    level = "INFO" if settings.request_log else "WARNING"
    config["loggers"][REQUEST_LOGGER] = {"handlers": ["requests"], "level": level, "propagate": False}
    return config


def _uvicorn_options(settings: Settings, tls: TlsFiles | None) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "access_log": False,
        "log_level": "warning",
        "log_config": log_config(settings),
        "server_header": False,
        "ssl_certfile": None if tls is None else str(tls.certificate),
        "ssl_keyfile": None if tls is None else str(tls.key),
        # X-Forwarded-Proto and -For believed from --forwarded-allow-ips only. uvicorn's own default
        # believes 127.0.0.1 and ::1 (or $FORWARDED_ALLOW_IPS): any local process could then choose the
        # scheme of every link, and the address an assertion's first use is remembered with.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": list(settings.forwarded_allow_ips) or None,
        **connection_options(settings),
    }


def _tls(args: argparse.Namespace) -> TlsFiles | None:
    if bool(args.cert) != bool(args.key):
        raise ValueError("give --cert and --key together")
    if args.cert:
        files = TlsFiles(Path(args.cert), Path(args.key))
    elif args.tls:
        files = local_tls(Path(args.tls_dir), args.host)
    else:
        return None
    try:  # as uvicorn will load them, but now, before the banner promises HTTPS
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(files.certificate, files.key)
    except ssl.SSLError as error:
        raise CliError(
            f"cannot serve HTTPS with {files.certificate} and {files.key}: {error.reason or error}",
            "give a PEM certificate and its own private key",
        ) from None
    return files


def token_command(settings: Settings) -> str:
    """The `graphtasks token` command line whose tokens this server accepts: same database (so the same
    key), cloud (the audience) and issuer."""
    if settings.database_url == MEMORY_DATABASE:
        return shlex.join(["graphtasks", "token", "--url", f"http://{settings.host}:{settings.port}"])
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    words = ["graphtasks", "token", "--database", database]
    if settings.cloud_name != SETTING_DEFAULTS["cloud_name"]:
        words += ["--cloud", settings.cloud_name]
    if settings.issuer is not None:
        words += ["--issuer", settings.issuer]
    return shlex.join(words)


def _database_lines(settings: Settings) -> list[str]:
    group_commit = f"group commit: {'on' if settings.group_commit else 'off'}"
    if settings.database_url == MEMORY_DATABASE:
        return [
            "  database   memory (nothing written to disk; gone when the server stops)",
            f"             ({group_commit})",
        ]
    url = make_url(settings.database_url)
    flush = (
        settings.flush_to_disk if settings.flush_to_disk is not None else url.get_backend_name() != "sqlite"
    )
    return [
        f"  database   {url.render_as_string(hide_password=True)}",
        f"             (flush to disk: {'on' if flush else 'off'}; {group_commit})",
    ]


def banner(settings: Settings, tls: TlsFiles | None = None, *, workers: int = 1) -> str:
    """What `graphtasks serve` prints before it listens: where, which database, cloud, issuers, TLS."""
    where = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    lines = [
        f"graphtasks {__version__}: Microsoft Graph beta, deviceAppManagementTasks",
        f"  listening  {where}/beta/deviceAppManagement/deviceAppManagementTasks",
        *([f"             ({workers} worker processes)"] if workers > 1 else []),
        f"  public URL {settings.base_url or '(from each request Host header)'}",
        f"  hosts      {allowed_hosts(settings).describe()}"
        + (
            f"; X-Forwarded-* from {', '.join(settings.forwarded_allow_ips)}"
            if settings.forwarded_allow_ips
            else ""
        ),
        *_database_lines(settings),
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
        f"  issuer     {issuer_for(settings.issuer_base(settings.base_url or where), '{tenant}')}"
        f"  keys: {where}/common/discovery/v2.0/keys",
        *(f"  trusted    {issuer}  keys: {jwks}" for issuer, jwks in settings.trusted_issuers),
        f"  token      {token_command(settings)}",
        f"             (default tenant {DEFAULT_TENANT}; --tenant, --roles, --scopes, --expires)",
    ]
    if tls is not None and tls.authority is not None:
        lines.append(f"  TLS        trust the local CA: export REQUESTS_CA_BUNDLE={tls.authority.resolve()}")
        lines.append(
            f"             (and SSL_CERT_FILE={tls.authority.resolve()} for httpx and the Graph SDK)"
        )
    return "\n".join(lines)
