"""The web console's task views in a real browser: the Security tasks list (filters, sorting, paging,
counts), a task's page (updateStatus, PATCH), keyboard-only use, axe-core's check of every view and the
fit at laptop width.

Each test works in a tenant of its own on the module's server, so no test sees another's tasks. The
console is opened at /console?tenant=<id>, as an admin would open it for that tenant.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.browser.conftest import DESKTOP, LAPTOP, screenshot, serious_violations
from tests.browser.console_pages import SHOWCASE, create_showcase, create_task, open_console, rows
from tests.support.server import TASKS_PATH, Server

# --- the list ---


def test_list_shows_the_tasks_made_through_the_api(console: Page, api: httpx.Client, tenant: str) -> None:
    create_showcase(api)
    open_console(console, tenant)

    expect(console.get_by_role("heading", name="Security tasks", level=1)).to_be_visible()
    expect(rows(console)).to_have_count(len(SHOWCASE))
    # Newest first: the last one made leads.
    first = rows(console).first
    expect(first).to_contain_text("Turn on tamper protection")
    expect(first).to_contain_text("Security configuration task")
    expect(first).to_contain_text("Pending")
    expect(first).to_contain_text("secops@contoso.com")
    expect(console.get_by_role("link", name="Update Tailspin Chat to 5.2")).to_be_visible()
    expect(console.locator(".summary")).to_have_text(showing(1, 5, 5, 1))
    expect(console.get_by_role("button", name="Pending 2")).to_be_visible()
    screenshot(console, "tasks")


def make_thirty(api: httpx.Client) -> None:
    """More than a page of 25: 27 routine tasks, pending and low, and 3 urgent ones, active and high."""
    for number in range(27):
        create_task(api, displayName=f"Routine {number:02d}", status="pending", priority="low")
    for number in range(3):
        create_task(api, displayName=f"Urgent {number}", status="active", priority="high")


def showing(first: int, last: int, total: int, page: int) -> str:
    return f"Showing {first}\N{EN DASH}{last} of {total} tasks (page {page})"


def test_paging_follows_the_next_links(console: Page, api: httpx.Client, tenant: str) -> None:
    make_thirty(api)
    open_console(console, tenant)

    expect(rows(console)).to_have_count(25)
    expect(console.locator(".summary")).to_have_text(showing(1, 25, 30, 1))
    console.get_by_role("button", name="Next").click()
    expect(rows(console)).to_have_count(5)
    expect(console.locator(".summary")).to_have_text(showing(26, 30, 30, 2))
    expect(console.get_by_role("button", name="Next")).to_be_disabled()
    console.get_by_role("button", name="Previous").click()
    expect(rows(console)).to_have_count(25)
    expect(console.get_by_role("button", name="Previous")).to_be_disabled()
    console.get_by_label("Per page").select_option("10")
    expect(rows(console)).to_have_count(10)


def test_a_column_header_sorts(console: Page, api: httpx.Client, tenant: str) -> None:
    make_thirty(api)
    open_console(console, tenant)

    console.get_by_role("button", name="Name").click()
    expect(console.locator("th[aria-sort=ascending]")).to_have_text("Name▲")
    expect(rows(console).first).to_contain_text("Routine 00")
    console.get_by_role("button", name="Name").click()
    expect(console.locator("th[aria-sort=descending]")).to_have_text("Name▼")
    expect(rows(console).first).to_contain_text("Urgent 2")
    expect(console.locator("th[aria-sort]")).to_have_count(1)


def test_filters_and_counts(console: Page, api: httpx.Client, tenant: str) -> None:
    make_thirty(api)
    open_console(console, tenant)

    console.get_by_label("Status", exact=True).select_option("active")
    expect(rows(console)).to_have_count(3)
    expect(console.get_by_role("button", name="Active 3")).to_have_attribute("aria-pressed", "true")
    console.get_by_role("button", name="All 30").click()
    console.get_by_label("Priority").select_option("low")
    expect(console.locator(".summary")).to_have_text(showing(1, 25, 27, 1))
    expect(console.get_by_role("button", name="Active 0")).to_be_visible()
    console.get_by_label("Search by name").fill("ROUTINE 1")
    expect(rows(console)).to_have_count(10)
    console.get_by_label("Search by name").fill("")
    console.get_by_label("Priority").select_option("")
    console.get_by_label("Platform").select_option("windows10AndLater")
    expect(console.locator("td.empty")).to_have_text("No tasks match these filters.")
    console.get_by_label("Platform").select_option("macOS")
    expect(rows(console)).to_have_count(25)


def test_type_filter(console: Page, api: httpx.Client, tenant: str) -> None:
    create_showcase(api)
    open_console(console, tenant)
    console.get_by_label("Type").select_option("appVulnerabilityTask")

    expect(rows(console)).to_have_count(2)
    expect(rows(console).locator("td:nth-child(2)")).to_have_text(["App vulnerability task"] * 2)


# --- a task ---


def test_a_task_is_accepted_then_completed_with_notes(console: Page, api: httpx.Client, tenant: str) -> None:
    task = create_showcase(api)[0]
    open_console(console, tenant, f"tasks/{task['id']}")

    expect(console.get_by_role("heading", name="Turn on tamper protection", level=1)).to_be_visible()
    expect(console.locator("dl.properties")).to_contain_text("Advanced threat protection")
    expect(console.locator("dl.properties")).to_contain_text("Windows 10 and later")
    expect(console.get_by_role("table", name="Intended settings (3)")).to_contain_text("TamperProtection")
    expect(console.get_by_role("table", name="Managed devices (3)")).to_contain_text("FIN-LT-0113")
    expect(console.get_by_role("button", name="Complete")).to_be_disabled()
    screenshot(console, "task")

    console.get_by_label("Note (sent with the status change)").fill("Rolling out to Finance first.")
    console.get_by_role("button", name="Accept").click()
    expect(console.locator("#task-status")).to_have_text("This task is active.")
    expect(console.get_by_role("status")).to_have_text("Task accepted.")
    assert api.get(f"{TASKS_PATH}/{task['id']}").json()["status"] == "active"

    console.get_by_label("Note (sent with the status change)").fill("All 42 devices protected.")
    console.get_by_role("button", name="Complete").click()
    expect(console.locator("#task-status")).to_have_text("This task is completed.")
    expect(console.locator(".note")).to_have_text("Last note: All 42 devices protected.")
    prefer = {"Prefer": 'odata.include-annotations="graphtasks.statusNote"'}
    stored = api.get(f"{TASKS_PATH}/{task['id']}", headers=prefer).json()
    assert (stored["status"], stored["@graphtasks.statusNote"]) == ("completed", "All 42 devices protected.")
    expect(console.get_by_role("button", name="Accept")).to_be_disabled()


def test_assignee_and_due_date_are_patched(console: Page, api: httpx.Client, tenant: str) -> None:
    task = create_task(api, displayName="Review firewall rules")
    open_console(console, tenant, f"tasks/{task['id']}")

    console.get_by_label("Assigned to").fill("network@contoso.com")
    console.get_by_label("Due date").fill("2027-03-31")
    console.get_by_role("button", name="Save").click()
    expect(console.get_by_role("status")).to_have_text("Assignment saved.")

    stored = api.get(f"{TASKS_PATH}/{task['id']}").json()
    assert stored["assignedTo"] == "network@contoso.com"
    # The day picked, at midnight in the browser's time zone.
    local_midnight = console.evaluate("new Date(2027, 2, 31).toISOString()")
    assert stored["dueDateTime"].startswith(local_midnight[:19])
    expect(console.get_by_label("Due date")).to_have_value("2027-03-31")


def test_a_change_made_meanwhile_is_not_overwritten(console: Page, api: httpx.Client, tenant: str) -> None:
    task = create_task(api, displayName="Shared task", status="pending")
    open_console(console, tenant, f"tasks/{task['id']}")
    expect(console.get_by_role("button", name="Accept")).to_be_enabled()
    api.patch(f"{TASKS_PATH}/{task['id']}", json={"assignedTo": "someone-else@contoso.com"})

    console.get_by_role("button", name="Accept").click()

    expect(console.get_by_role("alert")).to_contain_text("The task changed since this page showed it")
    expect(console.get_by_label("Assigned to")).to_have_value("someone-else@contoso.com")
    assert api.get(f"{TASKS_PATH}/{task['id']}").json()["status"] == "pending"


def test_the_raw_json_is_one_click_away(console: Page, api: httpx.Client, tenant: str) -> None:
    task = create_task(api, displayName="Raw")
    open_console(console, tenant, f"tasks/{task['id']}")
    raw = console.get_by_label("The task as Graph returns it")
    expect(raw).to_be_hidden()

    console.get_by_text("Graph JSON").click()

    expect(raw).to_contain_text(f'"id": "{task["id"]}"')


# --- keyboard, accessibility, sizes ---


def tab_to(page: Page, name: str, *, limit: int = 60) -> None:
    """Press Tab until the focused element's text is `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement?.textContent?.trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_keyboard_only_opens_a_task_and_accepts_it(console: Page, api: httpx.Client, tenant: str) -> None:
    task = create_task(api, displayName="Keyboard task", status="pending")
    open_console(console, tenant)
    expect(rows(console)).to_have_count(1)

    tab_to(console, "Keyboard task")
    console.keyboard.press("Enter")
    expect(console.get_by_role("heading", name="Keyboard task", level=1)).to_be_focused()
    tab_to(console, "Accept")
    outline = console.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    console.keyboard.press("Space")

    assert outline != "none"
    expect(console.locator("#task-status")).to_have_text("This task is active.")
    expect(console.locator("#task-status")).to_be_focused()
    assert api.get(f"{TASKS_PATH}/{task['id']}").json()["status"] == "active"


@pytest.fixture
def audited(browser: Browser, console_server: Server) -> Iterator[Page]:
    """A page for axe-core, in a context of its own."""
    context = browser.new_context(viewport=DESKTOP, base_url=console_server.url)
    yield context.new_page()
    context.close()


# What each view shows once it has loaded.
READY = {
    "tasks": "table.grid tbody a",
    "task": "#properties-title",
    "requests": ".journal li:not([hidden])",
    "apps": "#tenants-title + div table",
    "faults": "text=Version",
}


def open_view(page: Page, tenant: str, view: str, task_id: str) -> None:
    open_console(page, tenant, f"tasks/{task_id}" if view == "task" else view)
    expect(page.locator(READY[view]).first).to_be_visible()


@pytest.mark.parametrize("view", list(READY))
def test_no_serious_accessibility_violations(
    audited: Page, axe_source: str, api: httpx.Client, tenant: str, view: str
) -> None:
    task = create_showcase(api)[0]
    open_view(audited, tenant, view, task["id"])

    violations = serious_violations(audited, axe_source)

    assert [f"{v['id']} ({v['help']}): {v['nodes']}" for v in violations] == []


@pytest.mark.parametrize("view", list(READY))
def test_each_view_fits_a_laptop_screen(console: Page, api: httpx.Client, tenant: str, view: str) -> None:
    task = create_showcase(api)[0]
    console.set_viewport_size(LAPTOP)
    open_view(console, tenant, view, task["id"])

    overflow = console.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    assert overflow <= 0
