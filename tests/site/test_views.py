"""The booking pages: booking from a property page, the booking page (co-guests, its pay
card), my bookings. The pay form and the live status are the payments app's
(tests/mpesa/test_site_views.py)."""

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from reservations.models import Booking, BookingGuest
from reservations.views import DATES_TAKEN_MESSAGE
from tests.factories import DEFAULT_PASSWORD, UserFactory, booking_form_data, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def prop(site_tree):
    return make_property(title="Kilimani Garden Flat", price_per_night=6000, max_guests=3, min_nights=2)


# --- Booking from the property page ------------------------------------------------------------


def test_booking_needs_login_and_then_books_the_kept_draft(client, prop):
    """Reserve while logged out keeps the draft; log-in goes straight on to the booking
    (the resume flow itself: tests/reservations/test_booking_resume.py)."""
    check_in = future_date(30)
    response = client.post("/bookings/new/", booking_form_data(prop, check_in=check_in, guests=2, co_guests=[{"name": "Achieng Otieno"}]))

    assert response.status_code == 302
    login = urlparse(response["Location"])
    assert login.path == reverse("accounts:login")
    back = parse_qs(login.query)["next"][0]
    assert back.startswith(reverse("reservations:booking_resume") + "?token=")
    assert "Achieng" not in back  # co-guests' details stay out of URLs
    assert not Booking.objects.exists()

    user = UserFactory(email="wanjiku@example.com")
    after_login = client.post(reverse("accounts:login"), {"email": user.email, "password": DEFAULT_PASSWORD, "next": back})
    assert after_login.status_code == 302 and after_login["Location"] == back

    landed = client.get(back)
    booking = Booking.objects.get()
    assert landed["Location"] == reverse("reservations:booking_detail", args=[booking.pk])
    assert booking.check_in == check_in and booking.party_size == 2
    assert booking.guests.filter(name="Achieng Otieno").exists()


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
        booking_form_data(prop, check_in=check_in, guests=2, co_guests=[{"name": "Achieng Otieno", "email": "Achieng@Example.com"}]),
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
    response = client.post("/bookings/new/", booking_form_data(prop, check_in=future_date(10), guests=3, co_guests=[{"name": "One"}]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "You chose 3 guests: add the name of each person travelling with you." in html
    # One row per co-guest is shown, keeping the name already typed.
    assert html.count('class="co-guest-row"') == 2 + 1 and 'value="One"' in html
    assert not Booking.objects.exists()


def test_co_guest_row_without_a_name_is_refused(client, prop):
    client.force_login(UserFactory())
    response = client.post("/bookings/new/", booking_form_data(prop, check_in=future_date(10), guests=2, co_guests=[{"name": "", "email": "x@example.com"}]))
    assert response.status_code == 400
    assert "Enter this guest&#x27;s name." in response.content.decode()


def test_taken_dates_are_refused_with_a_clear_message_not_an_error_page(client, prop):
    check_in = future_date(20)
    make_booking(property=prop, check_in=check_in + dt.timedelta(days=1), nights=2, status="PROCESSING")
    client.force_login(UserFactory())

    response = client.post("/bookings/new/", booking_form_data(prop, check_in=check_in, nights=3))

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
    response = client.post("/bookings/new/", booking_form_data(prop, check_in=check_in, nights=nights))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Booking.objects.exists()


def test_party_over_capacity_is_refused(client, prop):
    client.force_login(UserFactory())
    data = booking_form_data(prop, check_in=future_date(10), guests=3, co_guests=[{"name": "A"}, {"name": "B"}, {"name": "C"}])
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
    assert client.get(reverse("payments:booking_status", args=[booking.pk])).status_code == 404


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
    # A matching phone never links: the phone-only guest is invited by SMS instead.
    assert added.user is None and added.invitation == "invited" and added.phone_number == "+254722000111"
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
