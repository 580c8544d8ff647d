"""The site's cancellation: the policy in words on the property page, the booking form and
the booking page; "Cancel this booking" with the refund shown before the guest confirms
(a <dialog> on the page, a confirmation page without JavaScript); the refunds afterwards.
The dialog's script runs in tests/browser/test_cancel_refund.py."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from mpesa.models import Refund
from reservations.deadlines import check_in_at
from reservations.models import BookingGuest
from tests.factories import UserFactory, future_date, make_booking, make_payment, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db


@pytest.fixture
def place(site_tree):
    return make_property(title="Nanyuki Cedar Cabin", price_per_night=6000, cancellation_policy="moderate")


@pytest.fixture
def paid(place):
    """A booking 3 days out (moderate: half back) holding KES 9,000 paid from 0712345678."""
    guest = UserFactory(phone_number="+254712345678")
    booking = make_booking(property=place, guest=guest, check_in=future_date(3), nights=2)
    make_payment(booking=booking, amount=9000, phone_number="254712345678")
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    return booking


def _late(monkeypatch, booking):
    """Three days before check-in whatever the clock says: moderate gives half back."""
    moment = check_in_at(booking.check_in) - dt.timedelta(days=3)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_property_page_and_its_booking_form_state_the_policy(client, place):
    html = _text(client.get(place.url))
    assert 'id="cancellation-policy"' in html
    assert "Moderate: full refund until 5 days before check-in, 50 % after." in html
    form = html[html.index('id="booking-form"'):]
    assert re.search(r'id="booking-policy"[^>]*>Cancellation: Moderate: full refund until 5 days', form)


def test_the_booking_page_shows_the_policy_and_a_dialog_with_the_refund(client, paid, monkeypatch):
    _late(monkeypatch, paid)
    client.force_login(paid.primary_guest)

    html = _text(client.get(reverse("reservations:booking_detail", args=[paid.pk])))

    assert "Cancellation policy:</strong> Moderate: full refund until 5 days before check-in, 50 % after." in html
    link = re.search(r'<a href="([^"]+)" class="link-button danger-link" id="cancel-button"[^>]*>Cancel this booking</a>', html)
    assert link and link.group(1) == reverse("reservations:booking_cancel", args=[paid.pk])
    dialog = html[html.index('<dialog class="cancel-dialog"'):html.index("</dialog>")]
    assert 'data-testid="refund-amount">KES 4,500<' in dialog
    assert "KES 4,500, goes back to the phone that paid" in dialog
    assert '<input type="hidden" name="expected_refund" value="4500">' in dialog
    assert "Yes, cancel and refund KES 4,500" in dialog
    assert 'id="cancel-keep" autofocus' in dialog  # the safe choice has the focus when it opens


def test_without_javascript_the_link_opens_a_confirmation_that_cancels(client, paid, monkeypatch):
    _late(monkeypatch, paid)
    client.force_login(paid.primary_guest)
    url = reverse("reservations:booking_cancel", args=[paid.pk])

    page = client.get(url)
    assert page.status_code == 200
    html = _text(page)
    assert "Cancel your stay at Nanyuki Cedar Cabin?" in html
    assert 'data-testid="refund-amount">KES 4,500<' in html
    assert "Not refunded</dt>" in html and "KES 4,500" in html
    paid.refresh_from_db()
    assert paid.status != "CANCELED"  # opening the confirmation changes nothing

    done = client.post(url, {"expected_refund": "4500"}, follow=True)

    paid.refresh_from_db()
    assert paid.status == "CANCELED"
    refund = Refund.objects.get(booking=paid)
    assert (refund.amount, refund.method, refund.phone_number) == (4500, "b2c", "254712345678")
    html = _text(done)
    assert "is cancelled and the dates are released. KES 4,500 is being refunded to the phone that paid." in html
    assert "KES 4,500 will be refunded to 0712•••678, the phone that paid." in html
    assert re.search(r'data-refund-id="%d" data-phase="sending"' % refund.pk, html)
    assert 'id="cancel-button"' not in html


def test_a_refund_that_changed_since_the_page_was_drawn_is_shown_again(client, paid, monkeypatch):
    _late(monkeypatch, paid)
    client.force_login(paid.primary_guest)

    response = client.post(reverse("reservations:booking_cancel", args=[paid.pk]), {"expected_refund": "9000"})

    assert response.status_code == 409
    html = _text(response)
    assert "The refund has changed since the page was opened." in html
    assert 'name="expected_refund" value="4500"' in html
    paid.refresh_from_db()
    assert paid.status != "CANCELED"
    assert not Refund.objects.exists()


def test_a_post_that_names_no_refund_gets_the_confirmation_first(client, paid, monkeypatch):
    _late(monkeypatch, paid)
    client.force_login(paid.primary_guest)
    response = client.post(reverse("reservations:booking_cancel", args=[paid.pk]))
    assert response.status_code == 200
    assert 'data-testid="refund-amount">KES 4,500<' in _text(response)
    paid.refresh_from_db()
    assert paid.status != "CANCELED"


def test_no_cancel_button_for_a_co_guest_or_while_a_payment_is_on_its_way(client, paid):
    co_guest = UserFactory()
    BookingGuest.objects.create(booking=paid, name=co_guest.name, email=co_guest.email, user=co_guest)
    client.force_login(co_guest)
    detail = reverse("reservations:booking_detail", args=[paid.pk])
    assert 'id="cancel-button"' not in _text(client.get(detail))
    refused = client.post(reverse("reservations:booking_cancel", args=[paid.pk]), {"expected_refund": "4500"}, follow=True)
    assert "Only the guest who made the booking can cancel it." in _text(refused)

    make_payment(booking=paid, status="PENDING", amount=500)
    client.force_login(paid.primary_guest)
    assert 'id="cancel-button"' not in _text(client.get(detail))
    page = client.get(reverse("reservations:booking_cancel", args=[paid.pk]), follow=True)
    assert "A payment for this booking is still on its way." in _text(page)
    paid.refresh_from_db()
    assert paid.status != "CANCELED"


def test_an_already_cancelled_booking_cannot_be_cancelled_again(client, place):
    booking = make_booking(property=place, status="CANCELED")
    client.force_login(booking.primary_guest)
    response = client.get(reverse("reservations:booking_cancel", args=[booking.pk]), follow=True)
    assert "This booking is already cancelled." in _text(response)


def test_another_guests_booking_is_404(client, paid):
    client.force_login(UserFactory())
    assert client.get(reverse("reservations:booking_cancel", args=[paid.pk])).status_code == 404
    assert client.post(reverse("reservations:booking_cancel", args=[paid.pk]), {"expected_refund": "4500"}).status_code == 404


def test_the_live_status_carries_the_refunds_until_they_land(client, paid, monkeypatch):
    _late(monkeypatch, paid)
    client.force_login(paid.primary_guest)
    client.post(reverse("reservations:booking_cancel", args=[paid.pk]), {"expected_refund": "4500"})
    status_url = reverse("payments:booking_status", args=[paid.pk])

    data = client.get(status_url).json()
    assert [(r["amount"], r["phase"], r["phone"]) for r in data["refunds"]] == [(4500, "sending", "0712•••678")]
    assert data["refunds_summary"]["open"] is True

    Refund.objects.filter(booking=paid).update(status="SUCCESS", mpesa_transaction_id="RFD1234567")
    data = client.get(status_url).json()
    assert data["refunds"][0]["title"] == "Refunded"
    assert "RFD1234567" in data["refunds"][0]["message"]
    assert (data["refunds_summary"]["open"], data["refunds_summary"]["done"]) == (False, True)
    page = _text(client.get(reverse("reservations:booking_detail", args=[paid.pk])))
    assert "KES 4,500 has been refunded to 0712•••678." in page


def test_an_unpaid_booking_cancels_with_one_confirmation(client, place):
    booking = make_booking(property=place)
    client.force_login(booking.primary_guest)
    html = _text(client.get(reverse("reservations:booking_cancel", args=[booking.pk])))
    assert "Nothing has been paid, so there is nothing to refund." in html
    assert "Yes, cancel</button>" in html
    client.post(reverse("reservations:booking_cancel", args=[booking.pk]), {"expected_refund": "0"})
    booking.refresh_from_db()
    assert booking.status == "CANCELED"
