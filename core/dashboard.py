"""Numbers for the Wagtail home page panels, scoped by the same policies as the snippets.

An owner's panels count only their own properties' bookings and payments; staff's
count everything. Dates are Africa/Nairobi calendar dates (TIME_ZONE).
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.permissions import (
    booking_permission_policy,
    payment_permission_policy,
    properties_visible_to,
)

OCCUPANCY_DAYS = 30
ATTENTION_LIMIT = 10


@dataclass
class Dashboard:
    today: dt.date
    check_ins: list = field(default_factory=list)
    check_outs: list = field(default_factory=list)
    pending_payments: int = 0
    attention_payments: list = field(default_factory=list)
    attention_count: int = 0
    month_start: dt.date | None = None
    revenue_payments: int = 0
    revenue_refunds: int = 0
    occupied_nights: int = 0
    available_nights: int = 0

    @property
    def revenue(self) -> int:
        return self.revenue_payments - self.revenue_refunds

    @property
    def occupancy_percent(self) -> int | None:
        if not self.available_nights:
            return None
        return round(100 * self.occupied_nights / self.available_nights)


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def dashboard_for_user(*, user, today: dt.date | None = None) -> Dashboard | None:
    """Everything the home page panels show, or None when the user may see no bookings."""
    from mpesa.models import Payment
    from reservations.models import Booking

    if not booking_permission_policy.user_has_permission(user, "view"):
        return None
    today = today or timezone.localdate()
    bookings = booking_permission_policy.instances_user_has_permission_for(user, "view")
    payments = payment_permission_policy.instances_user_has_permission_for(user, "view")
    held = bookings.filter(status__in=(Booking.Status.PENDING, Booking.Status.PROCESSING, Booking.Status.CONFIRMED))

    board = Dashboard(today=today)
    board.check_ins = list(
        held.filter(check_in=today).select_related("property", "primary_guest").order_by("property__title")
    )
    board.check_outs = list(
        held.filter(check_out=today).select_related("property", "primary_guest").order_by("property__title")
    )

    board.pending_payments = payments.filter(
        kind=Payment.Kind.PAYMENT, status__in=(Payment.Status.QUEUED, Payment.Status.PENDING)
    ).count()
    attention = payments.filter(Q(flagged=True) | Q(needs_refund=True))
    board.attention_count = attention.count()
    board.attention_payments = list(
        attention.select_related("booking__property").order_by("-updated_at")[:ATTENTION_LIMIT]
    )

    # Revenue: money that moved this calendar month (by M-Pesa's transaction time when known).
    board.month_start = today.replace(day=1)
    next_month = (board.month_start + dt.timedelta(days=32)).replace(day=1)
    in_month = payments.annotate(moved_at=Coalesce("transaction_date", "created_at")).filter(
        status=Payment.Status.SUCCESS,
        moved_at__gte=_local_midnight(board.month_start),
        moved_at__lt=_local_midnight(next_month),
    )
    totals = in_month.aggregate(
        paid=Sum("received_amount", filter=Q(kind=Payment.Kind.PAYMENT)),
        refunded=Sum("amount", filter=Q(kind=Payment.Kind.REFUND)),
    )
    board.revenue_payments = totals["paid"] or 0
    board.revenue_refunds = totals["refunded"] or 0

    # Occupancy: booked nights (partly or fully paid stays) over bookable nights in
    # [today, today + 30), each stay clipped to the window (stays are half-open).
    window_end = today + dt.timedelta(days=OCCUPANCY_DAYS)
    stays = bookings.filter(
        status__in=(Booking.Status.PROCESSING, Booking.Status.CONFIRMED), check_in__lt=window_end, check_out__gt=today
    ).values_list("check_in", "check_out")
    board.occupied_nights = sum((min(out, window_end) - max(in_, today)).days for in_, out in stays)
    listing_count = properties_visible_to(user).live().count()
    board.available_nights = listing_count * OCCUPANCY_DAYS
    return board
