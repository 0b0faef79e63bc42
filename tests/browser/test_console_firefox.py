"""The web console in Firefox: Debian's Firefox ESR (installed with apt-get when missing), driven over
WebDriver BiDi by tests/browser/firefox/views.mjs (puppeteer-core from npm, pinned by its lock file; it
downloads no browser). Playwright drives only its own build of Firefox, which cannot be fetched here,
so the flows are tested in Chromium (the other modules) and Firefox is shown to run them: every view
loads its data at desktop and laptop widths with no script error and no page wider than the window,
and a task is accepted."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from tests.browser.conftest import debian_browser, graph
from tests.browser.console_pages import create_showcase
from tests.support.node import npm_installed, tool
from tests.support.server import TASKS_PATH, Server

FIREFOX = Path("/usr/bin/firefox-esr")
SCRIPT_DIR = Path(__file__).parent / "firefox"
VIEWS = {"tasks", "requests", "apps", "faults"}


@pytest.fixture(scope="module")
def report(console_server: Server) -> dict[str, Any]:
    """What views.mjs reports of the module's server, for a tenant of its own."""
    firefox, node = debian_browser(FIREFOX, "firefox-esr"), tool("node")
    npm_installed(SCRIPT_DIR)
    tenant = str(uuid.uuid4())
    with graph(console_server, tenant) as api:
        pending = create_showcase(api)[0]
        assert pending["status"] == "pending"
        env = os.environ | {
            "GRAPHTASKS_URL": console_server.url,
            "GRAPHTASKS_TENANT": tenant,
            "GRAPHTASKS_TASK": pending["id"],
            "FIREFOX": str(firefox),
        }
        done = subprocess.run(
            [node, str(SCRIPT_DIR / "views.mjs")],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["status_after"] = api.get(f"{TASKS_PATH}/{pending['id']}").json()["status"]
    return result


def test_it_is_firefox(report: dict[str, Any]) -> None:
    assert report["browser"].startswith("firefox/")


def test_every_view_loads_at_both_widths_without_a_script_error(report: dict[str, Any]) -> None:
    seen = {(view["view"], view["width"]) for view in report["views"]}
    assert seen == {(view, width) for view in {*VIEWS, "tasks"} for width in ("desktop", "laptop")}
    assert [view for view in report["views"] if view["errors"]] == []


def test_no_view_is_wider_than_the_window(report: dict[str, Any]) -> None:
    assert [view for view in report["views"] if view["overflow"] > 0] == []


def test_a_task_is_accepted_in_firefox(report: dict[str, Any]) -> None:
    assert report["accepted"] == "This task is active."
    assert report["status_after"] == "active"
