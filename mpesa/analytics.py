"""The analytics report's figures: reservations' stay figures plus the money received.

Revenue here is what the home page's "This month" panel calls revenue (mpesa.dashboard):
shillings received by successful M-Pesa payments, less refunds paid out, dated by M-Pesa's
transaction time (the time the row was created when Daraja gave none), by calendar month in
Africa/Nairobi. It lives in the payments app because only it may read payments. Definitions
of every figure: docs/reports.md, "Analytics".
"""

import datetime as dt
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from listings.models import PropertyPage
from mpesa.models import Payment
from reservations.analytics import MILLI, Month, StayFigures, stay_grid


@dataclass
class Figures(StayFigures):
    """Stay figures and money of one listing in one month, or a sum of such."""

    received: int = 0
    refunded: int = 0

    def add(self, other: "StayFigures") -> None:
        for f in fields(other):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def revenue(self) -> int:
        return self.received - self.refunded

    @property
    def occupancy_percent(self) -> Decimal | None:
        """Nights sold over nights available, one decimal; None when nothing was on offer."""
        if not self.nights_available:
            return None
        return (Decimal(100 * self.nights_sold) / self.nights_available).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def stay_value(self) -> int:
        return int((Decimal(self.stay_value_milli) / MILLI).quantize(Decimal(1), ROUND_HALF_UP))

    @property
    def average_nightly_rate(self) -> int | None:
        """Stay value of the nights sold over the nights sold, whole shillings."""
        if not self.nights_sold:
            return None
        return int((Decimal(self.stay_value_milli) / (MILLI * self.nights_sold)).quantize(Decimal(1), ROUND_HALF_UP))


@dataclass
class MonthRow:
    month: Month
    figures: Figures

    @property
    def label(self) -> str:
        return self.month.label


@dataclass
class PropertyRow:
    pk: int
    title: str
    figures: Figures
    months: list[Figures] = field(default_factory=list)


@dataclass
class Analytics:
    months: list[MonthRow]
    properties: list[PropertyRow]  # listings with anything to show in the range, by title
    total: Figures


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _money_columns(months: list[Month]) -> dict:
    columns = {}
    for index, month in enumerate(months):
        in_month = Q(moved_at__gte=_local_midnight(month.start), moved_at__lt=_local_midnight(month.end))
        columns[f"received_{index}"] = Sum("received_amount", filter=in_month & Q(kind=Payment.Kind.PAYMENT))
        columns[f"refunded_{index}"] = Sum("amount", filter=in_month & Q(kind=Payment.Kind.REFUND))
    return columns


def money_grid(*, properties: QuerySet[PropertyPage], months: list[Month]) -> dict[tuple[int, int], tuple[int, int]]:
    """(received, refunded) shillings per (listing, month index). One aggregate query."""
    if not months:
        return {}
    rows = (
        Payment.objects.filter(status=Payment.Status.SUCCESS, booking__property__in=properties)
        .annotate(moved_at=Coalesce("transaction_date", "created_at"))
        .filter(moved_at__gte=_local_midnight(months[0].start), moved_at__lt=_local_midnight(months[-1].end))
        .order_by()
        .values("booking__property_id")
        .annotate(**_money_columns(months))
    )
    money = {}
    for row in rows:
        for index in range(len(months)):
            received, refunded = row[f"received_{index}"] or 0, row[f"refunded_{index}"] or 0
            if received or refunded:
                money[(row["booking__property_id"], index)] = (received, refunded)
    return money


def analytics_for(*, properties: QuerySet[PropertyPage], months: list[Month]) -> Analytics:
    """Figures of `properties` (already scoped to the user) per month and per listing.

    Six queries in all (reservations.analytics.stay_grid and one over payments), whatever
    the number of bookings and payments; the Python work is listings x months."""
    grid = stay_grid(properties=properties, months=months)
    money = money_grid(properties=properties, months=months)
    month_rows = [MonthRow(month=month, figures=Figures()) for month in months]
    total = Figures()
    property_rows = []
    for listing in grid.listings:
        row = PropertyRow(pk=listing.pk, title=listing.title, figures=Figures())
        for index, month_row in enumerate(month_rows):
            cell = Figures()
            cell.add(grid.cell(listing.pk, index))
            cell.received, cell.refunded = money.get((listing.pk, index), (0, 0))
            row.months.append(cell)
            row.figures.add(cell)
            month_row.figures.add(cell)
        if any(getattr(row.figures, f.name) for f in fields(Figures)):
            property_rows.append(row)
            total.add(row.figures)
    return Analytics(months=month_rows, properties=property_rows, total=total)
