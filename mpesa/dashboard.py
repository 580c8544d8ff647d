"""Numbers about payments for the Wagtail home page panels, scoped by the payment policy.

An owner's panels count only their own properties' payments; staff's count everything.
Dates are Africa/Nairobi calendar dates (TIME_ZONE). The panels are registered in
mpesa/wagtail_hooks.py.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from mpesa.models import Payment, Payout, Refund
from mpesa.permissions import payment_permission_policy, payout_permission_policy, refund_permission_policy
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


# -- money going out (refunds and payouts: mpesa/money_out_admin.py) ----------------------------

MONEY_OUT_LIMIT = 10
# Payouts not sent yet: still to be released, held by staff, or queued for the worker.
PAYOUT_UNSENT = (Payout.Status.SCHEDULED, Payout.Status.HELD, Payout.Status.QUEUED)
PAYOUT_UPCOMING = PAYOUT_UNSENT + (Payout.Status.PENDING,)


@dataclass
class MoneyOut:
    """Refunds waiting for a second staff member, failed refunds nobody retried, payouts due
    and not sent (staff); an owner's upcoming payouts with their amounts (owners)."""

    for_staff: bool
    awaiting_approval_count: int = 0
    awaiting_approval: list = field(default_factory=list)
    failed_refunds_count: int = 0
    failed_refunds: list = field(default_factory=list)
    payouts_due_count: int = 0
    payouts_due: list = field(default_factory=list)
    upcoming_payouts_count: int = 0
    upcoming_payouts_total: int = 0
    upcoming_payouts: list = field(default_factory=list)


def _count_and_first(queryset, limit: int = MONEY_OUT_LIMIT) -> tuple[int, list]:
    rows = list(queryset[:limit])
    return (len(rows) if len(rows) < limit else queryset.count()), rows


def money_out_for_user(*, user, now=None) -> MoneyOut | None:
    """None when the user may see neither refunds nor payouts (guests)."""
    sees_refunds = refund_permission_policy.user_has_permission(user, "view")
    sees_payouts = payout_permission_policy.user_has_permission(user, "view")
    if not (sees_refunds or sees_payouts):
        return None
    now = now or timezone.now()
    for_staff = refund_permission_policy.user_has_permission(user, "approve")
    board = MoneyOut(for_staff=for_staff)
    payouts = payout_permission_policy.instances_user_has_permission_for(user, "view").select_related(
        "booking__property", "owner"
    )
    if for_staff:
        refunds = refund_permission_policy.instances_user_has_permission_for(user, "view").select_related(
            "booking__property"
        )
        board.awaiting_approval_count, board.awaiting_approval = _count_and_first(
            refunds.filter(status=Refund.Status.AWAITING_APPROVAL).order_by("created_at", "pk")
        )
        retried = Refund.objects.filter(retry_of=OuterRef("pk"))
        board.failed_refunds_count, board.failed_refunds = _count_and_first(
            refunds.filter(status=Refund.Status.FAILED).filter(~Exists(retried)).order_by("-updated_at", "-pk")
        )
        board.payouts_due_count, board.payouts_due = _count_and_first(
            payouts.filter(status__in=PAYOUT_UNSENT, sent_at__isnull=True, due_at__lte=now).order_by("due_at", "pk")
        )
    elif sees_payouts:
        upcoming = payouts.filter(status__in=PAYOUT_UPCOMING).order_by("due_at", "pk")
        board.upcoming_payouts_count, board.upcoming_payouts = _count_and_first(upcoming)
        board.upcoming_payouts_total = upcoming.aggregate(total=Sum("amount"))["total"] or 0
    return board
