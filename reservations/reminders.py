"""The balance reminder (docs/notifications.md): a partly paid booking's guest is told, once,
a day before the balance deadline of reservations.deadlines, what is still due and by when.

Run every 15 minutes by django-q2 (schedule "booking_balance_reminders_send", migration
0014). The notification itself is sent once per booking by core.tasks (its SentNotification
keys); the same keys let this sweep skip bookings already reminded, so it enqueues nothing
for them.
"""

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.models import SentNotification
from core.notifications import collected, notify
from reservations.deadlines import BALANCE_DUE_BEFORE_CHECK_IN, booking_balance_due_by
from reservations.models import Booking

logger = logging.getLogger(__name__)

EVENT = "balance_due_reminder"
REMIND_BEFORE = dt.timedelta(hours=24)


def booking_balance_reminders_send(*, now: dt.datetime | None = None) -> int:
    """Enqueue the reminder of each PROCESSING booking whose balance is due within REMIND_BEFORE
    and not yet reminded. Returns how many were enqueued. Safe to run twice."""
    now = now or timezone.now()
    # Coarse filter in SQL (a balance due within a day belongs to a check-in at most 48 h + a
    # day away), exact check per row.
    latest_check_in = timezone.localtime(now + BALANCE_DUE_BEFORE_CHECK_IN + REMIND_BEFORE).date()
    candidates = list(
        Booking.objects.filter(status=Booking.Status.PROCESSING, balance_due__gt=0, check_in__lte=latest_check_in)
        .only("pk", "check_in", "booking_date")
    )
    due = [
        booking
        for booking in candidates
        if now < booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date) <= now + REMIND_BEFORE
    ]
    reminded = _already_reminded([booking.pk for booking in due])
    wanted = [booking.pk for booking in due if booking.pk not in reminded]
    if wanted:
        with transaction.atomic(), collected():
            for booking_id in wanted:
                notify(EVENT, booking_id=booking_id)
        logger.info("balance reminders enqueued count=%d", len(wanted))
    return len(wanted)


def _already_reminded(booking_ids: list[int]) -> set[int]:
    if not booking_ids:
        return set()
    keys = [f"{EVENT}:booking={pk}:payment=-" for pk in booking_ids]
    sms = Q()
    for pk in booking_ids:
        sms |= Q(key__startswith=f"sms:{EVENT}:booking={pk}:payment=-:")
    sent = SentNotification.objects.filter(Q(key__in=keys) | sms).values_list("key", flat=True)
    return {int(key.split("booking=")[1].split(":")[0]) for key in sent}
