"""The guest's pages in every state worth auditing, built once per test on the live site,
and the axe-core run that audits them (tests/browser/test_axe.py, test_keyboard.py).

`guest_pages(live_site)` writes the rows (a listing with photos, coordinates and a booked
range; a guest with bookings in each state; a co-guest's invitation) and returns `Page`
entries: how to reach each page in the browser (anonymous or logged in as the guest).
"""

import datetime as dt
import hashlib
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Callable

from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import listing, screenshot
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date, make_booking, make_payment

# What the site promises: WCAG 2.2 AA (which includes 2.0 and 2.1 A/AA).
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]},
    "resultTypes": ["violations"],
}
BLOCKING_IMPACTS = ("serious", "critical")
INVITATION_TOKEN = "a11y-invitation-token-0123456789abcdefghijklmnop"
GUEST_EMAIL = "wanjiku.a11y@example.com"

_axe = Axe()


@dataclass
class GuestPage:
    name: str
    path: str
    # "anonymous" pages are visited before the guest logs in, "guest" ones after.
    who: str = "guest"
    # Something to do on the page before auditing it (fill a form wrongly, ...).
    action: Callable | None = None
    status: int = 200
    notes: list = field(default_factory=list)


@dataclass
class GuestSite:
    pages: list
    place: object
    guest: object
    pending: object


def _wrong_password(page):
    page.locator("#id_email").fill(GUEST_EMAIL)
    page.locator("#id_password").fill("not-the-password")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state("load")


def _invalid_signup(page):
    # Nothing filled in but a malformed email and phone: every field shows its error.
    page.locator("#id_email").fill("not-an-email")
    page.locator("#id_phone_number").fill("12345")
    form = page.locator("#id_email").locator("xpath=ancestor::form")
    # The browser's own validation would stop the submit before the server sees it.
    form.evaluate("form => form.noValidate = true")
    form.locator("button[type=submit]").last.click()
    page.wait_for_load_state("load")



def guest_pages(live_site) -> GuestSite:
    from reservations.models import BookingGuest

    place = listing(
        title="Watamu Coral House", town="Watamu", area="Turtle Bay", price_per_night=7200, max_guests=4,
        amenities=("Wi-Fi", "Parking", "Kitchen", "Beach access"), color=(40, 130, 160),
        latitude=Decimal("-3.354600"), longitude=Decimal("40.019400"),
    )
    listing(title="Kilifi Creek Cottage", town="Kilifi", area="Mnarani", price_per_night=5400, color=(150, 110, 70))
    guest = UserFactory(name="Wanjiku Kamau", email=GUEST_EMAIL, phone_number="+254712345678")
    # A booked range on the listing's calendar (someone else's).
    make_booking(property=place, check_in=future_date(20), nights=3, status="CONFIRMED")

    pending = make_booking(property=place, guest=guest, check_in=future_date(40), nights=2)
    failed = make_booking(property=place, guest=guest, check_in=future_date(50), nights=2)
    make_payment(booking=failed, status="FAILED", amount=failed.total_price, result_code="1",
                 result_desc="The balance is insufficient for the transaction.")
    confirmed = make_booking(property=place, guest=guest, check_in=future_date(60), nights=2, status="CONFIRMED")
    make_payment(booking=confirmed, amount=confirmed.total_price)
    confirmed.amount_paid, confirmed.balance_due = confirmed.total_price, 0
    confirmed.save(update_fields=["amount_paid", "balance_due"])
    cancelled = make_booking(property=place, guest=guest, check_in=future_date(70), nights=2, status="CANCELLED")

    # A co-guest's invitation on someone else's booking, as the worker would have sent it.
    host_booking = make_booking(property=place, check_in=future_date(80), nights=2, status="CONFIRMED")
    BookingGuest.objects.create(
        booking=host_booking, name="Otieno Ouma", email="otieno.a11y@example.com",
        invitation_token_hash=hashlib.sha256(INVITATION_TOKEN.encode()).hexdigest(),
        invited_at=dt.datetime.now(dt.timezone.utc),
        invitation_expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7),
    )

    check_in, check_out = future_date(21), future_date(24)
    pages = [
        GuestPage("home", "/", who="anonymous"),
        GuestPage("search-results", f"/stays/?location=Watamu&check_in={future_date(90)}&check_out={future_date(93)}&guests=2", who="anonymous"),
        GuestPage("search-no-results", "/stays/?location=Atlantis", who="anonymous"),
        GuestPage("search-invalid", f"/stays/?check_in={check_out}&check_out={check_in}&guests=abc", who="anonymous", status=400),
        GuestPage("property", place.url, who="anonymous"),
        GuestPage("login", "/accounts/login/", who="anonymous"),
        GuestPage("login-wrong-password", "/accounts/login/", who="anonymous", action=_wrong_password),
        GuestPage("signup-invalid", "/accounts/signup/", who="anonymous", action=_invalid_signup),
        GuestPage("invitation", f"/invitations/{INVITATION_TOKEN}/", who="anonymous"),
        GuestPage("not-found", "/no-such-page/", who="anonymous", status=404),
        GuestPage("offline", "/offline/", who="anonymous"),
        GuestPage("account", "/accounts/account/"),
        GuestPage("my-bookings", "/bookings/"),
        GuestPage("booking-pending", f"/bookings/{pending.pk}/"),
        GuestPage("booking-payment-failed", f"/bookings/{failed.pk}/"),
        GuestPage("booking-confirmed", f"/bookings/{confirmed.pk}/"),
        GuestPage("booking-cancelled", f"/bookings/{cancelled.pk}/"),
        GuestPage("booking-cancel-confirmation", f"/bookings/{pending.pk}/cancel/"),
        GuestPage("property-logged-in", place.url),
    ]
    return GuestSite(pages=pages, place=place, guest=guest, pending=pending)


def log_in(page, base_url: str) -> None:
    page.goto(base_url + "/accounts/login/")
    page.locator("#id_email").fill(GUEST_EMAIL)
    page.locator("#id_password").fill(DEFAULT_PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    page.wait_for_load_state("load")


def audit(page) -> list[dict]:
    """axe's serious and critical violations on the page as it is now."""
    results = _axe.run(page, options=AXE_OPTIONS)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(name: str, violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(
                f"{name}: {violation['id']} ({violation['impact']}) at {', '.join(map(str, node['target']))}"
                f"\n    {violation['help']} -- {summary[:300]}\n    {node.get('html', '')[:200]}"
            )
    return "\n".join(lines)


def visit_and_audit(page, base_url: str, entry: GuestPage, *, prefix: str) -> list[str]:
    """Open the page (do its action), screenshot it, and return the problems found."""
    response = page.goto(base_url + entry.path)
    page.wait_for_load_state("load")
    problems = []
    if response is None or response.status != entry.status:
        problems.append(f"{entry.name}: {entry.path} answered {response and response.status}, expected {entry.status}")
    if entry.action:
        entry.action(page)
    screenshot(page, f"a11y-{prefix}-{entry.name}")
    width = page.viewport_size["width"]
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        problems.append(f"{entry.name}: reflow -- the page is {scroll_width}px wide on a {width}px screen")
    violations = audit(page)
    if violations:
        problems.append(describe(entry.name, violations))
    return problems
