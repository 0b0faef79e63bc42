"""The web console in a real browser: Debian's Chromium driven by Playwright, against `graphtasks serve`
run as a process on a free loopback port.

Chromium comes from Debian's packages (Playwright's own browser downloads do not work offline): when
/usr/bin/chromium is missing, the first test that needs it installs the package with apt-get, as
test_console_firefox.py does Firefox ESR. axe-core
(the accessibility check) comes from npm, pinned by tests/browser/package-lock.json, installed with
`npm ci` on first use. Without either, the tests skip, except under CI=true, where they fail.

Every page a test visits can be saved as a picture with `screenshot(page, name)`; the pictures the docs
show are written to docs/console/.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from tests.browser.console_pages import watch
from tests.support.databases import in_ci
from tests.support.node import npm_installed
from tests.support.server import Server, sqlite_server

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_LOCK = Path(tempfile.gettempdir()) / "graphtasks-browser-install.lock"
HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = HERE.parent.parent / "docs" / "console"
# As this machine's headless Chromium needs them: no sandbox as root, no GPU, and no background
# connections to Google's services, which the closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
LAPTOP: ViewportSize = {"width": 1280, "height": 720}


def _unavailable(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} is needed by the browser tests and could not be installed")
    pytest.skip(f"{what} is not available")


def debian_browser(executable: Path, package: str) -> Path:
    """`executable`, installed from Debian's `package` first when it is missing."""
    # One install at a time: the suite's worker processes may all get here at once.
    with open(INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not executable.exists() and shutil.which("apt-get"):
            for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
                subprocess.run(
                    command,
                    check=False,
                    capture_output=True,
                    timeout=900,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                )
    if not executable.exists():
        _unavailable(f"Debian's {package} package")
    return executable


def _ensure_axe() -> Path:
    npm_installed(HERE)
    if not AXE.exists():
        _unavailable("axe-core from npm")
    return AXE


# Per module, not per session: while Playwright's sync API runs, its event loop counts as this
# thread's running loop, and the other modules a worker process runs next call asyncio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = debian_browser(CHROMIUM, "chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    return _ensure_axe().read_text()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on loopback: the console opens without sign-in."""
    with sqlite_server(tmp_path_factory.mktemp("console")) as server:
        yield server


@pytest.fixture
def page(browser: Browser, console_server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP, base_url=console_server.url)
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save what the page shows now as docs/console/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def serious_violations(page: Page, axe_source: str) -> list[dict[str, object]]:
    """axe-core's serious and critical violations on the page as it is now. axe-core is evaluated
    through the browser's debugging protocol, which the page's Content-Security-Policy does not govern
    (a script tag would be refused), so the page is checked under its real policy."""
    page.evaluate(f"() => {{ {axe_source}\n; window.axe = axe; }}")
    result = page.evaluate("async () => await window.axe.run(document)")
    assert result["passes"], "axe-core checked nothing"
    return [v for v in result["violations"] if v.get("impact") in {"serious", "critical"}]


def graph(server: Server, tenant: str | None = None) -> httpx.Client:
    """A Graph client of `server` for `tenant` (the default tenant when None)."""
    token = server.token() if tenant is None else server.token(tenant=tenant)
    return server.client(token)


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own on the module's server: no test sees another's tasks."""
    return str(uuid.uuid4())


@pytest.fixture
def api(console_server: Server, tenant: str) -> Iterator[httpx.Client]:
    with graph(console_server, tenant) as client:
        yield client


@pytest.fixture
def console(page: Page) -> Iterator[Page]:
    """The page, failing the test if it logs a script error or a policy violation."""
    problems = watch(page)
    yield page
    assert problems == []
