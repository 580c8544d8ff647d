"""mpesa.demo: the payment rows behind the demo bookings, seeded after the bookings step."""

import pytest
from django.core.management import call_command

from accounts.demo import seed_users
from listings.demo import seed_listings
from mpesa.demo import seed_payments
from mpesa.models import Payment
from reservations.demo import DEMO_BOOKINGS, seed_bookings
from reservations.models import Booking

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """The demo draws its listings' photos: keep them out of the shared test media folder."""
    settings.MEDIA_ROOT = tmp_path


def test_each_paid_demo_booking_gets_one_settled_payment_of_what_it_paid(site_tree):
    users = seed_users()
    bookings = seed_bookings(users=users, properties=seed_listings(users=users))

    payments = seed_payments(bookings=bookings)

    paid = [b for b in bookings if b.amount_paid]
    assert len(paid) >= 2 and any(not b.amount_paid for b in bookings)
    assert sorted(p.booking_id for p in payments) == sorted(b.pk for b in paid)
    for booking in bookings:
        rows = list(Payment.objects.filter(booking=booking))
        if not booking.amount_paid:
            assert rows == []
            continue
        [payment] = rows
        assert (payment.kind, payment.status) == ("PAYMENT", "SUCCESS")
        assert payment.amount == payment.received_amount == booking.amount_paid
        assert payment.mpesa_receipt_number and payment.initiated_by == booking.primary_guest
        assert payment.phone_number == str(booking.primary_guest.phone_number).lstrip("+")

    again = seed_payments(bookings=bookings)
    assert [p.pk for p in again] == [p.pk for p in payments]
    assert Payment.objects.count() == len(paid)


def test_seed_demo_writes_the_payments_after_the_bookings(site_tree):
    call_command("seed_demo", "--force")
    call_command("seed_demo", "--force")

    demo = Booking.objects.filter(reference__in=[spec["reference"] for spec in DEMO_BOOKINGS])
    assert demo.count() == len(DEMO_BOOKINGS)
    for booking in demo:
        credited = sum(p.received_amount for p in booking.payments.filter(status="SUCCESS", kind="PAYMENT"))
        assert credited == booking.amount_paid
    assert Payment.objects.count() == demo.filter(amount_paid__gt=0).count()
