"""The "booking cancelled" email and SMS say what comes back under the policy, and what is kept."""

import pytest
from django.core import mail

from core.tasks import sms_render
from reservations.notifications import booking_canceled_letter
from reservations.services import booking_cancel
from tests.factories import future_date, make_booking, make_payment, make_property, recompute_booking_money

pytestmark = pytest.mark.django_db


def _paid_booking(policy: str, days_ahead: int, paid: int = 12000):
    booking = make_booking(
        property=make_property(price_per_night=6000, cancellation_policy=policy),
        check_in=future_date(days_ahead),
        nights=2,
        status="CONFIRMED",
    )
    make_payment(booking=booking, amount=paid)
    recompute_booking_money(booking.pk)
    return booking


def _sms_text(letter, template="booking_canceled_guest") -> str:
    [sms] = [text for text in letter.texts if text.template == template]
    return sms_render(sms, letter.context)


def test_a_half_refund_is_announced_with_what_is_kept(django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr("mpesa.transfers._enqueue_send", lambda kind, pk: None)  # on its way, not sent here
    booking = _paid_booking("moderate", days_ahead=3)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    message = next(m for m in mail.outbox if "cancelled" in m.subject.lower())
    assert "KES 6,000 is on its way back to the M-Pesa number that paid" in message.body
    assert "KES 6,000 is kept" in message.body
    assert "Our staff" not in message.body
    letter = booking_canceled_letter(booking.pk)
    assert "KES 6,000 is being refunded" in _sms_text(letter)


def test_nothing_refunded_under_a_strict_policy_says_so():
    booking = _paid_booking("strict", days_ahead=3)
    booking_cancel(booking_id=booking.pk, actor=booking.primary_guest)
    letter = booking_canceled_letter(booking.pk)
    assert (letter.context["refund_total"], letter.context["kept"]) == (0, 12000)
    assert "the KES 12,000 paid is not refunded" in _sms_text(letter)
