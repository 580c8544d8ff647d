"""The booking page's payment parts (mpesa.site_views, mpesa.site_context): the pay form,
with and without JavaScript, and the live status the page's script polls. Payments are
created through the real services; the STK push itself (after commit) is exercised over
HTTP by the browser tests."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from mpesa.models import Payment
from tests.factories import UserFactory, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    """Throttle counters from one test must not leak into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def prop(site_tree):
    return make_property(title="Kilimani Garden Flat", price_per_night=6000, max_guests=3, min_nights=2)


# --- Paying ---------------------------------------------------------------------------------------


def _pay(client, booking, *, json_response=True, **data):
    headers = {"HTTP_ACCEPT": "application/json"} if json_response else {}
    return client.post(reverse("payments:booking_pay", args=[booking.pk]), data, **headers)


def test_pay_form_creates_a_payment_and_reports_it_as_json(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, nights=3)
    client.force_login(guest)

    response = _pay(client, booking, phone_number="0712 345 678", amount="5000")

    assert response.status_code == 202, response.content
    body = response.json()
    payment = Payment.objects.get()
    assert payment.amount == 5000 and payment.phone_number == "254712345678" and payment.initiated_by == guest
    assert body["payment"]["id"] == payment.pk and body["payment"]["phase"] == "sending"
    assert body["booking"]["in_flight_amount"] == 5000 and body["booking"]["max_payable"] == 13000


def test_pay_form_without_javascript_redirects_to_the_live_panel(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    client.force_login(guest)
    response = _pay(client, booking, json_response=False, phone_number="0712345678", amount="3000")
    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"?payment={payment.pk}#pay")
    html = client.get(response["Location"]).content.decode()
    assert "Sending the M-Pesa request" in html and 'data-phase="sending"' in html


@pytest.mark.parametrize(
    "data, status, code, text",
    [
        ({"phone_number": "0712345678", "amount": "20000"}, 409, "amount_exceeds_balance", "more than what is left to pay"),
        ({"phone_number": "12345", "amount": "100"}, 400, "invalid", "Enter a Kenyan mobile number"),
        ({"phone_number": "0712345678", "amount": "0"}, 400, "invalid", "whole number of shillings, at least 1"),
        ({"phone_number": "0712345678", "amount": "ten"}, 400, "invalid", "Enter a whole number"),
    ],
)
def test_pay_form_refusals_come_back_in_plain_words(client, prop, data, status, code, text):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    client.force_login(guest)
    response = _pay(client, booking, **data)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert text in json.dumps(body)
    assert not Payment.objects.exists()


def test_minimum_deposit_is_shown_and_enforced(client, site_tree):
    prop = make_property(price_per_night=10000, min_deposit_percent=30)
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, nights=2)
    client.force_login(guest)
    html = client.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()
    assert "Deposit · KES 6,000" in html and "Full balance · KES <span" in html
    refused = _pay(client, booking, phone_number="0712345678", amount="5000")
    assert refused.status_code == 400 and "at least KES 6,000" in refused.json()["detail"]
    assert _pay(client, booking, phone_number="0712345678", amount="6000").status_code == 202


def test_pay_form_is_throttled_like_the_api(client, prop, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"payment_user": "1/min", "payment_phone": "100/min"})
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, nights=3)
    client.force_login(guest)
    assert _pay(client, booking, phone_number="0712345678", amount="4000").status_code == 202
    second = _pay(client, booking, phone_number="0722345678", amount="4000")
    assert second.status_code == 429 and "wait a minute" in second.json()["detail"]
    assert Payment.objects.count() == 1


def _failed_and_cancelled(prop, guest, *, result_code="1032"):
    booking = make_booking(property=prop, guest=guest, nights=2)
    Payment.objects.create(booking=booking, amount=1000, phone_number="254712345678", status="FAILED",
                           result_code=result_code, result_desc="Request cancelled by user", initiated_by=guest)
    booking.status, booking.canceled_at, booking.cancel_reason = "CANCELED", timezone.now(), "Payment failed: cancelled"
    booking.cancel_kind = "payment_failed"  # what mpesa.services records when a failure cancels a booking
    booking.save()
    return booking


def test_paying_again_after_a_cancelled_prompt_restores_the_booking(client, prop):
    guest = UserFactory()
    booking = _failed_and_cancelled(prop, guest)
    client.force_login(guest)

    html = client.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()
    assert "Pay now to try again" in html and 'id="pay-area" hidden' not in html

    response = _pay(client, booking, phone_number="0712345678", amount="3000")

    assert response.status_code == 202, response.content
    booking.refresh_from_db()
    assert booking.status == "PENDING" and booking.hold_expires_at > timezone.now() + dt.timedelta(minutes=10)
    assert Payment.objects.filter(booking=booking, status="QUEUED").count() == 1


def test_paying_again_when_the_dates_went_meanwhile_says_so(client, prop):
    guest = UserFactory()
    booking = _failed_and_cancelled(prop, guest)
    make_booking(property=prop, check_in=booking.check_in, nights=1, status="PENDING")
    client.force_login(guest)

    response = _pay(client, booking, phone_number="0712345678", amount="3000")

    assert response.status_code == 409
    assert "someone else booked some of these nights" in response.json()["detail"]
    booking.refresh_from_db()
    assert booking.status == "CANCELED"
    assert Payment.objects.filter(booking=booking).count() == 1


def test_a_booking_the_guest_cancelled_cannot_be_paid(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, status="CANCELED")
    client.force_login(guest)
    response = _pay(client, booking, phone_number="0712345678", amount="1000")
    assert response.status_code == 409 and response.json()["code"] == "booking_not_payable"


# --- Live status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, result_code, reason, phase, words",
    [
        ("QUEUED", None, "", "sending", "Sending the M-Pesa request"),
        ("PENDING", None, "", "waiting", "Check your phone"),
        ("SUCCESS", "0", "", "paid", "Payment received"),
        ("FAILED", "1032", "", "cancelled", "cancelled on the phone"),
        ("FAILED", "2001", "", "wrong_pin", "PIN entered on the phone was wrong"),
        ("FAILED", "1037", "", "timeout", "timed out before anyone answered"),
        ("FAILED", "1", "", "insufficient", "balance was too low"),
        ("FAILED", None, "No answer from M-Pesa within 5 minutes (timed out).", "timeout", "didn't hear back from M-Pesa"),
        ("FAILED", "9999", "Something odd", "failed", "M-Pesa said: Something odd"),
    ],
)
def test_status_endpoint_reports_payment_phases_in_plain_words(client, prop, status, result_code, reason, phase, words):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    payment = Payment.objects.create(
        booking=booking, amount=1500, phone_number="254712345678", status=status, result_code=result_code,
        failure_reason=reason, result_desc=reason, mpesa_receipt_number="TST123ABC" if status == "SUCCESS" else None,
        received_amount=1500 if status == "SUCCESS" else None,
    )
    client.force_login(guest)
    response = client.get(reverse("payments:booking_status", args=[booking.pk]), {"payment": payment.pk})
    assert response.status_code == 200
    data = response.json()
    assert data["payment"]["phase"] == phase
    assert words in data["payment"]["title"] + " " + data["payment"]["message"]
    assert data["payment"]["final"] is (status in ("SUCCESS", "FAILED"))
    assert data["booking"]["status"] == "PENDING" and data["booking"]["balance_due"] == booking.balance_due


def test_status_endpoint_hides_other_people_s_payments(client, prop):
    guest = UserFactory()
    mine = make_booking(property=prop, guest=guest)
    theirs = make_booking(property=prop, check_in=future_date(60))
    payment = Payment.objects.create(booking=theirs, amount=100, phone_number="254712345678")
    client.force_login(guest)
    url = reverse("payments:booking_status", args=[mine.pk])
    assert client.get(url, {"payment": payment.pk}).status_code == 404
    assert client.get(url, {"payment": "nope"}).status_code == 404


# --- The booking page's payment parts -----------------------------------------------------------


def test_the_pay_form_and_the_status_keep_their_paths_under_the_booking():
    assert reverse("payments:booking_pay", args=[7]) == "/bookings/7/pay/"
    assert reverse("payments:booking_status", args=[7]) == "/bookings/7/status/"


def test_the_booking_page_shows_the_payments_and_the_pay_card(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, nights=3, status="PROCESSING", amount_paid=5000)
    Payment.objects.create(
        booking=booking, amount=5000, received_amount=5000, phone_number="254712345678", status="SUCCESS",
        mpesa_receipt_number="TST5000AB", result_code="0",
    )
    client.force_login(guest)

    html = client.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()

    assert 'id="payments-heading"' in html and "Payment received · TST5000AB" in html
    assert f'action="/bookings/{booking.pk}/pay/" id="pay-form"' in html
    assert "Full balance · KES <span" in html and "13,000" in html
    assert f'"statusUrl": "/bookings/{booking.pk}/status/"' in html
