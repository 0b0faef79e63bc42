"""The web console on a server bound to every address, where the admin API is not loopback-trusted: the
page asks for the admin key, refuses a wrong one and opens with the right one, and the session it gets
works for the page alone, with its anti-forgery token.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.browser.conftest import DESKTOP, screenshot, serious_violations
from tests.browser.console_pages import watch
from tests.support.server import Server, sqlite_server

from graphtasks.auth.admin import admin_key

FAULTS = "/graphtasks/admin/faults"


@pytest.fixture(scope="module")
def remote_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Bound to every address, not to loopback: what is under test.
    directory = tmp_path_factory.mktemp("remote-console")
    with sqlite_server(directory, "--host", "0.0.0.0") as server:  # noqa: S104
        yield server


@pytest.fixture
def remote_page(browser: Browser, remote_server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=remote_server.url)
    page = context.new_page()
    problems = watch(page)
    yield page
    context.close()
    assert problems == []


def sign_in(page: Page, key: str) -> None:
    page.get_by_label("Admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_the_console_asks_for_the_admin_key(remote_page: Page, remote_server: Server) -> None:
    remote_page.goto("/console")
    expect(remote_page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(remote_page.get_by_label("Admin key")).to_be_focused()
    expect(remote_page.get_by_role("navigation", name="Console sections")).to_be_hidden()
    screenshot(remote_page, "sign-in")

    sign_in(remote_page, "not-the-key")
    expect(remote_page.locator("#sign-in-error")).to_have_text(
        "The server refused this key. `graphtasks faults key` prints the right one."
    )
    expect(remote_page.get_by_label("Admin key")).to_have_attribute("aria-invalid", "true")

    sign_in(remote_page, admin_key(remote_server.keys()))
    expect(remote_page.get_by_role("heading", name="Security tasks")).to_be_visible()
    expect(remote_page.get_by_text("Signed in with the admin key")).to_be_visible()
    expect(remote_page.locator("td.empty")).to_have_text("No tasks match these filters.")


def test_an_admin_request_needs_the_session_and_its_token(remote_page: Page, remote_server: Server) -> None:
    remote_page.goto("/console")
    sign_in(remote_page, admin_key(remote_server.keys()))
    expect(remote_page.get_by_role("heading", name="Security tasks")).to_be_visible()
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in remote_page.context.cookies())
    csrf = remote_page.evaluate("fetch('/console/session').then((r) => r.json()).then((s) => s.csrfToken)")

    def faults(headers: dict[str, str]) -> int:
        return httpx.get(remote_server.url + FAULTS, headers=headers).status_code

    assert faults({}) == 401
    assert faults({"Cookie": cookie}) == 401
    assert faults({"X-CSRF-Token": csrf}) == 401
    assert faults({"Cookie": cookie, "X-CSRF-Token": csrf}) == 200


def test_signing_out_asks_for_the_key_again(remote_page: Page, remote_server: Server) -> None:
    remote_page.goto("/console#/faults")
    sign_in(remote_page, admin_key(remote_server.keys()))
    expect(remote_page.get_by_role("heading", name="Faults and throttling")).to_be_visible()

    remote_page.get_by_role("button", name="Sign out").click()

    expect(remote_page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert remote_page.context.cookies() == []
    remote_page.reload()
    expect(remote_page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_sign_in_page_has_no_serious_accessibility_violations(
    browser: Browser, remote_server: Server, axe_source: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, base_url=remote_server.url)
    page = context.new_page()
    page.goto("/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

    violations = serious_violations(page, axe_source)

    context.close()
    assert [v["id"] for v in violations] == []
