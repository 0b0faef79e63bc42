"""The `graphtasks` command: serve, token, --version. Flags fall back to GRAPHTASKS_* environment
variables, then to the defaults in config.py; everything ends up in one Settings value.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from graphtasks import __version__
from graphtasks.auth.permissions import ALL_PERMISSIONS
from graphtasks.auth.tokens import TokenRequest, issue_token, issuer_for, parse_permissions
from graphtasks.clouds import CLOUDS, cloud_named
from graphtasks.config import DEFAULT_DATABASE, DEFAULT_ISSUER, DEFAULT_TENANT, Settings
from graphtasks.tls import TlsFiles, local_tls

if TYPE_CHECKING:
    from graphtasks.app import Backend

_DURATION = re.compile(r"(-?\d+)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_attach_negative_durations(sys.argv[1:] if argv is None else list(argv)))
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "token":
            return _token(args)
        if args.command == "seed":
            return _seed(args)
        if args.command == "apps":
            return _apps(args)
        if args.command == "tenants":
            return _tenants(args)
    except ValueError as error:
        print(f"graphtasks: {error}", file=sys.stderr)
        return 2
    _parser().print_help()
    return 2


def _attach_negative_durations(argv: list[str]) -> list[str]:
    """argparse reads '--expires -10m' as two options; '--expires=-10m' is what is meant."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] == "--expires" and arg.startswith("-"):
            joined[-1] = f"--expires={arg}"
        else:
            joined.append(arg)
    return joined


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphtasks", description=__doc__)
    parser.add_argument("--version", action="version", version=f"graphtasks {__version__}")
    commands = parser.add_subparsers(dest="command")
    _serve_parser(commands)
    _seed_parser(commands)
    _apps_parser(commands)
    _tenants_parser(commands)
    _token_parser(commands)
    return parser


def _serve_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the Graph server")
    _database_options(serve)
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to listen on")
    serve.add_argument("--port", type=int, default=_env_int("PORT", 8000), help="port to listen on")
    serve.add_argument(
        "--base-url", default=_env("BASE_URL"), help="public base URL, e.g. https://graph.example"
    )
    serve.add_argument("--clock-skew", type=int, default=_env_int("CLOCK_SKEW", 60), help="token leeway, s")
    _cloud_option(serve)
    _trust_options(serve)
    serve.add_argument(
        "--flush-to-disk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fsync every commit (default: off on SQLite, on on PostgreSQL)",
    )
    serve.add_argument(
        "--page-size",
        type=int,
        default=_env_int("PAGE_SIZE", 1000),
        help="tasks per page, 1..1000 (Intune's default and most is 1000)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument("--tls", action="store_true", help="serve HTTPS with a certificate from a local CA")
    serve.add_argument(
        "--tls-dir", default=_env("TLS_DIR", "./graphtasks-tls"), help="where the local CA lives"
    )
    serve.add_argument("--cert", default=_env("CERT"), help="your own certificate (PEM); with --key")
    serve.add_argument("--key", default=_env("KEY"), help="your own certificate's private key (PEM)")


def _seed_parser(commands: Any) -> None:
    seed = commands.add_parser("seed", help="bulk-load realistic tasks of all types")
    _database_options(seed)
    seed.add_argument("--count", type=int, required=True, help="how many tasks")
    seed.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant id (tid) that owns them")
    seed.add_argument("--seed", type=int, default=0, help="random seed (same seed, same tasks)")


def _token_parser(commands: Any) -> None:
    token = commands.add_parser("token", help="print a bearer token for this server")
    _database_options(token)
    _cloud_option(token)
    token.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant id (tid)")
    token.add_argument("--roles", nargs="+", help="application permissions (default: all four)")
    token.add_argument("--scopes", nargs="+", help="delegated permissions: makes a user token (scp)")
    token.add_argument("--user", help="the signed-in user of a delegated token (upn)")
    token.add_argument(
        "--expires", default="3600", help="lifetime: seconds or 10m / 2h / 1d; negative = expired"
    )


def _cloud_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cloud",
        choices=list(CLOUDS),
        default=_env("CLOUD", "global"),
        help="the Microsoft cloud to stand in for: its Graph host is the token audience and the "
        "host @odata.context names; its Entra hosts make up --trust-entra's issuers",
    )


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


def _trusted_issuers(args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    trusted = [(issuer, jwks) for issuer, jwks in args.trust_issuer]
    if args.trust_entra is not None:
        cloud = cloud_named(args.cloud)
        jwks = args.trust_entra or cloud.entra_jwks_url
        trusted += [(issuer, jwks) for issuer in cloud.entra_issuers]
    return tuple(trusted)


def _apps_parser(commands: Any) -> None:
    apps = commands.add_parser("apps", help="app registrations of the token service")
    actions = apps.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register an app; prints its client id and secret, once")
    remove = actions.add_parser("remove", help="delete an app registration")
    rotate = actions.add_parser("rotate-secret", help="replace an app's secret; prints the new one, once")
    listing = actions.add_parser("list", help="list app registrations (never their secrets)")
    certify = actions.add_parser(
        "add-certificate", help="register a certificate whose key may sign the app's client assertions"
    )
    uncertify = actions.add_parser("remove-certificate", help="remove a certificate from an app")
    changes = (remove, rotate, certify, uncertify)
    for parser in (add, listing, *changes):
        _database_options(parser)
        parser.add_argument("--json", action="store_true", help="print JSON")
    for parser in (add, *changes):
        parser.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant id (tid)")
    listing.add_argument("--tenant", help="only this tenant's apps")
    for parser in changes:
        parser.add_argument("--client-id", required=True, help="the app's client id")
    add.add_argument("--permission", nargs="+", default=list(ALL_PERMISSIONS), help="application permissions")
    add.add_argument("--name", default="graphtasks app", help="display name")
    add.add_argument("--certificate", help="also register this certificate (PEM, public part only)")
    certify.add_argument("--certificate", required=True, help="PEM file of the certificate, public part only")
    uncertify.add_argument(
        "--thumbprint", required=True, help="the certificate's SHA-1 or SHA-256 thumbprint"
    )


def _tenants_parser(commands: Any) -> None:
    tenants = commands.add_parser("tenants", help="the tenant registry and Intune licences")
    actions = tenants.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="add a tenant, or change its name or licence")
    remove = actions.add_parser("remove", help="remove a tenant from the registry")
    listing = actions.add_parser("list", help="list the registered tenants")
    for parser in (add, remove, listing):
        _database_options(parser)
        parser.add_argument("--json", action="store_true", help="print JSON")
    for parser in (add, remove):
        parser.add_argument("--tenant", required=True, help="tenant id (a GUID)")
    add.add_argument("--name", default="", help="display name")
    add.add_argument(
        "--intune-license",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="whether the tenant may use Intune (default: yes)",
    )


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        default=_env("DATABASE", DEFAULT_DATABASE),
        help="sqlite:///path or postgresql://user@host/db",
    )
    parser.add_argument("--issuer", default=_env("ISSUER", DEFAULT_ISSUER), help="token issuer base URL")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"GRAPHTASKS_{name}", default)


def _env_int(name: str, default: int) -> int:
    return int(_env(name) or default)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from graphtasks.app import create_app

    settings = Settings(
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
        access_log=args.access_log,
        page_size=args.page_size,
    )
    tls = _tls(args)
    app = create_app(settings)
    print(_banner(settings, tls), flush=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        log_level="info" if settings.access_log else "warning",
        server_header=False,
        ssl_certfile=None if tls is None else str(tls.certificate),
        ssl_keyfile=None if tls is None else str(tls.key),
    )
    return 0


def _tls(args: argparse.Namespace) -> TlsFiles | None:
    if bool(args.cert) != bool(args.key):
        raise ValueError("give --cert and --key together")
    if args.cert:
        return TlsFiles(Path(args.cert), Path(args.key))
    return local_tls(Path(args.tls_dir), args.host) if args.tls else None


def _banner(settings: Settings, tls: TlsFiles | None = None) -> str:
    url = make_url(settings.database_url)
    where = f"{'https' if tls else 'http'}://{settings.host}:{settings.port}"
    flush = (
        settings.flush_to_disk if settings.flush_to_disk is not None else url.get_backend_name() != "sqlite"
    )
    lines = [
        f"graphtasks {__version__}: Microsoft Graph beta, deviceAppManagementTasks",
        f"  listening  {where}/beta/deviceAppManagement/deviceAppManagementTasks",
        f"  public URL {settings.base_url or '(from each request Host header)'}",
        f"  database   {url.render_as_string(hide_password=True)}",
        f"             (flush to disk: {'on' if flush else 'off'})",
        f"  cloud      {settings.cloud_name}: tokens for {settings.cloud.graph_url}",
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


@contextmanager
def _opened_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The database of --database, migrated, with its keys and stores; closed when the command ends."""
    from graphtasks.app import open_backend

    backend = open_backend(Settings(database_url=args.database, issuer=args.issuer))
    try:
        yield backend
    finally:
        backend.database.dispose()


def _token(args: argparse.Namespace) -> int:
    if args.roles and args.scopes:
        raise ValueError("give --roles (application token) or --scopes (delegated token), not both")
    delegated = args.scopes is not None or args.user is not None
    permissions = parse_permissions(args.scopes or args.roles or ALL_PERMISSIONS)
    request = TokenRequest(
        tenant_id=args.tenant,
        roles=() if delegated else permissions,
        scopes=permissions if delegated else None,
        user=args.user,
        expires_in=parse_duration(args.expires),
    )
    with _opened_backend(args) as backend:
        audience = cloud_named(args.cloud).graph_url
        print(issue_token(backend.keys, request, issuer_base=args.issuer, audience=audience))
    return 0


def _apps(args: argparse.Namespace) -> int:
    from graphtasks.auth.apps import hint, new_secret, parse_thumbprint, read_certificate
    from graphtasks.storage.base import AppRegistration

    with _opened_backend(args) as backend:
        store = backend.apps
        if args.action == "list":
            _print(args, [_app_json(app) for app in store.list(args.tenant and args.tenant.lower())])
            return 0
        tenant = args.tenant.lower()
        if args.action == "remove":
            if not store.remove(tenant, args.client_id):
                raise ValueError(f"no app {args.client_id} in tenant {tenant}")
            return 0
        if args.action == "add-certificate":
            certificate = read_certificate(args.certificate)
            if not store.add_certificate(tenant, args.client_id, certificate):
                raise ValueError(f"no app {args.client_id} in tenant {tenant}")
            _print(args, {"clientId": args.client_id, "thumbprint": certificate.sha1_thumbprint})
            return 0
        if args.action == "remove-certificate":
            thumbprint = parse_thumbprint(args.thumbprint)
            if not store.remove_certificate(tenant, args.client_id, thumbprint):
                raise ValueError(f"no certificate {thumbprint} on app {args.client_id} in tenant {tenant}")
            return 0
        secret, stored = new_secret()
        if args.action == "add":
            permissions = parse_permissions(args.permission)
            certificates = (read_certificate(args.certificate),) if args.certificate else ()
            app = AppRegistration(
                tenant, str(uuid.uuid4()), args.name, permissions, hint(secret), certificates
            )
            store.add(app, stored)
        elif not store.replace_secret(tenant, args.client_id, stored, hint(secret)):
            raise ValueError(f"no app {args.client_id} in tenant {tenant}")
        client_id = app.client_id if args.action == "add" else args.client_id
        _print(args, {"tenantId": tenant, "clientId": client_id, "clientSecret": secret})
        return 0


def _tenants(args: argparse.Namespace) -> int:
    from graphtasks.storage.base import Tenant

    with _opened_backend(args) as backend:
        if args.action == "list":
            _print(args, [_tenant_json(tenant) for tenant in backend.tenants.list()])
            return 0
        tenant_id = str(uuid.UUID(args.tenant))
        if args.action == "remove":
            if not backend.tenants.remove(tenant_id):
                raise ValueError(f"no tenant {tenant_id} in the registry")
            return 0
        tenant = Tenant(tenant_id, args.name or tenant_id, args.intune_license)
        backend.tenants.put(tenant)
        _print(args, _tenant_json(tenant))
        return 0


def _tenant_json(tenant: Any) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "displayName": tenant.display_name,
        "intuneLicense": tenant.intune_license,
    }


def _app_json(app: Any) -> dict[str, Any]:
    return {
        "tenantId": app.tenant_id,
        "clientId": app.client_id,
        "displayName": app.display_name,
        "permissions": list(app.permissions),
        "secretHint": app.secret_hint,
        # SHA-1 thumbprints, upper-case hex, as the Entra portal lists an app's certificates.
        "certificates": [certificate.sha1_thumbprint for certificate in app.certificates],
    }


def _print(args: argparse.Namespace, value: Any) -> None:
    """JSON under --json; otherwise one `name  value` line per field (the secret is shown once)."""
    if args.json:
        print(json.dumps(value, indent=2))
        return
    for item in value if isinstance(value, list) else [value]:
        for name, field in item.items():
            print(f"{name:<14} {' '.join(field) if isinstance(field, list) else field}")
        print()


def _seed(args: argparse.Namespace) -> int:
    from graphtasks.model.edm import ticks_from_unix_ns
    from graphtasks.storage.seeding import SeedRun
    from graphtasks.storage.sql import SqlTaskStore

    if args.count < 0:
        raise ValueError("--count must not be negative")
    run = SeedRun(args.tenant.lower(), args.seed, ticks_from_unix_ns(time.time_ns()), secrets.randbits(63))
    with _opened_backend(args) as backend:
        started = time.perf_counter()
        SqlTaskStore(backend.database).seed(run, args.count)
        elapsed = time.perf_counter() - started
    rate = args.count / max(elapsed, 1e-9)
    print(f"seeded {args.count} tasks for tenant {args.tenant} in {elapsed:.1f} s ({rate:,.0f}/s)")
    return 0


def parse_duration(text: str) -> int:
    """'3600' -> 3600, '10m' -> 600, '-5m' -> -300."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use seconds, or a number with s, m, h or d)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
