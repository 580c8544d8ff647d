"""Headless Chromium (Debian's package) driving the site on a live server, with the Daraja
simulator reachable over HTTP on the same server.

Without /usr/bin/chromium these tests skip, unless REQUIRE_BROWSER is set (CI sets it):
then they fail, so a missing browser can never pass for green.
"""

import io
import os
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 (used by the browser tests)
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts"
CALLBACK_TOKEN = "browser-callback-token-8d2f6a1c9e4b7d3f"
# How long to wait for something that depends on M-Pesa (the simulator's callback).
PAYMENT_TIMEOUT_MS = 20_000

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
# ordinary synchronous code and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def live_site(live_server, settings, transactional_db):
    """The live server with the page tree, talking to its own Daraja simulator."""
    from django.core.cache import cache

    from listings.site_setup import ensure_site_tree

    settings.MPESA_BASE_URL = live_server.url + "/simulator"
    settings.MPESA_CALLBACK_BASE_URL = live_server.url
    settings.MPESA_CALLBACK_TOKEN = CALLBACK_TOKEN
    settings.MPESA_CONSUMER_KEY = settings.MPESA_SIMULATOR_CONSUMER_KEY
    settings.MPESA_CONSUMER_SECRET = settings.MPESA_SIMULATOR_CONSUMER_SECRET
    settings.MPESA_SHORTCODE = settings.MPESA_SIMULATOR_SHORTCODE
    settings.MPESA_PASSKEY = settings.MPESA_SIMULATOR_PASSKEY
    settings.MPESA_HTTP_TIMEOUT = 5
    cache.clear()
    ensure_site_tree()
    yield live_server
    from mpesa.simulator.services import deliveries_join

    deliveries_join()


@pytest.fixture
def browser_context(chromium, request):
    """A fresh browser profile per test; `viewport` from @pytest.mark.parametrize or the laptop default."""
    viewport = getattr(request, "param", None) or {"width": 1280, "height": 800}
    context = chromium.new_context(viewport=viewport, locale="en-GB", timezone_id="Africa/Nairobi")
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(browser_context):
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and print where (CI shows it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def photo(color: tuple[int, int, int], *, size=(1200, 800)):
    """A listing photo that looks like one in a screenshot: a sky-to-ground gradient."""
    from django.core.files.images import ImageFile
    from PIL import Image as PILImage, ImageDraw
    from wagtail.images import get_image_model

    width, height = size
    picture = PILImage.new("RGB", size, color)
    draw = ImageDraw.Draw(picture)
    for y in range(height):
        shade = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(c * (0.55 + 0.6 * shade)) % 256 for c in color))
    draw.rectangle([width * 0.3, height * 0.45, width * 0.7, height * 0.85], fill=(245, 240, 230))
    draw.polygon([(width * 0.25, height * 0.47), (width * 0.5, height * 0.25), (width * 0.75, height * 0.47)], fill=(150, 60, 40))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80)
    image = get_image_model()(title="Listing photo", description="")
    image.file = ImageFile(io.BytesIO(buffer.getvalue()), name="listing.jpg")
    image.save()
    return image


def listing(*, title: str, photos: int = 3, color=(60, 140, 200), amenities=("Wi-Fi", "Parking", "Kitchen"), **fields):
    """A published PropertyPage with real-looking photos and amenities."""
    from listings.models import Amenity, PropertyGalleryImage
    from tests.factories import make_property

    page = make_property(title=title, **fields)
    page.gallery_images = [
        PropertyGalleryImage(image=photo(tuple((c + 25 * n) % 256 for c in color)), caption=f"{title}, view {n + 1}", sort_order=n)
        for n in range(photos)
    ]
    icons = {"Wi-Fi": "wifi", "Parking": "parking", "Kitchen": "kitchen", "Pool": "pool", "Beach access": "beach"}
    page.amenities = [Amenity.objects.get_or_create(name=name, defaults={"icon": icons.get(name, "other")})[0] for name in amenities]
    page.save_revision(user=page.owner).publish()
    page.refresh_from_db()
    return page
