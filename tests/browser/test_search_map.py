"""Finding a stay in a real browser, on a phone (360x740) and a laptop (1280x800): filters narrow
the results, sort reorders them, the results map has one price marker per result with
coordinates whose popup links to the stay, the phone's Show map / Show list button, and an
invalid search explained with no results. The map's tiles never load here (no internet): the
assertions are on the markers and the page, not on the tiles."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import listing, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = [pytest.param(PHONE, id="phone"), pytest.param(LAPTOP, id="laptop")]


def _stays():
    beach = listing(title="Galu Beach Cottage", town="Diani", area="Galu", price_per_night=6500, max_guests=4,
                    latitude="-4.330000", longitude="39.575000", amenities=("Wi-Fi", "Pool"), color=(40, 150, 170))
    city = listing(title="Kilimani Loft", town="Nairobi", area="Kilimani", price_per_night=4200, max_guests=2,
                   latitude="-1.290000", longitude="36.785000", amenities=("Wi-Fi",), color=(150, 110, 70))
    lake = listing(title="Naivasha Lake House", town="Naivasha", area="Moi South Lake Road", price_per_night=12000,
                   max_guests=8, amenities=("Wi-Fi", "Pool", "Kitchen"), color=(90, 150, 90))
    return beach, city, lake


def _names(page) -> list[str]:
    return page.locator(".listing-card .listing-name").all_inner_texts()


@pytest.mark.parametrize("browser_context", VIEWPORTS, indirect=True)
def test_filters_sort_and_map(live_site, page):
    beach, city, lake = _stays()
    phone = page.viewport_size["width"] < 1024
    size = "phone" if phone else "laptop"

    page.goto(live_site.url + "/stays/")
    expect(page.locator(".listing-card")).to_have_count(3)
    markers = page.locator(".leaflet-marker-pane .price-marker")
    # One marker per result with coordinates: the lake house has none.
    expect(markers).to_have_count(2)
    expect(page.locator(".price-marker", has_text="KES 6,500")).to_have_count(1)
    toggle = page.get_by_role("button", name="Show map")
    if phone:
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#results-map")).to_be_hidden()
        screenshot(page, f"search-{size}-list")
        toggle.focus()
        page.keyboard.press("Enter")
        list_button = page.get_by_role("button", name="Show list")
        expect(list_button).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#results-map")).to_be_visible()
        expect(page.locator("#results-list")).to_be_hidden()
    else:
        expect(toggle).to_be_hidden()
        expect(page.locator("#results-map")).to_be_visible()
        expect(page.locator("#results-list")).to_be_visible()
        # Beside the list, not under it.
        map_box = page.locator("#results-map").bounding_box()
        list_box = page.locator("#results-list").bounding_box()
        assert map_box["x"] > list_box["x"] + list_box["width"] - 1
    # The pill the guest sees and taps (the marker itself is a point at the stay's location).
    page.locator(".price-marker span", has_text="KES 6,500").click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Galu Beach Cottage")
    link = popup.get_by_role("link", name="View this stay")
    expect(link).to_have_attribute("href", re.compile(re.escape(f"/{beach.slug}/")))
    screenshot(page, f"search-{size}-map-popup")
    href = link.get_attribute("href")
    if phone:
        page.get_by_role("button", name="Show list").click()
        expect(page.locator("#results-list")).to_be_visible()
        expect(page.locator("#results-map")).to_be_hidden()
        expect(page.get_by_role("button", name="Show map")).to_have_attribute("aria-expanded", "false")
        page.goto(live_site.url + href)
    else:
        link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Galu Beach Cottage")

    # Filters: a price range and an amenity narrow the results; the sort reorders them.
    page.goto(live_site.url + "/stays/")
    page.get_by_text("Price, amenities and sort").click()
    page.get_by_label("Max price per night (KES)").fill("7000")
    page.get_by_label("Pool").check()
    screenshot(page, f"search-{size}-filters")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"price_max=7000"))
    expect(page.locator(".listing-card")).to_have_count(1)
    assert _names(page) == ["Galu Beach Cottage"]
    expect(page.locator(".leaflet-marker-pane .price-marker")).to_have_count(1)

    page.goto(live_site.url + "/stays/")
    assert _names(page) == ["Galu Beach Cottage", "Kilimani Loft", "Naivasha Lake House"]
    page.get_by_text("Price, amenities and sort").click()
    page.get_by_label("Sort by").select_option("-price")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"sort=-price"))
    assert _names(page) == ["Naivasha Lake House", "Galu Beach Cottage", "Kilimani Loft"]
    page.get_by_label("Sort by").select_option("price")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"sort=price"))
    assert _names(page) == ["Kilimani Loft", "Galu Beach Cottage", "Naivasha Lake House"]
    screenshot(page, f"search-{size}-sorted")


@pytest.mark.parametrize("browser_context", VIEWPORTS, indirect=True)
def test_invalid_search_is_explained_with_no_results(live_site, page):
    _stays()
    size = "phone" if page.viewport_size["width"] < 1024 else "laptop"
    page.goto(live_site.url + "/stays/?price_min=9000&price_max=100")
    summary = page.locator("#search-errors")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("The highest price must be at least the lowest price.")
    expect(page.locator(".listing-card")).to_have_count(0)
    expect(page.locator(".price-marker")).to_have_count(0)
    field = page.get_by_label("Max price per night (KES)")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "id_price_max_error")
    expect(page.locator("#id_price_max_error")).to_have_text("The highest price must be at least the lowest price.")
    screenshot(page, f"search-{size}-invalid")
    summary.get_by_role("link").first.click()
    expect(field).to_be_focused()
