"""Numbers about payments for the Wagtail home page panels, scoped by the payment policy.

An owner's panels count only their own properties' payments; staff's count everything.
Dates are Africa/Nairobi calendar dates (TIME_ZONE). The panels are registered in
mpesa/wagtail_hooks.py.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from mpesa.models import Payment
from mpesa.permissions import payment_permission_policy
from reservations.dashboard import occupancy_for_user

ATTENTION_LIMIT = 10


@dataclass
class PaymentsToWatch:
    """Payments waiting for M-Pesa, and those flagged or due a refund (the newest few listed)."""

    pending_payments: int = 0
    attention_count: int = 0
    attention_payments: list = field(default_factory=list)


@dataclass
class Business:
    """This calendar month's revenue, beside the next 30 days' occupancy (reservations.dashboard)."""

    month_start: dt.date
    revenue_payments: int = 0
    revenue_refunds: int = 0
    occupied_nights: int = 0
    available_nights: int = 0
    occupancy_percent: int | None = None

    @property
    def revenue(self) -> int:
        return self.revenue_payments - self.revenue_refunds


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def payments_to_watch_for_user(*, user) -> PaymentsToWatch | None:
    """None when the user may see no payments."""
    if not payment_permission_policy.user_has_permission(user, "view"):
        return None
    payments = payment_permission_policy.instances_user_has_permission_for(user, "view")
    attention = payments.filter(Q(flagged=True) | Q(needs_refund=True))
    return PaymentsToWatch(
        pending_payments=payments.filter(
            kind=Payment.Kind.PAYMENT, status__in=(Payment.Status.QUEUED, Payment.Status.PENDING)
        ).count(),
        attention_count=attention.count(),
        attention_payments=list(attention.select_related("booking__property").order_by("-updated_at")[:ATTENTION_LIMIT]),
    )


def business_for_user(*, user, today: dt.date | None = None) -> Business | None:
    """Revenue: money that moved this calendar month (by M-Pesa's transaction time when known).
    None when the user may see no payments."""
    if not payment_permission_policy.user_has_permission(user, "view"):
        return None
    today = today or timezone.localdate()
    month_start = today.replace(day=1)
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
    payments = payment_permission_policy.instances_user_has_permission_for(user, "view")
    in_month = payments.annotate(moved_at=Coalesce("transaction_date", "created_at")).filter(
        status=Payment.Status.SUCCESS,
        moved_at__gte=_local_midnight(month_start),
        moved_at__lt=_local_midnight(next_month),
    )
    totals = in_month.aggregate(
        paid=Sum("received_amount", filter=Q(kind=Payment.Kind.PAYMENT)),
        refunded=Sum("amount", filter=Q(kind=Payment.Kind.REFUND)),
    )
    occupancy = occupancy_for_user(user=user, today=today)
    return Business(
        month_start=month_start,
        revenue_payments=totals["paid"] or 0,
        revenue_refunds=totals["refunded"] or 0,
        occupied_nights=occupancy.occupied_nights,
        available_nights=occupancy.available_nights,
        occupancy_percent=occupancy.occupancy_percent,
    )
