"""Reserve while logged out, log in or sign up, and land on the booking: the draft kept in
the session is booked once (reservations.views.booking_resume), with booking_create's checks."""

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client
from django.urls import reverse

from reservations.models import Booking
from reservations.views import DATES_TAKEN_MESSAGE, RESUMED_SESSION_KEY
from reservations.forms import BOOKING_DRAFT_SESSION_KEY
from tests.factories import DEFAULT_PASSWORD, UserFactory, booking_form_data, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def prop(site_tree):
    return make_property(title="Kilimani Garden Flat", price_per_night=6000, max_guests=3, min_nights=2)


def _reserve_logged_out(client, prop, check_in, **kwargs) -> str:
    """Press Reserve while logged out; returns the resume URL the login page will go to."""
    response = client.post("/bookings/new/", booking_form_data(prop, check_in=check_in, **kwargs))
    assert response.status_code == 302
    login = urlparse(response["Location"])
    assert login.path == reverse("accounts:login")
    resume = parse_qs(login.query)["next"][0]
    assert urlparse(resume).path == reverse("reservations:booking_resume")
    return resume


def test_reserve_then_log_in_lands_on_the_booking_with_co_guests_and_consumes_the_draft(client, prop):
    check_in = future_date(30)
    resume = _reserve_logged_out(
        client, prop, check_in, guests=2, co_guests=[{"name": "Achieng Otieno", "email": "achieng@example.com"}]
    )
    assert "Achieng" not in resume  # co-guests' details stay out of URLs
    assert not Booking.objects.exists()

    user = UserFactory(email="wanjiku@example.com")
    after_login = client.post(reverse("accounts:login"), {"email": user.email, "password": DEFAULT_PASSWORD, "next": resume})
    assert after_login.status_code == 302 and after_login["Location"] == resume

    landed = client.get(resume)
    booking = Booking.objects.get()
    assert landed.status_code == 302
    assert landed["Location"] == reverse("reservations:booking_detail", args=[booking.pk])
    assert booking.primary_guest == user and booking.property_id == prop.pk
    assert booking.check_in == check_in and booking.nights == 3 and booking.party_size == 2
    assert list(booking.guests.filter(is_primary=False).values_list("name", flat=True)) == ["Achieng Otieno"]
    assert BOOKING_DRAFT_SESSION_KEY not in client.session  # the draft is consumed

    html = client.get(landed["Location"]).content.decode()
    assert booking.reference in html and "Achieng Otieno" in html

    # The same link again (back button, reload) opens that booking and books nothing more.
    again = client.get(resume)
    assert again.status_code == 302 and again["Location"] == landed["Location"]
    assert Booking.objects.count() == 1


def test_reserve_then_sign_up_lands_on_the_booking(client, prop):
    resume = _reserve_logged_out(client, prop, future_date(20))
    signup = client.get(reverse("accounts:signup"), {"next": resume})
    assert f'value="{resume}"' in signup.content.decode().replace("&amp;", "&")
    from django.core.files.uploadedfile import SimpleUploadedFile
    from io import BytesIO
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (64, 40), (30, 90, 160)).save(buffer, format="PNG")
    response = client.post(reverse("accounts:signup"), {
        "name": "Baraka Mwangi", "email": "baraka@example.com", "phone_number": "0712 345 678",
        "password": "Mombasa-Raha-2026", "next": resume,
        "id_photo": SimpleUploadedFile("id.png", buffer.getvalue(), content_type="image/png"),
    })
    assert response.status_code == 302 and response["Location"] == resume, response.content.decode()[:2000]
    landed = client.get(resume)
    booking = Booking.objects.get()
    assert landed["Location"] == reverse("reservations:booking_detail", args=[booking.pk])
    assert booking.primary_guest.email == "baraka@example.com"


def test_a_second_resume_after_the_draft_is_used_books_nothing(client, prop):
    resume = _reserve_logged_out(client, prop, future_date(30))
    client.force_login(UserFactory())
    client.get(resume)
    assert Booking.objects.count() == 1
    # Forget which booking it made: the token is spent all the same.
    session = client.session
    session.pop(RESUMED_SESSION_KEY)
    session.save()
    response = client.get(resume)
    assert response.status_code == 302 and response["Location"] == reverse("reservations:my_bookings")
    assert Booking.objects.count() == 1


def test_dates_taken_meanwhile_show_the_property_page_filled_in_with_the_reason(client, prop):
    check_in = future_date(30)
    resume = _reserve_logged_out(client, prop, check_in, guests=2, co_guests=[{"name": "Achieng Otieno"}])
    make_booking(property=prop, check_in=check_in + dt.timedelta(days=1), nights=2, status="CONFIRMED")
    client.force_login(UserFactory())

    response = client.get(resume)
    html = response.content.decode()
    assert response.status_code == 409
    assert str(DATES_TAKEN_MESSAGE).split(".")[0] in html
    assert f'value="{check_in.isoformat()}"' in html
    assert 'value="Achieng Otieno"' in html
    assert Booking.objects.count() == 1  # only the one that took the dates


def test_resume_needs_the_token_from_the_session(client, prop):
    """Another site can send a logged-in guest to /bookings/resume/ but cannot know the token."""
    _reserve_logged_out(client, prop, future_date(30))
    client.force_login(UserFactory())
    for query in ("", "?token=guessed"):
        response = client.get(reverse("reservations:booking_resume") + query)
        assert response.status_code == 302 and response["Location"] == reverse("reservations:my_bookings")
    assert not Booking.objects.exists()


def test_resume_is_get_only_and_needs_login(client, prop):
    resume = _reserve_logged_out(client, prop, future_date(30))
    response = client.get(resume)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    client.force_login(UserFactory())
    assert client.post(resume).status_code == 405
    assert not Booking.objects.exists()


def test_logged_out_reserve_is_csrf_protected(prop):
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post("/bookings/new/", booking_form_data(prop, check_in=future_date(30)))
    assert response.status_code == 403
    assert BOOKING_DRAFT_SESSION_KEY not in csrf_client.session


def test_resume_with_a_draft_for_an_unpublished_place_explains(client, prop):
    resume = _reserve_logged_out(client, prop, future_date(30))
    prop.unpublish()
    client.force_login(UserFactory())
    response = client.get(resume, follow=True)
    assert response.status_code == 200
    assert "can no longer be booked" in response.content.decode()
    assert not Booking.objects.exists()
