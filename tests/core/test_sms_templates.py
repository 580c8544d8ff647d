"""Every SMS template fits two segments, with the longest values the fields allow.

The figures in docs/notifications.md come from `sms_template_lengths()` below (run this
module with -s to print them).
"""

import datetime as dt
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from core.notifications import Sms
from core.sms import sms_segments
from core.tasks import sms_render
from mpesa.models import Payout, Refund
from reservations.models import Booking
from tests.factories import OwnerFactory, UserFactory, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db

TEMPLATES = sorted(p.stem for p in (Path(settings.BASE_DIR) / "templates" / "sms").glob("*.txt"))
LONG_TITLE = "Nyumba ya Bahari – Wanjiru’s Ocean-view Penthouse with Rooftop Pool, Diani Beach, Kwale County " * 2
LONG_NAME = "Achieng’ Wanjiku-Odhiambo Nyambura Kamau-Mwangi Chepkoech Atieno Wairimu Njeri Muthoni Akinyi"


def _long_booking(*, amount_paid: int, reference: str):
    owner = OwnerFactory(name=LONG_NAME, phone_number="+254722000111")
    guest = UserFactory(name=LONG_NAME, phone_number="+254711000222")
    home = make_property(owner=owner, title=LONG_TITLE[:255], price_per_night=249_999)
    booking = make_booking(
        property=home,
        guest=guest,
        nights=30,
        reference=reference,
        check_in=dt.date(2027, 12, 28),
        amount_paid=amount_paid,
        hold_expires_at=timezone.now(),
    )
    return booking


def sms_template_lengths() -> dict[str, tuple[int, int]]:
    """template -> (characters, segments) with the longest values, in the worst case of each."""
    lengths = {}
    for amount_paid, reference in ((0, "NXWWWWWWWW"), (1_234_567, "NXWWWWWWWM")):
        booking = _long_booking(amount_paid=amount_paid, reference=reference)
        Booking.objects.filter(pk=booking.pk).update(status="CANCELED")
        payment = make_payment(booking=booking, amount=249_999, mpesa_receipt_number=f"TLLWWWWWW{amount_paid % 10}")
        context = {
            "booking": booking,
            "payment": payment,
            # Money going out (mpesa.notifications, mpesa.payout_notifications): unsaved rows
            # are enough for the words.
            "refund": Refund(amount=7_499_970, mpesa_transaction_id="TLLWWWWWWW"),
            "payout": Payout(amount=6_749_973, mpesa_transaction_id="TLLWWWWWWW"),
            "site_url": settings.WAGTAILADMIN_BASE_URL,
        }
        extra = {
            "url": "https://nexus-bookings.onrender.com/bookings/9999999/",
            "due_by": timezone.now(),
            "inviter": booking.primary_guest,
            "accept_url": "https://nexus-bookings.onrender.com/invitations/" + "x" * 43 + "/",
        }
        for template in TEMPLATES:
            text = sms_render(Sms(to="+254711000222", template=template, context=extra), context)
            measured = (len(text), sms_segments(text))
            lengths[template] = max(lengths.get(template, (0, 0)), measured)
    return lengths


def test_there_is_a_template_per_message():
    assert TEMPLATES == [
        "balance_due_reminder",
        "booking_canceled_guest",
        "booking_canceled_owner",
        "booking_confirmed_guest",
        "booking_confirmed_owner",
        "booking_created_guest",
        "booking_created_owner",
        "invitation",
        "payment_received",
        "payout_sent_owner",
        "refund_sent",
    ]


def test_every_template_fits_two_segments_with_the_longest_values():
    lengths = sms_template_lengths()
    for template, (characters, segments) in sorted(lengths.items()):
        print(f"{template}: {characters} characters, {segments} segment(s)")
    assert set(lengths) == set(TEMPLATES)
    assert all(segments <= 2 for _, segments in lengths.values()), lengths
    # The long values really are in there: truncated, not dropped.
    assert all(characters > 100 for characters, _ in lengths.values()), lengths


def test_with_ordinary_values_most_templates_fit_one_segment():
    owner = OwnerFactory(name="Wanjiru Kamau", phone_number="+254722000111")
    guest = UserFactory(name="Achieng Otieno", phone_number="+254711000222")
    booking = make_booking(property=make_property(owner=owner, title="Riverside Cottage"), guest=guest, reference="NX6385UQX4")
    payment = make_payment(booking=booking, amount=9000)
    context = {"booking": booking, "payment": payment}
    extra = {
        "url": "https://nexus.example.com/bookings/1234/",
        "due_by": timezone.now(),
        "inviter": guest,
        "accept_url": "https://nexus.example.com/invitations/" + "x" * 43 + "/",
    }
    segments = {}
    for template in TEMPLATES:
        text = sms_render(Sms(to="+254711000222", template=template, context=extra), context)
        segments[template] = sms_segments(text)
        print(f"{template}: {len(text)} characters, {segments[template]} segment(s)")
    # The held booking's SMS carries the link to pay (docs/notifications.md), worth a second segment.
    assert {t for t, n in segments.items() if n > 1} <= {
        "invitation",
        "booking_confirmed_guest",
        "balance_due_reminder",
        "booking_created_guest",
    }
