import datetime as dt
import json
from dataclasses import dataclass

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from wagtail.models import Page

from core.prepared import execute_prepared
from listings.models import BlockedPeriod, PropertyPage, PropertySeasonalPrice
from listings.pricing import PriceRules, Season
from listings.selectors import MAX_PAGE_ID
from reservations.models import ACTIVE_STATUSES, Booking, BookingGuest


def booking_list_for_user(*, user) -> QuerySet[Booking]:
    """Bookings where the user is a guest: primary, or a linked co-guest.

    A co-guest row carries a user only once that user accepted its emailed invitation
    (reservations.invitations); nothing links by a matching email or phone.

    The co-guest side is a subquery rather than a join, so no DISTINCT is needed and
    each booking appears once.
    """
    as_co_guest = BookingGuest.objects.filter(user=user).values("booking_id")
    return (
        Booking.objects.filter(Q(primary_guest=user) | Q(pk__in=as_co_guest))
        .select_related("property")
        .order_by("-check_in", "-id")
    )


def owner_hosts_paying_guest(*, owner, guest) -> bool:
    """Whether `guest` stays on a paid, active booking of a property `owner` owns, made by
    someone other than `owner`: as its primary guest, or as a co-guest linked to the booking
    (a co-guest row gets a user only when that user accepts the invitation).

    This decides who may see a guest's ID photo (accounts.selectors.user_can_view_id_photo).
    A booking the owner made on their own property never counts: otherwise an owner could
    read anyone's ID photo by typing them in as a co-guest.
    """
    as_guest = Q(primary_guest=guest) | Q(pk__in=BookingGuest.objects.filter(user=guest).values("booking_id"))
    return (
        Booking.objects.filter(
            as_guest,
            property__owner=owner,
            status__in=(Booking.Status.PROCESSING, Booking.Status.CONFIRMED),
            amount_paid__gt=0,
        )
        .exclude(primary_guest=owner)
        .exists()
    )


def booking_with_guests(queryset: QuerySet[Booking]) -> QuerySet[Booking]:
    """Prefetch the guests in their display order (primary first): one query for a whole page."""
    return queryset.prefetch_related(Prefetch("guests", queryset=BookingGuest.objects.order_by("-is_primary", "id")))


def booking_get_for_user(*, user, booking_id: int) -> Booking:
    """One booking the user is a guest of; Http404 otherwise, exactly as if it did not exist."""
    booking = booking_with_guests(booking_list_for_user(user=user)).filter(pk=booking_id).first()
    if booking is None:
        raise Http404("No booking with this id.")
    return booking


@dataclass(frozen=True)
class BookingTerms:
    """What booking_create checks and prices a stay against, read in one statement."""

    property_id: int
    title: str
    price_per_night: int
    max_guests: int
    min_nights: int
    min_credit_score: int | None
    availability_status: str
    max_nights: int
    min_deposit_percent: int
    weekend_price_per_night: int | None
    weekly_discount_percent: int
    monthly_discount_percent: int
    cancellation_policy: str
    # Only the seasons that overlap the stay asked about: all the stay's price needs.
    seasons: tuple[Season, ...]
    nights_blocked: bool
    # None on PostgreSQL: not asked, the exclusion constraint answers at the insert.
    nights_taken: bool | None

    @property
    def price_rules(self) -> PriceRules:
        return PriceRules(
            base=self.price_per_night,
            weekend=self.weekend_price_per_night,
            seasons=self.seasons,
            weekly_percent=self.weekly_discount_percent,
            monthly_percent=self.monthly_discount_percent,
        )


def _seasons_json_sql(table: str) -> str:
    """The listing's seasons overlapping the stay as one JSON array of [start, end, price]
    (a correlated subquery: the booking's single statement carries them)."""
    if connection.vendor == "postgresql":
        rows = 'json_agg(json_build_array(s.start, s."end", s.price_per_night))'
    else:
        rows = 'json_group_array(json_array(s.start, s."end", s.price_per_night))'
    return f"""(SELECT {rows} FROM {table} s
                WHERE s.page_id = l.page_ptr_id AND s.start < %s AND s."end" > %s)"""


def _seasons_from_json(value) -> tuple[Season, ...]:
    # psycopg2 decodes json itself; SQLite hands back the text. No season: NULL on
    # PostgreSQL (json_agg of no rows), "[]" on SQLite.
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return tuple(
        Season(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end), price=int(price))
        for start, end, price in value
    )


def property_booking_terms(*, property_id: int, check_in: dt.date, check_out: dt.date) -> BookingTerms | None:
    """The live listing's terms and whether any night of [check_in, check_out) is blocked
    or (SQLite only) held by an active booking; None when there is no such live listing.
    The listing's price rules come with them, its seasons only those overlapping the stay.

    Hand-written SQL on purpose: this runs on every booking, and building the equivalent
    queryset (a Wagtail page joined to its listing, two EXISTS annotations) cost about 5 times
    the query itself (bench/: the ORM version made POST /api/bookings/ a third slower).
    The overlap test is the plain half-open comparison, answered from the (property,
    check_in, check_out) index for one listing.

    On PostgreSQL the bookings are not asked about: the exclusion constraint of migration
    0002 refuses an overlapping insert whatever was read before, and booking_create turns
    that into the same 409. Asking first tripled what this statement costs the database
    (planning an EXISTS over the bookings table and its dozen indexes: bench/).
    """
    if not 0 < property_id <= MAX_PAGE_ID:
        return None
    page, listing = Page._meta.db_table, PropertyPage._meta.db_table
    params = [check_out, check_in, check_out, check_in]
    taken = "NULL"
    if connection.vendor != "postgresql":
        statuses = ", ".join(["%s"] * len(ACTIVE_STATUSES))
        taken = f"""EXISTS (SELECT 1 FROM {Booking._meta.db_table} k
                       WHERE k.property_id = l.page_ptr_id AND k.status IN ({statuses})
                         AND k.check_in < %s AND k.check_out > %s)"""
        params += [*ACTIVE_STATUSES, check_out, check_in]
    sql = f"""
        SELECT l.page_ptr_id, p.title, l.price_per_night, l.max_guests, l.min_nights, l.min_credit_score,
               l.availability_status, l.max_nights, l.min_deposit_percent,
               l.weekend_price_per_night, l.weekly_discount_percent, l.monthly_discount_percent,
               l.cancellation_policy,
               {_seasons_json_sql(PropertySeasonalPrice._meta.db_table)},
               EXISTS (SELECT 1 FROM {BlockedPeriod._meta.db_table} b
                       WHERE b.property_id = l.page_ptr_id AND b.start < %s AND b."end" > %s),
               {taken}
        FROM {listing} l JOIN {page} p ON p.id = l.page_ptr_id
        WHERE l.page_ptr_id = %s AND p.live
    """
    with connection.cursor() as cursor:
        execute_prepared(cursor, "nexus_booking_terms", sql, [*params, property_id])
        row = cursor.fetchone()
    if row is None:
        return None
    *fields, seasons, blocked, taken = row
    return BookingTerms(
        *fields,
        seasons=_seasons_from_json(seasons),
        nights_blocked=bool(blocked),
        nights_taken=None if taken is None else bool(taken),
    )
