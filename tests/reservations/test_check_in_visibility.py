"""The check-in details (street address, map, host's phone, instructions) on the booking page,
its live status and GET /api/bookings/{id}/: given only for a CONFIRMED booking, and only to
the people on it."""

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import OwnerFactory, UserFactory, make_booking, make_property

pytestmark = pytest.mark.django_db

ADDRESS = "Plot 14, Galu Kinondo Road"
INSTRUCTIONS = "The gate code is 4471.\nAsk for Juma at the gate."


@pytest.fixture
def place(site_tree):
    owner = OwnerFactory(name="Amina Hassan", phone_number="+254722000111")
    return make_property(
        owner=owner, title="Diani Palm Cottage", town="Diani", area="Galu Beach",
        latitude=Decimal("-4.316500"), longitude=Decimal("39.581200"),
        street_address=ADDRESS, check_in_instructions=INSTRUCTIONS, host_phone_number="+254733444555",
    )


def _page(client, booking):
    response = client.get(reverse("reservations:booking_detail", args=[booking.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _api(api_client, user, booking):
    api_client.force_authenticate(user)
    return api_client.get(f"/api/bookings/{booking.pk}/")


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "CANCELED"])
def test_hidden_until_confirmed(client, api_client, place, status):
    guest = UserFactory()
    booking = make_booking(property=place, guest=guest, status=status, amount_paid=2000 if status == "PROCESSING" else 0)
    client.force_login(guest)

    html = _page(client, booking)
    assert 'id="check-in"' not in html and 'id="check-in-map"' not in html
    for secret in (ADDRESS, "4471", "0733 444 555", "+254733444555", "+254722000111"):
        assert secret not in html

    status_json = client.get(reverse("payments:booking_status", args=[booking.pk])).json()
    assert "check_in_html" not in status_json

    response = _api(api_client, guest, booking)
    assert response.status_code == 200 and response.json()["check_in_details"] is None


def test_shown_once_confirmed_with_map_directions_host_phone_and_instructions(client, api_client, place):
    guest = UserFactory()
    booking = make_booking(property=place, guest=guest, status="CONFIRMED", amount_paid=10000)
    client.force_login(guest)

    html = _page(client, booking)
    assert 'id="check-in"' in html and ADDRESS in html
    assert 'href="tel:+254733444555"' in html and "0733 444 555" in html  # the listing's own number first
    assert "Amina Hassan" in html
    assert "<p>The gate code is 4471.<br>Ask for Juma at the gate.</p>" in html
    assert 'id="check-in-map"' in html and 'data-lat="-4.316500"' in html and 'data-lon="39.581200"' in html
    assert 'id="check-in-directions"' in html and "destination=-4.316500" in html  # the Directions link
    assert "js/booking-map.js" in html

    # The live status hands the page the same section when a payment confirms the booking.
    status_json = client.get(reverse("payments:booking_status", args=[booking.pk])).json()
    assert ADDRESS in status_json["check_in_html"] and 'id="check-in-map"' in status_json["check_in_html"]

    details = _api(api_client, guest, booking).json()["check_in_details"]
    assert details["address"] == ADDRESS
    assert details["host_name"] == "Amina Hassan" and details["host_phone"] == "+254733444555"
    assert details["instructions"] == INSTRUCTIONS
    assert Decimal(details["latitude"]) == Decimal("-4.316500")
    assert details["directions_url"].startswith("https://www.google.com/maps/dir/?api=1&destination=")


def test_host_phone_falls_back_to_the_owners_and_no_map_without_coordinates(client, site_tree):
    owner = OwnerFactory(name="Otieno Ouma", phone_number="+254711222333")
    place = make_property(owner=owner, street_address="Moi Avenue 5", check_in_instructions="")
    guest = UserFactory()
    booking = make_booking(property=place, guest=guest, status="CONFIRMED", amount_paid=10000)
    client.force_login(guest)
    html = _page(client, booking)
    assert 'href="tel:+254711222333"' in html and "0711 222 333" in html
    assert 'id="check-in-map"' not in html and "Moi Avenue 5" in html
    assert 'id="check-in-instructions"' not in html


def test_other_people_get_404_on_page_status_and_api(client, api_client, place):
    booking = make_booking(property=place, status="CONFIRMED", amount_paid=10000)
    stranger = UserFactory()
    client.force_login(stranger)
    assert client.get(reverse("reservations:booking_detail", args=[booking.pk])).status_code == 404
    assert client.get(reverse("payments:booking_status", args=[booking.pk])).status_code == 404
    response = _api(api_client, stranger, booking)
    assert response.status_code == 404 and ADDRESS not in response.content.decode()


def test_the_list_api_does_not_carry_check_in_details(api_client, place):
    guest = UserFactory()
    make_booking(property=place, guest=guest, status="CONFIRMED", amount_paid=10000)
    api_client.force_authenticate(guest)
    body = api_client.get("/api/bookings/").json()
    assert "check_in_details" not in body["results"][0]
