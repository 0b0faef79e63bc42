"""The web console's admin views in a real browser: the live request journal, app registrations and
tenants, and the fault plan, each checked by what the server then does for a client.

Each test works in a tenant of its own on the module's server; the fault plan is the server's, so the
test that edits it leaves none behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.browser.conftest import screenshot
from tests.browser.console_pages import create_showcase, open_console
from tests.integration.test_admin_registry import request_token
from tests.support.server import TASKS_PATH, Server

# How far the page is wider than the window: a long body must scroll in its own box, not the page.
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


# --- the journal ---


def test_the_journal_shows_a_new_request_without_a_reload(
    console: Page, api: httpx.Client, tenant: str
) -> None:
    create_showcase(api)
    open_console(console, tenant, "requests")
    expect(console.locator(".journal li").first).to_be_visible()
    console.evaluate("window.loadedOnce = true")

    api.get(TASKS_PATH, params={"$filter": "displayName eq 'journal probe'"})
    api.get(f"{TASKS_PATH}/no-such-task")

    probe = console.locator(".entry", has_text="displayName eq 'journal probe'")
    expect(probe).to_contain_text("200 OK")
    failed = console.locator(".entry").first
    expect(failed).to_contain_text("Failed 404 Not Found")
    expect(failed).to_contain_text(f"{TASKS_PATH}/no-such-task")
    assert console.evaluate("window.loadedOnce") is True

    failed.locator("summary").click()
    expect(failed.get_by_label("Response body")).to_contain_text('"code": "ResourceNotFound"')
    assert console.evaluate(OVERFLOW) <= 0
    screenshot(console, "requests")
    console.get_by_label("Status", exact=True).select_option("4xx")
    expect(probe).to_be_hidden()
    expect(failed).to_be_visible()
    console.get_by_label("Method").select_option("POST")
    expect(failed).to_be_hidden()


def test_the_console_hides_its_own_requests_unless_asked(
    console: Page, api: httpx.Client, tenant: str
) -> None:
    create_showcase(api)
    open_console(console, tenant, "tasks")
    expect(console.locator("table.grid tbody a").first).to_be_visible()
    console.get_by_role("link", name="Requests").click()
    expect(console.locator(".journal li:not([hidden])").first).to_be_visible()
    own = console.locator(".entry", has_text="$select=id,displayName")
    expect(own).to_be_hidden()

    console.get_by_label("Hide this console's own requests").uncheck()

    expect(own).to_contain_text("this console")


# --- apps and tenants ---


def register(page: Page, name: str) -> tuple[str, str]:
    """Register an app called `name` in the console; its client id and secret, as the page shows them."""
    page.get_by_role("form", name="Register an app").get_by_label("Display name").fill(name)
    page.get_by_role("button", name="Register app").click()
    expect(page.get_by_role("heading", name=f"Secret of {name}")).to_be_focused()
    return page.get_by_label("Client ID").input_value(), page.get_by_label("Client secret").input_value()


def test_an_app_registered_in_the_console_gets_a_token(
    console: Page, console_server: Server, tenant: str
) -> None:
    named = {"tenant": tenant, "displayName": "Contoso (staging)"}
    assert httpx.post(f"{console_server.url}/graphtasks/admin/tenants", json=named).status_code == 201
    open_console(console, tenant, "apps")
    expect(console.get_by_role("row", name="Contoso (staging)")).to_contain_text("Shown")
    client_id, secret = register(console, "Inventory sync")

    expect(console.locator("pre").first).to_contain_text(f'"{secret}"')
    expect(console.locator("pre").last).to_contain_text(f"{console_server.url}")
    answer = request_token(console_server, tenant, client_id, secret)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    listed = httpx.get(console_server.tasks_url, headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    expect(console.get_by_role("row", name="Inventory sync")).to_contain_text(secret[:3])
    screenshot(console, "apps")


def test_a_secret_is_rotated_and_an_app_removed(console: Page, console_server: Server, tenant: str) -> None:
    open_console(console, tenant, "apps")
    client_id, old_secret = register(console, "Rotating app")

    console.get_by_role("button", name="New secret for Rotating app").click()
    console.get_by_role("dialog").get_by_role("button", name="New secret").click()
    expect(console.get_by_label("Client secret")).not_to_have_value(old_secret)
    new_secret = console.get_by_label("Client secret").input_value()
    assert request_token(console_server, tenant, client_id, old_secret).status_code == 401
    assert request_token(console_server, tenant, client_id, new_secret).status_code == 200

    console.get_by_role("button", name="Remove Rotating app").click()
    console.get_by_role("dialog").get_by_role("button", name="Remove app").click()
    expect(console.get_by_text("No apps are registered in this tenant.")).to_be_visible()
    gone = request_token(console_server, tenant, client_id, new_secret)
    assert (gone.status_code, gone.json()["error"]) == (400, "unauthorized_client")


def test_a_tenant_is_registered_and_its_licence_toggled(
    console: Page, api: httpx.Client, tenant: str
) -> None:
    open_console(console, tenant, "apps")
    console.get_by_role("form", name="Register the tenant shown").get_by_label("Display name").fill(
        "Fabrikam"
    )
    console.get_by_role("button", name="Register tenant").click()
    licence = console.get_by_label("Intune licence of Fabrikam")
    expect(licence).to_be_checked()

    licence.uncheck()
    expect(console.get_by_role("status")).to_have_text("Fabrikam is now not licensed for Intune.")
    refused = api.get(TASKS_PATH)
    assert (refused.status_code, refused.json()["error"]["message"]) == (
        400,
        "Request not applicable to target tenant.",
    )

    licence.check()
    expect(console.get_by_role("status")).to_have_text("Fabrikam is now licensed for Intune.")
    assert api.get(TASKS_PATH).status_code == 200


# --- faults ---


@pytest.fixture
def no_faults_after(console_server: Server) -> Iterator[None]:
    yield
    assert httpx.delete(f"{console_server.url}/graphtasks/admin/faults").status_code == 204


def test_a_fault_plan_edited_in_the_console_takes_effect(
    console: Page, api: httpx.Client, tenant: str, no_faults_after: None
) -> None:
    open_console(console, tenant, "faults")
    editor = console.get_by_label("Fault plan (JSON)")
    expect(editor).to_have_value(json.dumps({"seed": 0, "rules": []}, indent=2))

    editor.fill("{")
    console.get_by_role("button", name="Save plan").click()
    expect(console.locator("#plan-error")).to_contain_text("Not JSON")
    editor.fill(json.dumps({"rules": [{"operation": "list_tasks", "status": 418}]}))
    console.get_by_role("button", name="Save plan").click()
    expect(console.locator("#plan-error")).to_contain_text("Invalid fault plan: rules[0]")
    expect(editor).to_have_attribute("aria-invalid", "true")

    rule = {"tenant": tenant, "operation": "list_tasks", "status": 503, "retryAfter": 1}
    editor.fill(json.dumps({"seed": 3, "rules": [rule]}))
    console.get_by_role("button", name="Save plan").click()
    expect(console.get_by_role("status")).to_contain_text("Fault plan saved")
    expect(editor).to_have_value(re.compile('"status": 503'))
    screenshot(console, "faults")
    failed = api.get(TASKS_PATH)
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "1")

    console.get_by_role("button", name="Clear all faults").click()
    console.get_by_role("dialog").get_by_role("button", name="Clear all faults").click()
    expect(console.get_by_role("status")).to_have_text("All faults cleared.")
    assert api.get(TASKS_PATH).status_code == 200
