"""The booking pages: booking from a property page, the booking page (co-guests, pay,
live status), my bookings. Payments here are created through the real services; the
STK push itself (after commit) is exercised over HTTP by the browser tests."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from mpesa.models import Payment
from reservations.models import Booking, BookingGuest
from reservations.views import DATES_TAKEN_MESSAGE
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


def _booking_post(prop, *, check_in, nights=3, guests=1, co_guests=()):
    data = {
        "property": prop.pk,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
        "guests": guests,
        "guest-TOTAL_FORMS": len(co_guests),
        "guest-INITIAL_FORMS": 0,
        "guest-MIN_NUM_FORMS": 0,
        "guest-MAX_NUM_FORMS": 1000,
    }
    for index, row in enumerate(co_guests):
        for key, value in row.items():
            data[f"guest-{index}-{key}"] = value
    return data


@pytest.fixture
def prop(site_tree):
    return make_property(title="Kilimani Garden Flat", price_per_night=6000, max_guests=3, min_nights=2)


# --- Booking from the property page ------------------------------------------------------------


def test_booking_needs_login_and_comes_back_to_the_filled_in_form(client, prop):
    check_in = future_date(30)
    response = client.post("/bookings/new/", _booking_post(prop, check_in=check_in, guests=2, co_guests=[{"name": "Achieng Otieno"}]))

    assert response.status_code == 302
    login = urlparse(response["Location"])
    assert login.path == reverse("accounts:login")
    back = parse_qs(login.query)["next"][0]
    assert back.startswith(prop.url) and back.endswith("#book")
    assert "Achieng" not in back  # co-guests' details stay out of URLs
    assert not Booking.objects.exists()

    user = UserFactory(email="wanjiku@example.com")
    after_login = client.post(reverse("accounts:login"), {"email": user.email, "password": DEFAULT_PASSWORD, "next": back})
    assert after_login.status_code == 302 and after_login["Location"] == back

    html = client.get(back).content.decode()
    assert f'value="{check_in.isoformat()}"' in html
    assert 'value="Achieng Otieno"' in html
    assert '<option value="2" selected>' in html


def test_signup_link_on_login_page_keeps_the_way_back(client, prop):
    back = f"{prop.url}?check_in=2031-01-01#book"
    html = client.get(reverse("accounts:login"), {"next": back}).content.decode()
    assert "/accounts/signup/?next=" in html and "check_in%3D2031-01-01" in html


def test_booking_with_a_co_guest_creates_it_and_opens_the_booking_page(client, prop):
    guest = UserFactory(name="Baraka Mwangi")
    friend = UserFactory(email="achieng@example.com")
    client.force_login(guest)
    check_in = future_date(14)

    response = client.post(
        "/bookings/new/",
        _booking_post(prop, check_in=check_in, guests=2, co_guests=[{"name": "Achieng Otieno", "email": "Achieng@Example.com"}]),
    )

    booking = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("reservations:booking_detail", args=[booking.pk])
    assert booking.primary_guest == guest and booking.party_size == 2 and booking.total_price == 18000
    co_guest = booking.guests.get(is_primary=False)
    # Linked only when the invitation emailed to the address is accepted, never by a matching account.
    assert co_guest.name == "Achieng Otieno" and co_guest.user is None and co_guest.invitation == "invited"
    assert not booking.guests.filter(user=friend).exists()

    html = client.get(response["Location"]).content.decode()
    assert booking.reference in html
    assert "Achieng Otieno" in html and "Invitation sent to achieng@example.com" in html
    assert "KES 18,000" in html
    assert 'id="hold"' in html and "Dates held for you" in html
    assert 'data-status="PENDING"' in html
    assert 'value="0' in html  # the phone is pre-filled in the way Kenyans write it


def test_party_size_without_names_is_explained(client, prop):
    client.force_login(UserFactory())
    response = client.post("/bookings/new/", _booking_post(prop, check_in=future_date(10), guests=3, co_guests=[{"name": "One"}]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "You chose 3 guests: add the name of each person travelling with you." in html
    # One row per co-guest is shown, keeping the name already typed.
    assert html.count('class="co-guest-row"') == 2 + 1 and 'value="One"' in html
    assert not Booking.objects.exists()


def test_co_guest_row_without_a_name_is_refused(client, prop):
    client.force_login(UserFactory())
    response = client.post("/bookings/new/", _booking_post(prop, check_in=future_date(10), guests=2, co_guests=[{"name": "", "email": "x@example.com"}]))
    assert response.status_code == 400
    assert "Enter this guest&#x27;s name." in response.content.decode()


def test_taken_dates_are_refused_with_a_clear_message_not_an_error_page(client, prop):
    check_in = future_date(20)
    make_booking(property=prop, check_in=check_in + dt.timedelta(days=1), nights=2, status="PROCESSING")
    client.force_login(UserFactory())

    response = client.post("/bookings/new/", _booking_post(prop, check_in=check_in, nights=3))

    assert response.status_code == 409
    html = response.content.decode()
    assert "someone else" in html and DATES_TAKEN_MESSAGE.split(".")[0] in html
    assert 'id="booking-form"' in html and f'value="{check_in.isoformat()}"' in html
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    "check_in_days, nights, message",
    [
        (-3, 2, "Check-in cannot be in the past."),
        (10, 1, "This property takes stays of at least 2 nights."),
    ],
)
def test_service_refusals_show_on_the_form(client, prop, check_in_days, nights, message):
    client.force_login(UserFactory())
    check_in = timezone.localdate() + dt.timedelta(days=check_in_days)
    response = client.post("/bookings/new/", _booking_post(prop, check_in=check_in, nights=nights))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Booking.objects.exists()


def test_party_over_capacity_is_refused(client, prop):
    client.force_login(UserFactory())
    data = _booking_post(prop, check_in=future_date(10), guests=3, co_guests=[{"name": "A"}, {"name": "B"}, {"name": "C"}])
    data["guests"] = 4  # not offered by the form (max_guests is 3)
    response = client.post("/bookings/new/", data)
    assert response.status_code == 400
    assert not Booking.objects.exists()


def test_booking_an_unknown_property_is_404(client, site_tree):
    client.force_login(UserFactory())
    assert client.post("/bookings/new/", {"property": "99999"}).status_code == 404
    assert client.post("/bookings/new/", {"property": "abc"}).status_code == 404


def test_booking_create_refuses_get(client, site_tree):
    assert client.get("/bookings/new/").status_code == 405


# --- The booking page ---------------------------------------------------------------------------


def test_booking_page_is_404_for_other_people(client, prop):
    booking = make_booking(property=prop)
    client.force_login(UserFactory())
    assert client.get(reverse("reservations:booking_detail", args=[booking.pk])).status_code == 404
    assert client.get(reverse("reservations:booking_status", args=[booking.pk])).status_code == 404


def test_booking_page_needs_login(client, prop):
    booking = make_booking(property=prop)
    response = client.get(reverse("reservations:booking_detail", args=[booking.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_linked_co_guest_can_open_the_booking_and_pay(client, prop):
    friend = UserFactory()
    booking = make_booking(property=prop, status="PROCESSING", amount_paid=4000)
    BookingGuest.objects.create(booking=booking, name=friend.name, email=friend.email, user=friend)
    client.force_login(friend)
    html = client.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()
    assert booking.reference in html
    assert 'id="pay-form"' in html and 'id="pay-form" class="pay-form" novalidate hidden' not in html
    assert "Add a guest" not in html  # only the guest who booked changes the party


def test_add_and_remove_co_guests_before_paying(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    known = UserFactory(phone_number="+254722000111")
    client.force_login(guest)
    url = reverse("reservations:booking_guest_add", args=[booking.pk])

    response = client.post(url, {"add-name": "Otieno Known", "add-phone_number": "0722 000 111"})
    assert response.status_code == 302
    added = booking.guests.get(is_primary=False)
    # A matching phone never links (and, with no SMS yet, a phone-only guest gets no invitation).
    assert added.user is None and added.invitation == "none" and added.phone_number == "+254722000111"
    assert not booking.guests.filter(user=known).exists()
    booking.refresh_from_db()
    assert booking.party_size == 2

    bad = client.post(url, {"add-name": "", "add-phone_number": "12"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Enter this guest&#x27;s name." in html and "Enter a Kenyan mobile number" in html

    remove = client.post(reverse("reservations:booking_guest_remove", args=[booking.pk, added.pk]))
    assert remove.status_code == 302
    booking.refresh_from_db()
    assert booking.party_size == 1 and not booking.guests.filter(is_primary=False).exists()


def test_adding_beyond_capacity_is_explained(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, party_size=3)
    BookingGuest.objects.bulk_create([BookingGuest(booking=booking, name=n) for n in ("Two", "Three")])
    client.force_login(guest)
    response = client.post(reverse("reservations:booking_guest_add", args=[booking.pk]), {"add-name": "Four"})
    assert response.status_code == 400
    assert "sleeps at most 3 guests" in response.content.decode()
    assert booking.guests.count() == 3


def test_co_guests_cannot_be_removed_once_money_is_in(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, status="PROCESSING", amount_paid=3000, party_size=2)
    co = BookingGuest.objects.create(booking=booking, name="Paid Friend")
    client.force_login(guest)
    html = client.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()
    assert "Remove Paid Friend" not in html
    response = client.post(reverse("reservations:booking_guest_remove", args=[booking.pk, co.pk]), follow=True)
    assert "Guests can only be removed before anything is paid." in response.content.decode()
    assert BookingGuest.objects.filter(pk=co.pk).exists()


def test_only_the_booker_removes_guests(client, prop):
    booking = make_booking(property=prop)
    friend = UserFactory()
    own_row = BookingGuest.objects.create(booking=booking, name=friend.name, user=friend)
    client.force_login(friend)
    response = client.post(reverse("reservations:booking_guest_remove", args=[booking.pk, own_row.pk]), follow=True)
    assert "Only the guest who made the booking can remove guests." in response.content.decode()
    assert BookingGuest.objects.filter(pk=own_row.pk).exists()


def test_guest_cancels_an_unpaid_booking(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest)
    client.force_login(guest)
    response = client.post(reverse("reservations:booking_cancel", args=[booking.pk]), follow=True)
    booking.refresh_from_db()
    assert booking.status == "CANCELED"
    html = response.content.decode()
    assert "is cancelled and the dates are released" in html
    assert "Book these dates again" in html


def test_hold_expired_booking_says_so_in_plain_words(client, prop):
    guest = UserFactory()
    booking = make_booking(property=prop, guest=guest, hold_expires_at=timezone.now() - dt.timedelta(minutes=1))
    from reservations.services import booking_expire_holds

    assert booking_expire_holds() == 1
    client.force_login(guest)
    html = client.get(reverse("reservations:booking_detail", args=[booking.pk])).content.decode()
    assert "hold ran out before a payment came through, so the dates were released" in html
    assert 'data-status="CANCELED"' in html
    assert 'id="pay-area" hidden' in html


# --- Paying ---------------------------------------------------------------------------------------


def _pay(client, booking, *, json_response=True, **data):
    headers = {"HTTP_ACCEPT": "application/json"} if json_response else {}
    return client.post(reverse("reservations:booking_pay", args=[booking.pk]), data, **headers)


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
        ({"phone_number": "0712345678", "amount": "0"}, 400, "invalid", "greater than or equal to 1"),
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
    response = client.get(reverse("reservations:booking_status", args=[booking.pk]), {"payment": payment.pk})
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
    url = reverse("reservations:booking_status", args=[mine.pk])
    assert client.get(url, {"payment": payment.pk}).status_code == 404
    assert client.get(url, {"payment": "nope"}).status_code == 404


# --- My bookings ------------------------------------------------------------------------------------


def test_my_bookings_lists_upcoming_and_past_with_balance_and_pay_the_rest(client, prop):
    guest = UserFactory()
    upcoming = make_booking(property=prop, guest=guest, check_in=future_date(9), status="PROCESSING", amount_paid=5000)
    paid = make_booking(property=prop, guest=guest, check_in=future_date(30), status="CONFIRMED", amount_paid=12000)
    past = make_booking(property=prop, guest=guest, check_in=timezone.localdate() - dt.timedelta(days=20), status="CONFIRMED", amount_paid=12000)
    cancelled = make_booking(property=prop, guest=guest, check_in=future_date(50), status="CANCELED")
    shared = make_booking(property=prop, check_in=future_date(70))
    BookingGuest.objects.create(booking=shared, name=guest.name, user=guest)
    make_booking(property=prop, check_in=future_date(90))  # someone else's
    client.force_login(guest)

    response = client.get(reverse("reservations:my_bookings"))

    assert response.status_code == 200
    upcoming_refs = [b.reference for b in response.context["upcoming"]]
    assert upcoming_refs == [upcoming.reference, paid.reference, shared.reference]
    assert {b.reference for b in response.context["past"]} == {past.reference, cancelled.reference}
    html = response.content.decode()
    assert "Balance <strong>KES 7,000</strong>" in html and "Pay the rest" in html
    assert f'{reverse("reservations:booking_detail", args=[upcoming.pk])}#pay' in html
    assert html.count("Pay the rest") == 1 and html.count("Pay now") == 1
