"""reservations.check_in.booking_check_in_details: what a guest sees once the booking is confirmed."""

import dataclasses
from decimal import Decimal

import pytest

from reservations.check_in import CheckInDetails, booking_check_in_details, directions_url
from tests.factories import OwnerFactory, UserFactory, make_booking, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def home():
    owner = OwnerFactory(name="Wanjiru Kamau", phone_number="+254722000111")
    return make_property(
        owner=owner,
        title="Riverside Cottage",
        street_address="Riverside Drive 14, Block B, door 3",
        latitude=Decimal("-1.270500"),
        longitude=Decimal("36.806100"),
        check_in_instructions="Collect the key from the guard at the gate.\nParking bay 12.",
        host_phone_number="+254733000999",
    )


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "CANCELED"])
def test_nothing_before_the_booking_is_confirmed_or_after_it_is_cancelled(home, status):
    booking = make_booking(property=home, guest=UserFactory(), status=status)
    assert booking_check_in_details(booking=booking) is None


def test_a_confirmed_booking_gets_every_detail(home):
    booking = make_booking(property=home, guest=UserFactory(), status="CONFIRMED", amount_paid=10_000)
    details = booking_check_in_details(booking=booking)
    assert details == CheckInDetails(
        address="Riverside Drive 14, Block B, door 3",
        latitude=Decimal("-1.270500"),
        longitude=Decimal("36.806100"),
        directions_url="https://www.google.com/maps/dir/?api=1&destination=-1.270500,36.806100",
        host_name="Wanjiru Kamau",
        host_phone="+254733000999",
        instructions="Collect the key from the guard at the gate.\nParking bay 12.",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        details.address = "elsewhere"


def test_without_a_listing_phone_the_owner_s_account_phone_is_given(home):
    home.host_phone_number = ""
    home.save(update_fields=["host_phone_number"])
    booking = make_booking(property=home, guest=UserFactory(), status="CONFIRMED")
    assert booking_check_in_details(booking=booking).host_phone == "+254722000111"


def test_a_local_number_comes_out_in_e164(home):
    home.host_phone_number = "0733 000 888"
    home.save(update_fields=["host_phone_number"])
    booking = make_booking(property=home, guest=UserFactory(), status="CONFIRMED")
    assert booking_check_in_details(booking=booking).host_phone == "+254733000888"


def test_no_phone_anywhere_gives_an_empty_phone_not_an_error():
    owner = OwnerFactory(name="Baraka", phone_number="")
    bare = make_property(owner=owner, title="Bare flat")
    booking = make_booking(property=bare, guest=UserFactory(), status="CONFIRMED")
    details = booking_check_in_details(booking=booking)
    assert (details.host_name, details.host_phone, details.address, details.instructions) == ("Baraka", "", "", "")
    assert details.directions_url == ""  # neither coordinates nor a street address


def test_without_coordinates_the_directions_look_up_the_address_with_area_and_town(home):
    home.latitude = home.longitude = None
    home.save(update_fields=["latitude", "longitude"])
    booking = make_booking(property=home, guest=UserFactory(), status="CONFIRMED")
    assert booking_check_in_details(booking=booking).directions_url == (
        "https://www.google.com/maps/dir/?api=1&destination=Riverside+Drive+14,+Block+B,+door+3,+Kilimani,+Nairobi"
    )


def test_directions_url_prefers_coordinates():
    assert directions_url(latitude=Decimal("-4.0435"), longitude=Decimal("39.6682"), address="Nyali") == (
        "https://www.google.com/maps/dir/?api=1&destination=-4.0435,39.6682"
    )
