"""The console's sign-in (web/console.py) and what its session may do (auth/admin.py): on a server
bound to every address the console asks for the admin key, a wrong key is refused, the right one gives
an HttpOnly, SameSite=Strict cookie and an anti-forgery token, and the admin endpoints take the cookie
only with that token; a request a browser marks as another site's is refused whatever it carries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from graphtasks.auth.admin import AdminAccess, admin_key
from graphtasks.auth.console_sessions import COOKIE_NAME, CSRF_HEADER, ConsoleSessions
from graphtasks.cli.serve import banner
from graphtasks.config import Settings
from graphtasks.errors import CrossSiteRefused, Unauthorized
from tests.support.server import Server, sqlite_server

FAULTS = "/graphtasks/admin/faults"


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server bound to every address: the admin key is needed even from this machine."""
    with sqlite_server(tmp_path_factory.mktemp("console-exposed"), "--host", "0.0.0.0") as server:  # noqa: S104
        yield server


def sign_in(server: Server, key: str) -> httpx.Response:
    return httpx.post(f"{server.url}/console/session", json={"adminKey": key}, timeout=30.0)


def test_the_page_is_served_with_a_policy_that_allows_only_its_own_origin(exposed: Server) -> None:
    page = httpx.get(f"{exposed.url}/console", timeout=30.0)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_console_asks_for_the_key_and_refuses_a_wrong_one(exposed: Server) -> None:
    state = httpx.get(f"{exposed.url}/console/session", timeout=30.0).json()
    assert (state["signedIn"], state["keyRequired"], state["csrfToken"]) == (False, True, None)
    refused = sign_in(exposed, "not-the-key")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "set-cookie" not in refused.headers


def test_the_key_opens_a_session_whose_cookie_needs_its_token(exposed: Server) -> None:
    with httpx.Client(base_url=exposed.url, timeout=30.0) as browser:
        opened = browser.post("/console/session", json={"adminKey": admin_key(exposed.keys())})
        assert opened.status_code == 200, opened.text
        state = opened.json()
        assert state["signedIn"] is True and state["csrfToken"]
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        assert {"HttpOnly", "SameSite=Strict", "Path=/"} <= {part.strip() for part in cookie.split(";")}
        assert "Secure" not in cookie  # plain HTTP here; under TLS the cookie is Secure
        assert browser.get("/console/session").json()["csrfToken"] == state["csrfToken"]
        assert browser.get(FAULTS).status_code == 401  # the cookie alone
        assert browser.get(FAULTS, headers={CSRF_HEADER: "forged"}).status_code == 401
        assert browser.get(FAULTS, headers={CSRF_HEADER: state["csrfToken"]}).status_code == 200
        # Signed out: the browser forgets the cookie.
        assert browser.delete("/console/session").status_code == 204
        assert COOKIE_NAME not in browser.cookies
        assert browser.get(FAULTS, headers={CSRF_HEADER: state["csrfToken"]}).status_code == 401


def test_a_request_another_site_s_page_sends_is_refused_even_with_the_key(exposed: Server) -> None:
    key = admin_key(exposed.keys())
    for headers in ({"Origin": "https://attacker.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = httpx.get(
            f"{exposed.url}{FAULTS}", headers={"Authorization": f"Bearer {key}", **headers}, timeout=30.0
        )
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "Forbidden"
    assert sign_in(exposed, key).status_code == 200
    forged = httpx.post(
        f"{exposed.url}/console/session",
        json={"adminKey": key},
        headers={"Origin": "null"},
        timeout=30.0,
    )
    assert forged.status_code == 403


def test_the_same_origin_is_not_another_site(exposed: Server) -> None:
    key = admin_key(exposed.keys())
    origin = exposed.url  # what a page of the console sends
    headers = {"Authorization": f"Bearer {key}", "Origin": origin, "Sec-Fetch-Site": "same-origin"}
    assert httpx.get(f"{exposed.url}{FAULTS}", headers=headers, timeout=30.0).status_code == 200


# --- AdminAccess with sessions, for what no real browser here sends ---


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "client": ("10.0.0.5", 1), "headers": [(b"host", b"graph.example"), *headers]}


def test_admin_access_takes_a_session_only_with_its_token() -> None:
    sessions = ConsoleSessions(b"k" * 32)
    access = AdminAccess("the-key", loopback_trusted=False, sessions=sessions)
    opened = sessions.open()
    cookie = (b"cookie", f"theme=dark; {COOKIE_NAME}={opened.cookie}".encode())
    access.check(_scope(cookie, (CSRF_HEADER.encode(), opened.csrf_token.encode())), None)
    with pytest.raises(Unauthorized):
        access.check(_scope(cookie), None)
    with pytest.raises(Unauthorized):
        AdminAccess("the-key", loopback_trusted=False).check(
            _scope(cookie, (CSRF_HEADER.encode(), opened.csrf_token.encode())), None
        )
    with pytest.raises(CrossSiteRefused):
        access.check(_scope(cookie, (b"origin", b"https://graph.example.attacker")), "Bearer the-key")


def test_behind_a_proxy_the_public_url_is_the_console_s_origin() -> None:
    access = AdminAccess("the-key", loopback_trusted=False, public_url="https://Tasks.Example/graph/")
    public = (b"origin", b"https://tasks.example")
    access.check(_scope(public), "Bearer the-key")  # the proxy's Host is graph.example
    with pytest.raises(CrossSiteRefused):
        access.check(_scope((b"origin", b"https://other.example")), "Bearer the-key")


@pytest.mark.parametrize(
    ("settings", "line"),
    [
        (Settings(port=8123), "  console    http://127.0.0.1:8123/console"),
        (Settings(base_url="https://tasks.example/"), "  console    https://tasks.example/console"),
    ],
)
def test_the_banner_prints_the_console_s_address(settings: Settings, line: str) -> None:
    assert line in banner(settings).splitlines()
