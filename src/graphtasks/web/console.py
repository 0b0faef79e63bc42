"""The web console at /console: its page and assets (graphtasks/console/, shipped in the package: no CDN,
nothing built at install), and its sign-in.

The console is a page that calls the same Graph and admin APIs any client calls: it mints a Graph token
for the tenant shown through the admin API and sends it as a bearer token, so it can do nothing a client
could not. What it adds is the session (auth/console_sessions.py): on a server that asks for the admin
key, the page posts the key once to /console/session and gets an HttpOnly, SameSite=Strict cookie
(Secure under TLS) and the anti-forgery token its admin requests must carry. On a loopback bind the
admin API answers this machine without the key (auth/admin.py), so the console opens without sign-in.

The page's Content-Security-Policy allows nothing but its own origin: no inline script, no other site.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from starlette.requests import Request
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from graphtasks.auth.admin import AdminAccess, check_admin
from graphtasks.auth.console_sessions import COOKIE_NAME, ConsoleSessions
from graphtasks.config import DEFAULT_TENANT, Settings
from graphtasks.errors import BadRequest
from graphtasks.web.bodies import read_json
from graphtasks.web.responses import GraphResponse

CONSOLE_PATH = "/console"
SESSION_PATH = f"{CONSOLE_PATH}/session"
ASSETS = Path(str(files("graphtasks") / "console"))
# A sign-in body holds one key of about 43 characters.
SIGN_IN_LIMIT = 4 * 1024
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def console_routes(settings: Settings, access: AdminAccess, sessions: ConsoleSessions) -> list[BaseRoute]:
    # Read once, here: a file read on the event loop for every page view would block it.
    index = (ASSETS / "index.html").read_bytes()

    async def page(_request: Request) -> ASGIApp:
        return GraphResponse(200, (index,), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    async def session(request: Request) -> ASGIApp:
        return GraphResponse.json(_session_state(request, settings, access))

    async def sign_in(request: Request) -> ASGIApp:
        access.refuse_cross_site(request.scope)
        body = await read_json(request, limit=SIGN_IN_LIMIT)
        key = body.get("adminKey") if isinstance(body, dict) else None
        if not isinstance(key, str):
            raise BadRequest('Sign in with {"adminKey": "..."}: the key `graphtasks faults key` prints.')
        check_admin(f"Bearer {key}", access.key)
        opened = sessions.open()
        state = _session_state(request, settings, access)
        cookie = _cookie(opened.cookie, request, max_age=sessions.lifetime_s)
        return GraphResponse.json(
            {**state, "signedIn": True, "csrfToken": opened.csrf_token}, headers={"Set-Cookie": cookie}
        )

    async def sign_out(request: Request) -> ASGIApp:
        access.refuse_cross_site(request.scope)
        return GraphResponse.empty(headers={"Set-Cookie": _cookie("", request, max_age=0)})

    return [
        Route(CONSOLE_PATH, page, methods=["GET"]),
        Route(SESSION_PATH, session, methods=["GET"]),
        Route(SESSION_PATH, sign_in, methods=["POST"]),
        Route(SESSION_PATH, sign_out, methods=["DELETE"]),
        Mount(f"{CONSOLE_PATH}/assets", StaticFiles(directory=ASSETS / "assets"), name="console-assets"),
    ]


def _session_state(request: Request, settings: Settings, access: AdminAccess) -> dict[str, object]:
    """What the page needs to start: whether it must ask for the key, the session's anti-forgery token
    if it has one, and the tenant to show first."""
    token = access.console_token(request.scope)
    key_required = not access.keyless(request.scope)
    return {
        "signedIn": token is not None or not key_required,
        "keyRequired": key_required,
        "csrfToken": token,
        "defaultTenant": DEFAULT_TENANT,
        "journal": settings.journal_size > 0,
    }


def _cookie(value: str, request: Request, *, max_age: int) -> str:
    secure = "; Secure" if request.url.scheme == "https" else ""
    return f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}"
