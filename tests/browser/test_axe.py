"""axe-core (WCAG 2.0/2.1/2.2 A and AA rules) on every guest page, on a 360 px phone and a
1280 px laptop: no serious or critical violation, and nothing wider than the screen.

Each page is audited in the state a guest sees it in (see tests/browser/a11y_pages.py); a
failure lists every violation: page, rule, impact, element, and what to fix.
"""

import pytest

from tests.browser.a11y_pages import guest_pages, log_in, visit_and_audit
from tests.chromium import BROWSER_MARKS

pytestmark = [*BROWSER_MARKS, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = pytest.mark.parametrize("browser_context", [PHONE, LAPTOP], indirect=True, ids=["phone-360", "laptop"])


def _prefix(page) -> str:
    return "phone" if page.viewport_size["width"] <= 400 else "laptop"


@VIEWPORTS
def test_every_guest_page_has_no_serious_axe_violation(live_site, page):
    site = guest_pages(live_site)
    prefix = _prefix(page)
    problems = []
    visited = []
    for entry in [p for p in site.pages if p.who == "anonymous"]:
        problems += visit_and_audit(page, live_site.url, entry, prefix=prefix)
        visited.append(entry.name)
    log_in(page, live_site.url)
    for entry in [p for p in site.pages if p.who == "guest"]:
        problems += visit_and_audit(page, live_site.url, entry, prefix=prefix)
        visited.append(entry.name)
    assert len(visited) == len(site.pages)
    assert not problems, f"{len(problems)} page(s) with problems:\n" + "\n".join(problems)


@VIEWPORTS
def test_kiswahili_home_and_property_pages_have_no_serious_axe_violation(live_site, page):
    from tests.browser.a11y_pages import GuestPage

    site = guest_pages(live_site)
    prefix = _prefix(page) + "-sw"
    problems = []
    for entry in (GuestPage("home", "/sw/", who="anonymous"), GuestPage("property", "/sw" + site.place.url, who="anonymous")):
        problems += visit_and_audit(page, live_site.url, entry, prefix=prefix)
        lang = page.evaluate("document.documentElement.lang")
        if not lang.startswith("sw"):
            problems.append(f"{entry.name}: <html lang={lang!r}> on {entry.path}, expected sw")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("browser_context", [LAPTOP], indirect=True, ids=["laptop"])
def test_the_audit_catches_a_violation(live_site, page):
    """The harness itself: low-contrast text and an unlabelled field added to the home page
    are reported, with the rule, impact and element."""
    from tests.browser.a11y_pages import audit, describe

    page.goto(live_site.url + "/")
    page.evaluate("""() => {
      const p = document.createElement("p");
      p.id = "a11y-probe"; p.textContent = "Barely readable"; p.style.color = "#c8c8c8"; p.style.background = "#fff";
      const input = document.createElement("input"); input.id = "a11y-probe-input";
      document.querySelector("main").append(p, input);
    }""")
    violations = {v["id"]: v for v in audit(page)}
    assert "color-contrast" in violations and violations["color-contrast"]["impact"] == "serious"
    assert "label" in violations and violations["label"]["impact"] == "critical"
    message = describe("home", list(violations.values()))
    assert "#a11y-probe" in message and "color-contrast (serious)" in message
