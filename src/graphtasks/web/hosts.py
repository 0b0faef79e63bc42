"""The Host values the server answers to, and the origins it knows as its own.

HostCheck, a layer in front of the router (web/application.py), refuses a request whose Host is not
allowed, with http.sys's 400 "Bad Request - Invalid Hostname" in Graph's shape, before anything reads
the request: links (@odata.nextLink, Location), the OpenAPI document and the identity endpoints all build
on the Host of a request that got through (web/requests.py, base_url). A client assertion's audience is
checked against own_origins instead, which the settings alone decide, never a header.

What is allowed (docs/resilience.md, "Host and forwarded headers"):
- with --allowed-hosts, exactly its entries: `name` (at any port) or `name:port`, `*` for any Host;
- without, the bound address with its port; bound to loopback, also localhost, 127.0.0.1 and [::1];
  bound to every address (0.0.0.0, ::), any Host: the server cannot know the names it is reached by
  (its banner says so), and own_origins are then the loopback names, which reach it too;
- always --base-url's host, the server's declared public name.
A Host without a port matches an entry of its name whatever the entry's port. A request without a Host
(HTTP/1.0) is answered: its links name the bound address.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from graphtasks.config import LOOPBACK_HOSTS, Settings
from graphtasks.errors import BadRequest

# RFC 9110 §7.2 (Host = uri-host [ ":" port ]), as far as a server's own names go: a registered name or
# IPv4 address, or an IPv6 address in brackets.
_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::(?P<port>[0-9]{1,5}))?")
_EVERY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - recognised, not bound to
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_HOST = "*"


class InvalidHostname(BadRequest):
    """http.sys's answer to a Host it does not serve ("HTTP 400 Bad Request when client sends invalid
    HTTP:Host header value", IIS support blog), in Graph's error shape."""

    def __init__(self) -> None:
        super().__init__("Bad Request - Invalid Hostname")


@dataclass(frozen=True)
class HostName:
    """A host as a Host header or an --allowed-hosts entry names it, lower case; port None: none given."""

    name: str
    port: int | None

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"


def parse_host(text: str) -> HostName | None:
    """`name`, `name:port`, `[v6]` or `[v6]:port`; None for anything else."""
    match = _HOST.fullmatch(text.lower())
    if match is None:
        return None
    port = None if match["port"] is None else int(match["port"])
    return None if port is not None and port > 65535 else HostName(match["name"], port)


class AllowedHosts:
    def __init__(self, entries: Iterable[HostName], *, any_host: bool) -> None:
        self.entries = frozenset(entries)
        self.any_host = any_host
        self._names = frozenset(entry.name for entry in self.entries)
        # Host values as clients send them, for the common case of one set lookup per request.
        self._exact = frozenset(str(entry).encode("latin-1") for entry in self.entries)

    def allows(self, host: bytes) -> bool:
        if self.any_host or host in self._exact:
            return True
        lowered = host.lower()
        if lowered in self._exact:
            return True
        parsed = parse_host(lowered.decode("latin-1"))
        if parsed is None:
            return False
        if parsed.port is None:
            return parsed.name in self._names
        return parsed in self.entries or HostName(parsed.name, None) in self.entries

    def own_origins(self, scheme: str) -> tuple[str, ...]:
        """`scheme://host[:port]` for each entry, and without the port too where it is the scheme's
        default (a client may leave it out)."""
        origins: list[str] = []
        for entry in sorted(self.entries, key=str):
            origins.append(f"{scheme}://{entry}")
            if entry.port is not None and entry.port == _DEFAULT_PORTS.get(scheme):
                origins.append(f"{scheme}://{entry.name}")
        return tuple(dict.fromkeys(origins))

    def describe(self) -> str:
        """For the banner."""
        named = ", ".join(sorted(str(entry) for entry in self.entries))
        return f"any Host (--allowed-hosts restricts them); own names {named}" if self.any_host else named


@functools.cache
def allowed_hosts(settings: Settings) -> AllowedHosts:
    """The settings' allowed hosts; ValueError names an entry that is not a host."""
    given = [text for text in settings.allowed_hosts if text != ANY_HOST]
    entries = [_entry(text) for text in given] if given else _bound_names(settings)
    if settings.base_url is not None:
        entries.append(_entry(urlsplit(settings.base_url).netloc, flag="--base-url"))
    bound_everywhere = settings.host.lower() in _EVERY_ADDRESS
    any_host = ANY_HOST in settings.allowed_hosts or (not settings.allowed_hosts and bound_everywhere)
    return AllowedHosts(entries, any_host=any_host)


def _entry(text: str, *, flag: str = "--allowed-hosts") -> HostName:
    parsed = parse_host(text.strip())
    if parsed is None:
        raise ValueError(f"{flag}: {text!r} is not a host name, address or host:port")
    return parsed


def _bound_names(settings: Settings) -> list[HostName]:
    """The address the server listens on, with its port (0, any port: the system picks one)."""
    port = settings.port or None
    host = settings.host.lower()
    if host in LOOPBACK_HOSTS or host in _EVERY_ADDRESS:
        return [HostName(name, port) for name in _LOOPBACK_NAMES]
    return [HostName(f"[{host}]" if ":" in host else host, port)]


class HostCheck:
    """The ASGI layer that answers a disallowed Host with InvalidHostname (which the context middleware
    around it renders); an inner $batch request carries its batch's Host and passes again."""

    def __init__(self, app: ASGIApp, hosts: AllowedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.hosts.any_host:
            host = next((value for name, value in scope["headers"] if name == b"host"), None)
            if host is not None and not self.hosts.allows(bytes(host)):
                raise InvalidHostname()
        await self.app(scope, receive, send)
