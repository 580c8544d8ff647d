"""The balance deadline (docs/booking-rules.md): a partly paid booking must be paid in full in time, or
it is cancelled and its money refunded under the listing's cancellation policy, so a deposit
cannot hold a listing's dates for ever.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.notifications import notify
from core.services import audit_record
from reservations.models import Booking
from reservations.services import booking_mark_canceled

logger = logging.getLogger(__name__)

BALANCE_DUE_BEFORE_CHECK_IN = dt.timedelta(hours=48)
MIN_TIME_TO_PAY = dt.timedelta(hours=24)


def check_in_at(check_in: dt.date) -> dt.datetime:
    """Check-in as an aware datetime: the date at CHECK_IN_TIME (HH:MM), Africa/Nairobi."""
    hour, minute = (int(part) for part in settings.CHECK_IN_TIME.split(":"))
    return timezone.make_aware(dt.datetime.combine(check_in, dt.time(hour, minute)))


def booking_balance_due_by(*, check_in: dt.date, booking_date: dt.datetime) -> dt.datetime:
    """When the whole amount is due: 48 hours before check-in (at CHECK_IN_TIME), or 24 hours
    after booking for a stay that starts sooner, i.e. whenever 48 hours before check-in
    would leave the guest less than a day to pay. In Africa/Nairobi time."""
    due = max(check_in_at(check_in) - BALANCE_DUE_BEFORE_CHECK_IN, booking_date + MIN_TIME_TO_PAY)
    return timezone.localtime(due)


def booking_enforce_balance_deadlines(*, now: dt.datetime | None = None) -> int:
    """Cancel PROCESSING bookings whose balance was not paid by booking_balance_due_by.

    Run every 5 minutes by django-q2 (schedule "booking_enforce_balance_deadlines",
    migration 0008). Each booking is re-checked under its row lock; one with a payment in
    flight waits for it (it may pay the balance). The cancellation (kind balance_deadline)
    refunds what the listing's policy gives back at this moment (the payments app creates
    and sends the refunds, answering the booking_canceled signal; what it cannot send is
    flagged needs_refund for staff), writes an audit entry and tells the guest.
    Returns how many were cancelled. Safe to run twice.
    """
    now = now or timezone.now()
    # Coarse filter in SQL (both parts of the deadline must be past), exact check per row.
    latest_check_in = timezone.localtime(now + BALANCE_DUE_BEFORE_CHECK_IN).date()
    candidates = list(
        Booking.objects.filter(
            status=Booking.Status.PROCESSING,
            balance_due__gt=0,
            check_in__lte=latest_check_in,
            booking_date__lt=now - MIN_TIME_TO_PAY,
        )
        .order_by("check_in", "pk")
        .values_list("pk", flat=True)
    )
    canceled = 0
    for booking_id in candidates:
        with transaction.atomic():
            booking = Booking.objects.select_for_update().filter(pk=booking_id).first()
            if booking is None or booking.status != Booking.Status.PROCESSING or booking.balance_due <= 0:
                continue
            due_by = booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
            if due_by > now or booking.amount_in_flight > 0:
                continue
            before = {"status": booking.status, "amount_paid": booking.amount_paid, "balance_due": booking.balance_due}
            refunds_due = booking_mark_canceled(
                booking=booking,
                kind=Booking.CancelKind.BALANCE_DEADLINE,
                reason=f"The balance of KES {booking.balance_due:,} was not paid by {due_by:%d %b %Y %H:%M}",
            )
            audit_record(
                obj=booking,
                action="booking.balance_deadline_passed",
                summary=f"{booking.reference} cancelled: balance not paid by {due_by.isoformat()}",
                before=before,
                after={"status": booking.status},
                data={"balance_due_by": due_by.isoformat(), "refunds_due": refunds_due},
            )
            notify("booking_canceled", booking_id=booking.pk)
            canceled += 1
    if canceled:
        logger.warning("bookings cancelled at their balance deadline count=%d", canceled)
    return canceled
