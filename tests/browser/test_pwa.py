"""The site installs as an app and "My bookings" opens with no connection (docs/pwa.md).

Chromium's own installability check (DevTools' Page.getInstallabilityErrors, what its
"Install app" menu and Lighthouse's installability audit rely on) must find nothing wrong.
"""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import listing, screenshot
from tests.chromium import BROWSER_MARKS
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]


def _wait_for_worker(page):
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=15_000)


def _log_in(page, base: str, user) -> None:
    page.goto(base + "/accounts/login/?next=/bookings/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()


@pytest.fixture
def page(chromium_profile):
    """A phone-sized page in a real profile: Chromium refuses to install apps from incognito
    contexts, which is what Playwright's ordinary contexts are."""
    page = chromium_profile.pages[0] if chromium_profile.pages else chromium_profile.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_the_app_is_installable_and_my_bookings_opens_offline(live_site, page):
    from reservations.services import booking_create

    place = listing(title="Watamu Palm House", town="Watamu", area="Turtle Bay", price_per_night=6200, photos=1)
    guest = UserFactory(name="Amani Kirui", email="amani.pwa@example.com")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(20), check_out=future_date(23), guests=[])

    page.goto(live_site.url + "/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    _wait_for_worker(page)
    cdp = page.context.new_cdp_session(page)
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == [], errors
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest") and not manifest["errors"]

    _log_in(page, live_site.url, guest)
    expect(page.get_by_text(booking.reference)).to_be_visible()
    page.goto(live_site.url + f"/bookings/{booking.pk}/")  # kept too

    page.context.set_offline(True)
    page.goto(live_site.url + "/bookings/")
    expect(page.get_by_role("heading", name="My bookings")).to_be_visible()
    expect(page.get_by_text(booking.reference)).to_be_visible()
    screenshot(page, "pwa-my-bookings-offline")
    page.goto(live_site.url + f"/bookings/{booking.pk}/")
    expect(page.get_by_text("Watamu Palm House").first).to_be_visible()
    # A page never opened shows the offline page, not the browser's error.
    page.goto(live_site.url + "/stays/")
    expect(page.get_by_role("heading", name="You're offline")).to_be_visible()
    screenshot(page, "pwa-offline-page")
    page.context.set_offline(False)


def test_logging_out_forgets_the_bookings_kept_for_offline(live_site, page):
    from reservations.services import booking_create

    place = listing(title="Nanyuki Cedar Lodge", town="Nanyuki", area="Timau", price_per_night=5400, photos=1)
    guest = UserFactory(name="Wanjiru Mwangi", email="wanjiru.pwa@example.com")
    booking = booking_create(user=guest, property_id=place.pk, check_in=future_date(30), check_out=future_date(32), guests=[])

    page.goto(live_site.url + "/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    _wait_for_worker(page)
    _log_in(page, live_site.url, guest)
    expect(page.get_by_text(booking.reference)).to_be_visible()
    page.wait_for_function("caches.has('nexus-pages')")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_function("caches.has('nexus-pages').then(has => !has)")
    page.context.set_offline(True)
    page.goto(live_site.url + "/bookings/")
    expect(page.get_by_role("heading", name="You're offline")).to_be_visible()
    assert booking.reference not in page.content()
    page.context.set_offline(False)
