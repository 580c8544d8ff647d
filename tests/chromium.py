"""One headless Debian Chromium per test process, shared by every browser test.

Playwright's sync API runs an event loop on the thread that started it, and a second
sync_playwright() on that thread while the first is alive fails ("Sync API inside the
asyncio loop"). So no test starts its own: they all take the session `chromium` fixture.
"""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# A browser test module's marks: skipped without Chromium unless REQUIRE_BROWSER (CI) is set.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("REQUIRE_BROWSER"),
        reason="Debian chromium is not installed (set REQUIRE_BROWSER=1 to make this a failure)",
    ),
]


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright driver of this test process (see the module docstring)."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed (set REQUIRE_BROWSER=1 to fail instead)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def chromium_profile(playwright_driver, tmp_path):
    """A Chromium with a real (non-incognito) profile on disk, for what a browser refuses to
    incognito windows, such as installing a web app. A context, closed after the test."""
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        viewport={"width": 412, "height": 860},
        locale="en-GB",
        timezone_id="Africa/Nairobi",
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()
