"""An owner in a real browser: from the dashboard's "Add a property" to their listing's editor,
three photos uploaded at once become three gallery rows, a click on the map places the pin and
fills latitude and longitude, and the published listing shows the three photos there.

Map tiles come from the internet, which tests do not have: every request that leaves the live
server is answered "blocked" at once, so the map works without its pictures, as it would offline.
"""

import io
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image as PILImage

from listings.models import PropertyPage
from tests.chromium import BROWSER_MARKS
from tests.factories import DEFAULT_PASSWORD, OwnerFactory, make_property

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = BROWSER_MARKS


# Playwright's sync API runs an event loop on this thread; the test's own ORM calls (and the
# test database's set-up and flush, around the session's Chromium) are ordinary synchronous
# code and safe here. Set for the process, as tests/browser/conftest.py does.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def site(transactional_db):
    """The page tree, the role groups and the root collection (a flushed database has none)."""
    from listings.site_setup import ensure_site_tree

    _, index = ensure_site_tree()
    return index


def _photo(name: str, color) -> dict:
    buffer = io.BytesIO()
    PILImage.new("RGB", (120, 80), color).save(buffer, format="JPEG")
    return {"name": name, "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def _signed_in_owner_page(chromium, live_server, owner):
    context = chromium.new_context(viewport={"width": 1280, "height": 1000})
    # Only the live server answers; OpenStreetMap's tiles (and anything else outside) are refused.
    context.route(
        re.compile(r"^https?://(?!" + re.escape(live_server.url.split("://", 1)[1]) + r")"),
        lambda route: route.abort("blockedbyclient"),
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("input[name=username]", owner.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("button[type=submit]")
    return context, page


@pytest.mark.django_db(transaction=True)
def test_owner_uploads_three_photos_at_once_and_places_the_pin(site, live_server, chromium):
    from playwright.sync_api import expect

    owner = OwnerFactory(name="Amina Wanjiku")
    stay = make_property(owner=owner, index=site, title="Amina's cottage")
    assert stay.latitude is None and stay.longitude is None
    ARTIFACTS.mkdir(exist_ok=True)
    context, page = _signed_in_owner_page(chromium, live_server, owner)

    # The dashboard offers "Add a property", to the editor of a new listing under the index.
    add = page.locator("[data-add-property]")
    expect(add).to_have_count(1)
    expect(add).to_have_attribute("href", f"/admin/pages/add/listings/propertypage/{stay.get_parent().pk}/")
    expect(page.locator("[data-property-count]")).to_contain_text("You have 1 property")
    add.click()
    expect(page).to_have_url(re.compile(r"/admin/pages/add/listings/propertypage/\d+/$"))
    expect(page.locator("[data-gallery-drop]")).to_be_visible()  # photos before the first save, too
    expect(page.locator("[data-location-map] .leaflet-container")).to_have_count(1)

    page.goto(f"{live_server.url}/admin/pages/{stay.pk}/edit/")
    rows = page.locator("#id_gallery_images-FORMS > [data-inline-panel-child]")
    expect(rows).to_have_count(0)
    drop = page.locator("[data-gallery-drop]")
    expect(drop).to_be_visible()

    # Three photos chosen at once in the file dialog.
    page.locator("[data-gallery-files]").set_input_files(
        [_photo("veranda.jpg", (200, 90, 40)), _photo("kitchen.jpg", (30, 140, 70)), _photo("garden.jpg", (40, 80, 200))]
    )
    expect(rows).to_have_count(3)
    expect(page.locator("[data-gallery-status] li")).to_have_count(3)
    expect(page.locator("[data-gallery-status]")).to_contain_text("veranda.jpg: added.")
    for n, title in enumerate(["veranda", "kitchen", "garden"]):
        chooser = page.locator(f"#id_gallery_images-{n}-image-chooser")
        expect(chooser).not_to_have_class(re.compile(r"\bblank\b"))
        expect(chooser.locator("[data-chooser-title]")).to_have_text(title)
        expect(page.locator(f"#id_gallery_images-{n}-image")).to_have_value(re.compile(r"^\d+$"))

    drop.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "owner-gallery-upload.png"))

    # A fourth file that is not a photo is refused with the reason, and adds no row.
    page.locator("[data-gallery-files]").set_input_files(
        [{"name": "x.html", "mimeType": "text/html", "buffer": b"<script>alert(1)</script>"}]
    )
    expect(page.locator("[data-gallery-status]")).to_contain_text("x.html: Not a supported image format")
    expect(rows).to_have_count(3)

    # The pin: a click on the map writes latitude and longitude; the fields stay editable.
    latitude, longitude = page.locator("#id_latitude"), page.locator("#id_longitude")
    expect(latitude).to_have_value("")
    canvas = page.locator("[data-location-map] .nexus-location-map__canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    canvas.click(position={"x": box["width"] * 0.7, "y": box["height"] * 0.3})
    expect(latitude).to_have_value(re.compile(r"^-?\d+\.\d{6}$"))
    expect(longitude).to_have_value(re.compile(r"^-?\d+\.\d{6}$"))
    expect(page.locator("[data-location-map] .leaflet-marker-icon")).to_have_count(1)
    placed = Decimal(latitude.input_value()), Decimal(longitude.input_value())
    # Right of and above the centre (Nairobi, -1.286389, 36.817223) the map opened on.
    assert placed[0] > Decimal("-1.286389") and placed[1] > Decimal("36.817223"), placed
    page.screenshot(path=str(ARTIFACTS / "owner-location-map.png"))

    # Publish (the owner's own listing: they may).
    publish = page.locator("button[name='action-publish']")
    if not publish.is_visible():
        page.locator("footer [data-w-dropdown-target='toggle']").last.click()  # the "more actions" arrow
    publish.click()
    expect(page.locator(".messages")).to_contain_text("published")

    stay = PropertyPage.objects.get(pk=stay.pk)
    assert stay.gallery_images.count() == 3
    assert (stay.latitude, stay.longitude) == placed
    assert stay.live and not stay.has_unpublished_changes

    page.goto(live_server.url + stay.url)
    expect(page.locator(".gallery .gallery-item")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "owner-published-gallery.png"), full_page=True)
    context.close()


@pytest.mark.django_db(transaction=True)
def test_owner_sees_calendar_export_url(site, live_server, chromium):
    """The listing's admin shows its private calendar address (added with calendar sync)."""
    from playwright.sync_api import expect

    owner = OwnerFactory()
    stay = make_property(owner=owner, index=site, title="Kip's farmhouse")
    context, page = _signed_in_owner_page(chromium, live_server, owner)
    page.goto(f"{live_server.url}/admin/pages/{stay.pk}/edit/")
    address = page.locator("#calendar-export-url")
    expect(address).to_have_count(1)
    value = address.input_value() if address.evaluate("e => 'value' in e") else address.inner_text()
    assert value.startswith(live_server.url) or value.startswith("http"), value
    assert value.endswith(".ics"), value
    context.close()
