"""The property page's photos in a real browser: a photo opens large in a dialog, the arrows
and a swipe go through them, Escape closes and gives the focus back, "Show all photos" offers
a grid; the phone's photo strip can be scrolled with the keyboard."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import listing, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = pytest.mark.parametrize("browser_context", [PHONE, LAPTOP], indirect=True, ids=["phone-360", "laptop"])


def _name(page) -> str:
    return "phone" if page.viewport_size["width"] <= 400 else "laptop"


def _swipe(page, locator, dx: int) -> None:
    """A finger's swipe as pointer events (what a touch screen sends)."""
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    common = {"pointerType": "touch", "isPrimary": True, "pointerId": 7, "bubbles": True}
    locator.dispatch_event("pointerdown", {**common, "clientX": x, "clientY": y})
    locator.dispatch_event("pointerup", {**common, "clientX": x + dx, "clientY": y + 4})


@VIEWPORTS
def test_lightbox_opens_goes_through_photos_and_gives_focus_back(live_site, page):
    place = listing(title="Watamu Beach House", town="Watamu", photos=5, color=(30, 140, 170))
    page.goto(live_site.url + place.url)
    name = _name(page)
    dialog = page.locator("#lightbox")
    counter = dialog.locator(".lightbox-counter")
    image = dialog.locator(".lightbox-image")

    first = page.locator(".gallery-link").first
    first.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    expect(counter).to_have_text("1 / 5")
    expect(counter).to_have_attribute("aria-live", "polite")
    expect(image).to_have_attribute("alt", "Watamu Beach House, view 1")
    expect(image).to_have_attribute("src", re.compile(r"\.webp$"))
    page.wait_for_function("document.querySelector('.lightbox-image').complete && document.querySelector('.lightbox-image').naturalWidth > 0")
    screenshot_path = screenshot(page, f"property-lightbox-{name}")
    assert screenshot_path.exists()

    dialog.get_by_role("button", name="Next photo").click()
    expect(counter).to_have_text("2 / 5")
    page.keyboard.press("ArrowRight")
    expect(counter).to_have_text("3 / 5")
    page.keyboard.press("ArrowLeft")
    expect(counter).to_have_text("2 / 5")
    expect(image).to_have_attribute("alt", "Watamu Beach House, view 2")
    dialog.get_by_role("button", name="Previous photo").click()
    dialog.get_by_role("button", name="Previous photo").click()
    expect(counter).to_have_text("5 / 5")  # it goes round

    _swipe(page, dialog.locator(".lightbox-stage"), -120)  # finger to the left: the next photo
    expect(counter).to_have_text("1 / 5")
    _swipe(page, dialog.locator(".lightbox-stage"), 120)
    expect(counter).to_have_text("5 / 5")

    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(first).to_be_focused()


@VIEWPORTS
def test_show_all_photos_offers_a_grid_and_a_photo_from_it(live_site, page):
    place = listing(title="Naivasha Lake Lodge", town="Naivasha", photos=6, color=(70, 130, 90))
    page.goto(live_site.url + place.url)
    show_all = page.get_by_role("button", name="Show all 6 photos")
    expect(show_all).to_be_visible()
    show_all.click()
    dialog = page.locator("#lightbox")
    expect(dialog).to_be_visible()
    thumbs = dialog.locator(".lightbox-grid button")
    expect(thumbs).to_have_count(6)
    expect(thumbs.first).to_be_focused()
    expect(dialog.locator(".lightbox-grid img").nth(3)).to_have_attribute("alt", "Naivasha Lake Lodge, view 4")
    expect(dialog.get_by_role("button", name="All photos")).to_have_attribute("aria-pressed", "true")
    screenshot(page, f"property-lightbox-grid-{_name(page)}")
    thumbs.nth(3).click()
    expect(dialog.locator(".lightbox-counter")).to_have_text("4 / 6")
    expect(dialog.locator(".lightbox-image")).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(show_all).to_be_focused()


@pytest.mark.parametrize("browser_context", [PHONE], indirect=True, ids=["phone-360"])
def test_the_phone_photo_strip_scrolls_with_the_keyboard(live_site, page):
    place = listing(title="Diani Coral Cottage", town="Diani", photos=4, color=(40, 150, 170))
    page.goto(live_site.url + place.url)
    strip = page.locator("#gallery")
    assert page.evaluate("(el) => el.scrollWidth > el.clientWidth", strip.element_handle())
    expect(strip).to_have_attribute("aria-label", "4 photos")
    # Each photo is a link: tabbing to the third scrolls it into view.
    links = page.locator(".gallery-link")
    links.nth(0).focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(links.nth(2)).to_be_focused()
    assert page.evaluate("(el) => el.scrollLeft", strip.element_handle()) > 0
    # The main photo is loaded first; the others wait until they are needed.
    expect(page.locator(".gallery img").first).to_have_attribute("fetchpriority", "high")
    expect(page.locator(".gallery img").nth(1)).to_have_attribute("loading", "lazy")
    # The styles are inlined in the page and apply: the header is white with its bottom line.
    assert page.locator('head link[rel="stylesheet"]').count() == 0
    assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor") == "rgb(255, 255, 255)"
    assert page.evaluate("getComputedStyle(document.querySelector('.site-header')).borderBottomStyle") == "solid"
