"""Tabbing through the property page and the booking page on a 360 px phone: the focus moves
down the page in reading order, and every focused element is on screen, not under the
sticky header or a fixed bottom bar (WCAG 2.4.3 focus order, 2.4.11 focus not obscured).
"""

import pytest

from tests.browser.a11y_pages import guest_pages, log_in
from tests.browser.conftest import screenshot
from tests.chromium import BROWSER_MARKS

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
# Elements on one row (a date pair, two buttons) share a top; a few pixels cover rounding.
TOLERANCE_PX = 8
MAX_TABS = 120

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const rect = el.getBoundingClientRect();
  const fixedAncestor = (node) => {
    for (; node && node !== document.body; node = node.parentElement) {
      const position = getComputedStyle(node).position;
      if (position === "fixed" || position === "sticky") return node;
    }
    return null;
  };
  const header = document.querySelector("header, .site-header");
  const headerPosition = header ? getComputedStyle(header).position : "static";
  const headerBottom = header && (headerPosition === "sticky" || headerPosition === "fixed")
    ? header.getBoundingClientRect().bottom : 0;
  // The fixed bars at the bottom of a phone screen (book bar, pay bar) that are showing.
  let bottomLimit = window.innerHeight;
  document.querySelectorAll("body *").forEach((node) => {
    if (node.contains(el) || getComputedStyle(node).position !== "fixed") return;
    const box = node.getBoundingClientRect();
    if (box.height > 0 && box.width > 0 && box.bottom >= window.innerHeight - 1 && box.top > window.innerHeight / 2) {
      bottomLimit = Math.min(bottomLimit, box.top);
    }
  });
  const main = document.querySelector("main");
  return {
    what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.getAttribute("name") ? "[name=" + el.getAttribute("name") + "]" : "") +
      " \\"" + (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 40) + "\\"",
    top: rect.top, bottom: rect.bottom, width: rect.width, height: rect.height,
    docTop: rect.top + window.scrollY,
    inMain: !!(main && main.contains(el)),
    pinned: !!fixedAncestor(el),
    headerBottom, bottomLimit,
  };
}"""


def _tab_through(page) -> tuple[list[dict], list[str]]:
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("body").focus()
    stops, problems, seen = [], [], set()
    previous = None
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        info = page.evaluate(FOCUSED)
        if info is None:
            break
        key = (info["what"], round(info["docTop"]))
        if key in seen:
            break  # wrapped round to the start
        seen.add(key)
        stops.append(info)
        if info["width"] == 0 or info["height"] == 0:
            problems.append(f"invisible focus: {info['what']}")
        elif not info["pinned"] and info["top"] < info["headerBottom"] - 1:
            problems.append(f"under the sticky header: {info['what']} (top {info['top']:.0f} < {info['headerBottom']:.0f})")
        elif not info["pinned"] and info["bottom"] > info["bottomLimit"] + 1:
            problems.append(f"under a fixed bottom bar or off screen: {info['what']} (bottom {info['bottom']:.0f} > {info['bottomLimit']:.0f})")
        if info["inMain"] and not info["pinned"]:
            if previous is not None and info["docTop"] < previous["docTop"] - TOLERANCE_PX:
                problems.append(
                    f"focus goes up the page: {previous['what']} (y={previous['docTop']:.0f}) -> {info['what']} (y={info['docTop']:.0f})"
                )
            previous = info
    return stops, problems


@pytest.mark.parametrize("browser_context", [PHONE], indirect=True, ids=["phone-360"])
def test_tabbing_follows_the_visual_order_and_never_hides_the_focus(live_site, page):
    site = guest_pages(live_site)
    log_in(page, live_site.url)
    report = []
    for name, path in (("property", site.place.url), ("booking", f"/bookings/{site.pending.pk}/")):
        page.goto(live_site.url + path)
        page.wait_for_load_state("load")
        stops, problems = _tab_through(page)
        screenshot(page, f"a11y-keyboard-{name}")
        assert len([s for s in stops if s["inMain"]]) >= 5, f"{name}: only {len(stops)} focus stops: {stops}"
        report += [f"{name}: {problem}" for problem in problems]
    assert not report, "\n".join(report)
