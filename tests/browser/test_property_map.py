"""The property page's map in a real browser: Leaflet with one marker at the listing's area
(the rounded coordinates), and no map for a listing without coordinates. Tiles come from
OpenStreetMap and can't load here (no internet): the test looks at the marker and the DOM."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import listing, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@pytest.mark.parametrize("browser_context", [PHONE, LAPTOP], indirect=True, ids=["phone-360", "laptop"])
def test_the_map_has_one_marker_at_the_area_and_no_street_address(live_site, page):
    # Tiles are not fetched at all: the test must not wait on the network.
    page.route("**/*.tile.openstreetmap.org/**", lambda route: route.abort())
    place = listing(
        title="Watamu Turtle Bay Villa", town="Watamu", photos=1, color=(30, 140, 170),
        latitude=Decimal("-3.354321"), longitude=Decimal("40.018765"), street_address="7 Turtle Bay Road",
    )
    page.goto(live_site.url + place.url)
    box = page.locator("#property-map")
    expect(box).to_have_attribute("data-ready", "1")
    expect(box.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(box.locator(".leaflet-marker-icon")).to_have_attribute("title", "Approximate location: " + place.location)
    expect(box.locator(".leaflet-control-attribution")).to_contain_text("OpenStreetMap")
    expect(page.get_by_text("Exact address after booking.")).to_be_visible()
    center = page.evaluate("() => { const b = document.getElementById('property-map'); return [b.dataset.lat, b.dataset.lng]; }")
    assert center == ["-3.35", "40.02"]
    assert "7 Turtle Bay Road" not in page.content()
    # Leaflet's stylesheet was added by the script, not by the page's head.
    assert page.evaluate("() => !!document.querySelector('link[href*=\"leaflet.css\"]')")
    box.scroll_into_view_if_needed()
    screenshot(page, "property-map-" + ("phone" if page.viewport_size["width"] <= 400 else "laptop"))


def test_no_map_without_coordinates(live_site, page):
    place = listing(title="Somewhere Quiet", town="Nyeri", photos=1, latitude=None, longitude=None)
    page.goto(live_site.url + place.url)
    expect(page.locator("#property-map")).to_have_count(0)
    assert page.evaluate("() => typeof window.L") == "undefined"
