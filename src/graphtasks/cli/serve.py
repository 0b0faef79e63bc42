"""`graphtasks serve`: its flags (one per Settings field that config.py describes as one, in the fields'
order, with the few of its own: the trusted issuers, --quiet, TLS), the Settings they make, the banner
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
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from graphtasks import __version__
from graphtasks.auth.tokens import issuer_for
from graphtasks.cli.common import (
    SETTING_DEFAULTS,
    SETTING_FLAGS,
    CliError,
    option,
    readable_file,
    setting_arguments,
    setting_option,
)
from graphtasks.clouds import cloud_named
from graphtasks.config import DEFAULT_TENANT, MEMORY_DATABASE, REQUEST_LOGGER, Settings
from graphtasks.tls import TlsFiles, local_tls
from graphtasks.web.connections import connection_options, raise_descriptor_limit
from graphtasks.web.hosts import allowed_hosts

if TYPE_CHECKING:
    from graphtasks.app import Backend


def add_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the Graph server")
    for field in fields(Settings):  # in their order, which is --help's
        if field.name in _OWN_OPTIONS:
            _OWN_OPTIONS[field.name](serve)
        elif field.name in SETTING_FLAGS:
            setting_option(serve, field.name)
    _tls_options(serve)


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


def _quiet_option(parser: argparse.ArgumentParser) -> None:
    option(parser, "--quiet", action="store_true", help="no request log (errors are still logged)")


def _tls_options(parser: argparse.ArgumentParser) -> None:
    option(parser, "--tls", action="store_true", help="serve HTTPS with a certificate from a local CA")
    option(parser, "--tls-dir", default="./graphtasks-tls", help="where the local CA lives")
    option(parser, "--cert", type=readable_file, help="your own certificate (PEM); with --key")
    option(parser, "--key", type=readable_file, help="your own certificate's private key (PEM)")


# The Settings fields whose flags are not the field itself, declared at the field's place: the trusted
# issuers come from --trust-issuer and --trust-entra, and request_log is --quiet the other way round.
_OWN_OPTIONS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "trusted_issuers": _trust_options,
    "request_log": _quiet_option,
}


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
    if settings.workers == 1:
        _serve_in_process(settings, tls)
    else:
        _prepare_database(settings)
        _serve_workers(settings, tls, settings.workers)
    return 0


def settings_from_arguments(arguments: list[str]) -> Settings:
    """The Settings `graphtasks serve ARGUMENTS` would run with (for a server made in process)."""
    parser = argparse.ArgumentParser(prog="graphtasks")
    add_parser(parser.add_subparsers(dest="command"))
    return _settings(parser.parse_args(["serve", *arguments]))


def _settings(args: argparse.Namespace) -> Settings:
    """Each field with a flag takes its value; the fields of _OWN_OPTIONS are made from theirs here."""
    return Settings(
        **setting_arguments(args), trusted_issuers=_trusted_issuers(args), request_log=not args.quiet
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
        f"  console    {settings.base_url.rstrip('/') if settings.base_url else where}/console",
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
