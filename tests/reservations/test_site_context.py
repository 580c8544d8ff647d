"""reservations.site_context: the booking page's own figures, and the parts other apps add
to it through the registry (the payments app: pay card, payments list, live status)."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reservations import site_context
from reservations.site_context import BookingPagePart, booking_page_context, booking_status_data
from tests.factories import UserFactory, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def prop(site_tree):
    return make_property(price_per_night=5000, max_guests=3, min_nights=1)


def test_money_in_flight_is_read_from_the_booking_row_not_the_payment_rows(prop):
    booking = make_booking(property=prop, nights=2)
    make_payment(booking=booking, status="PENDING", amount=4000)
    booking.refresh_from_db()
    booking.property  # noqa: B018 - loaded up front: only the figures' own reads are counted below

    with CaptureQueriesContext(connection) as captured:
        data = booking_status_data(booking)

    assert data["in_flight_amount"] == 4000
    assert data["max_payable"] == booking.balance_due - 4000 == 6000
    assert not [q["sql"] for q in captured if "mpesa" in q["sql"]]


def test_registered_parts_add_their_templates_context_and_script_config(prop, monkeypatch):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    request = RequestFactory().get("/")
    request.user = guest
    seen = {}

    def part(*, request, booking, status, **options):
        seen.update(options, status=status)
        return BookingPagePart(
            context={"extra": "from the part"},
            main=("part/main.html",),
            side=("part/side.html",),
            script_config={"statusUrl": "/somewhere/"},
        )

    monkeypatch.setattr(site_context, "_booking_page_parts", [part])

    context = booking_page_context(request=request, booking=booking, payment_form="the bound form")

    assert seen["payment_form"] == "the bound form" and seen["status"] == context["status"]
    assert context["extra"] == "from the part"
    assert context["main_parts"] == ["part/main.html"] and context["side_parts"] == ["part/side.html"]
    assert context["page_config"]["statusUrl"] == "/somewhere/"
    assert context["page_config"]["bookingId"] == booking.pk


def test_without_payment_parts_the_booking_page_still_shows_the_stay(client, prop, monkeypatch):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    monkeypatch.setattr(site_context, "_booking_page_parts", [])
    client.force_login(guest)

    response = client.get(reverse("reservations:booking_detail", args=[booking.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert booking.reference in html and "Your stay" in html
    assert 'id="pay"' not in html and "Payments" not in html
