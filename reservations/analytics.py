"""Stay figures for the analytics report, per listing and calendar month (Africa/Nairobi).

What each figure means is written down in docs/reports.md ("Analytics"); in short:

- nights available: nights of the month the listing was on the site, less its blocked
  nights (overlapping blocked periods count once), and never fewer than the nights sold;
- nights sold: nights of PROCESSING or CONFIRMED bookings (money held), a stay split across
  the months it covers; unpaid holds and cancelled bookings sell no nights;
- stay value: each sold booking's total price spread evenly over its nights, kept in
  thousandths of a shilling so that the average nightly rate is rounded only once;
- bookings: bookings made in the month (booking date), cancellations: bookings cancelled in
  the month (cancellation time); holds that lapsed unpaid count as neither.

The booking figures come from one aggregate query (one SUM/COUNT column per month and
figure, grouped by listing), so the cost does not grow with the number of bookings. Live
windows and blocked periods are read per listing and merged here.

Revenue (money received) is the payments app's to add: mpesa/analytics.py.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import BigIntegerField, Count, ExpressionWrapper, F, Func, IntegerField, Max, Q, QuerySet, Sum
from django.db.models.functions import Cast, Greatest, Least
from django.utils import timezone
from wagtail.models import PageLogEntry

from listings.models import BlockedPeriod, PropertyPage
from reservations.models import Booking

# Money held: these bookings' nights are sold (the home page's occupancy panel counts the same).
SOLD_STATUSES = (Booking.Status.PROCESSING, Booking.Status.CONFIRMED)
# Holds that lapsed without money: an attempt to book, not a booking nor a cancellation.
LAPSED_KINDS = (Booking.CancelKind.HOLD_EXPIRED, Booking.CancelKind.PAYMENT_FAILED)
UNPUBLISH_ACTIONS = ("wagtail.unpublish", "wagtail.unpublish.scheduled")
MAX_MONTHS = 36
MILLI = 1000


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, day: dt.date) -> "Month":
        return cls(day.year, day.month)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def end(self) -> dt.date:
        """The first day of the next month (months are half-open, like stays)."""
        return dt.date(self.year + self.month // 12, self.month % 12 + 1, 1)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.label

    def shift(self, months: int) -> "Month":
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)


def months_between(first: Month, last: Month) -> list[Month]:
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [first.shift(n) for n in range(max(count, 0))]


def default_months(today: dt.date | None = None) -> tuple[Month, Month]:
    """The last twelve months, this one included."""
    this_month = Month.of(today or timezone.localdate())
    return this_month.shift(-11), this_month


class DaysBetween(Func):
    """Whole days from the second date to the first (end - start), as an integer."""

    arity = 2
    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        # PostgreSQL: date - date is an integer number of days.
        return super().as_sql(compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # julianday() of two calendar dates differs by a whole number (both at noon UTC).
        return super().as_sql(
            compiler,
            connection,
            template="CAST(ROUND(julianday(%(expressions)s)) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


def _local_midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _overlap(start: dt.date, end: dt.date, month: Month) -> int:
    return max((min(end, month.end) - max(start, month.start)).days, 0)


@dataclass
class StayFigures:
    """One listing's stay figures in one month (or summed over several)."""

    nights_live: int = 0
    nights_blocked: int = 0
    nights_sold: int = 0
    stay_value_milli: int = 0
    bookings: int = 0
    cancellations: int = 0

    @property
    def nights_available(self) -> int:
        # A night both blocked and sold (a calendar import colliding with a booking) is sold.
        return max(self.nights_live - self.nights_blocked, self.nights_sold, 0)


@dataclass
class ListingWindow:
    """When a listing was on the site, as calendar dates: [live_from, live_until)."""

    pk: int
    title: str
    live_from: dt.date | None
    live_until: dt.date | None  # None: still live


@dataclass
class StayGrid:
    months: list[Month]
    listings: list[ListingWindow]
    cells: dict[tuple[int, int], StayFigures] = field(default_factory=dict)  # (listing pk, month index)

    def cell(self, listing_pk: int, month_index: int) -> StayFigures:
        return self.cells.get((listing_pk, month_index)) or StayFigures()


def listing_windows(properties: QuerySet[PropertyPage]) -> list[ListingWindow]:
    """Each listing's live window: from the day it was first published; for a listing off the
    site now, until the day it was last unpublished (Wagtail's log). Two queries."""
    rows = list(properties.order_by("title", "pk").values_list("pk", "title", "first_published_at", "live"))
    offline = properties.filter(live=False).values("pk")
    unpublished = dict(
        PageLogEntry.objects.filter(page_id__in=offline, action__in=UNPUBLISH_ACTIONS)
        .order_by()
        .values("page_id")
        .annotate(last=Max("timestamp"))
        .values_list("page_id", "last")
    )
    windows = []
    for pk, title, first_published_at, live in rows:
        live_from = timezone.localdate(first_published_at) if first_published_at else None
        if live:
            live_until = None
        elif pk in unpublished:
            live_until = timezone.localdate(unpublished[pk])
        else:  # off the site with no unpublish on record: no night counts as on offer
            live_until = live_from
        windows.append(ListingWindow(pk=pk, title=title, live_from=live_from, live_until=live_until))
    return windows


def _blocked_nights(properties: QuerySet[PropertyPage], months: list[Month]) -> dict[tuple[int, int], int]:
    """Blocked nights per (listing, month), overlapping blocked periods merged first."""
    first, end = months[0].start, months[-1].end
    periods = (
        BlockedPeriod.objects.filter(property__in=properties, start__lt=end, end__gt=first)
        .order_by("property_id", "start", "end")
        .values_list("property_id", "start", "end")
    )
    merged: dict[int, list[list[dt.date]]] = defaultdict(list)
    for property_id, start, stop in periods:
        ranges = merged[property_id]
        if ranges and start <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], stop)
        else:
            ranges.append([start, stop])
    blocked: dict[tuple[int, int], int] = defaultdict(int)
    for property_id, ranges in merged.items():
        for start, stop in ranges:
            for index, month in enumerate(months):
                nights = _overlap(start, stop, month)
                if nights:
                    blocked[(property_id, index)] += nights
    return blocked


def _booking_columns(months: list[Month]) -> dict:
    sold = Q(status__in=SOLD_STATUSES)
    lapsed = Q(status=Booking.Status.CANCELED, cancel_kind__in=LAPSED_KINDS)
    columns = {}
    for index, month in enumerate(months):
        start, end = month.start, month.end
        nights = DaysBetween(Least(F("check_out"), end), Greatest(F("check_in"), start))
        in_month = sold & Q(check_in__lt=end, check_out__gt=start)
        made = Q(booking_date__gte=_local_midnight(start), booking_date__lt=_local_midnight(end))
        canceled = Q(
            status=Booking.Status.CANCELED,
            canceled_at__gte=_local_midnight(start),
            canceled_at__lt=_local_midnight(end),
        )
        columns[f"sold_{index}"] = Sum(nights, filter=in_month)
        # total_price x nights in the month / nights, in thousandths of a shilling.
        columns[f"value_{index}"] = Sum(
            ExpressionWrapper(
                Cast("total_price", BigIntegerField()) * nights * MILLI / F("nights"),
                output_field=BigIntegerField(),
            ),
            filter=in_month,
        )
        columns[f"made_{index}"] = Count("pk", filter=made & ~lapsed)
        columns[f"canceled_{index}"] = Count("pk", filter=canceled & ~lapsed)
    return columns


def stay_grid(*, properties: QuerySet[PropertyPage], months: list[Month]) -> StayGrid:
    """Stay figures of `properties` (already scoped to the user) for each of `months`.

    Four queries whatever the number of bookings: listings, their last unpublish, blocked
    periods, and one aggregate over bookings."""
    grid = StayGrid(months=months, listings=listing_windows(properties))
    if not months or not grid.listings:
        return grid
    first, end = months[0].start, months[-1].end
    for listing in grid.listings:
        if listing.live_from is None:
            continue
        live_until = listing.live_until or dt.date.max
        for index, month in enumerate(months):
            nights = _overlap(listing.live_from, live_until, month)
            if nights:
                grid.cells.setdefault((listing.pk, index), StayFigures()).nights_live = nights
    for key, nights in _blocked_nights(properties, months).items():
        grid.cells.setdefault(key, StayFigures()).nights_blocked = nights

    touching = (
        Q(status__in=SOLD_STATUSES, check_in__lt=end, check_out__gt=first)
        | Q(booking_date__gte=_local_midnight(first), booking_date__lt=_local_midnight(end))
        | Q(canceled_at__gte=_local_midnight(first), canceled_at__lt=_local_midnight(end))
    )
    rows = (
        Booking.objects.filter(touching, property__in=properties)
        .order_by()
        .values("property_id")
        .annotate(**_booking_columns(months))
    )
    for row in rows:
        for index in range(len(months)):
            figures = (
                row[f"sold_{index}"] or 0,
                row[f"value_{index}"] or 0,
                row[f"made_{index}"],
                row[f"canceled_{index}"],
            )
            if not any(figures):
                continue
            cell = grid.cells.setdefault((row["property_id"], index), StayFigures())
            cell.nights_sold, cell.stay_value_milli, cell.bookings, cell.cancellations = figures
    return grid
