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
from tests.daraja import use_the_simulator

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
    from listings.site_setup import ensure_site_tree

    use_the_simulator(settings, live_server.url, callback_token=CALLBACK_TOKEN)
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


def screenshot_fitting(page, name: str) -> Path:
    """screenshot(), and on a phone make sure nothing is wider than the screen."""
    path = screenshot(page, name)
    width = page.viewport_size["width"]
    if width <= 400:
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name}: the page is {scroll_width}px wide on a {width}px screen"
    return path


def answer_prompt(phone_page, url: str, *, action: str, expected_amount: int) -> None:
    """On the simulator's virtual phone at `url`: wait for the prompt, then Pay (with a PIN) or Cancel."""
    from playwright.sync_api import expect

    phone_page.goto(url)
    prompt = phone_page.locator("form.prompt")
    expect(prompt).to_have_count(1, timeout=PAYMENT_TIMEOUT_MS)
    expect(prompt).to_have_attribute("data-amount", str(expected_amount))
    if action == "pay":
        prompt.locator("input[name=pin]").fill("1234")
        prompt.get_by_role("button", name="Pay").click()
    else:
        prompt.get_by_role("button", name="Cancel").click()
    expect(phone_page.locator("form.prompt")).to_have_count(0)


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
