"""Which nights bookings take: the active (date-holding) bookings of a listing.

Listings' search, counts and calendar, and the blocked-period form (listings/selectors.py,
listings/wagtail_hooks.py) ask every registered Occupancy which nights are taken;
ReservationsConfig.ready() registers BOOKED_NIGHTS there, so listings reads bookings without
importing them.
"""

import datetime as dt

from django.db.models import QuerySet

from listings.selectors import Occupancy
from reservations.models import ACTIVE_STATUSES, Booking


def _active_bookings() -> QuerySet[Booking]:
    return Booking.objects.filter(status__in=ACTIVE_STATUSES)


def _bookings_refuse_block(*, property_id, start: dt.date, end: dt.date) -> str | None:
    """Nights held by a booking made on Nexus may not be blocked: cancel or move it first."""
    taken = active_bookings_overlapping(property_id=property_id, check_in=start, check_out=end)
    references = list(taken.order_by("check_in").values_list("reference", flat=True)[:5])
    if not references:
        return None
    return "These dates overlap bookings made on Nexus (%s). Cancel or move those first." % ", ".join(references)


BOOKED_NIGHTS = Occupancy(
    rows=_active_bookings, start_field="check_in", end_field="check_out", refuses_block=_bookings_refuse_block
)


def active_bookings_overlapping(*, property_id, check_in: dt.date, check_out: dt.date) -> QuerySet[Booking]:
    """Active (date-holding) bookings of a property that overlap the stay. `property_id` may be an OuterRef."""
    return BOOKED_NIGHTS.overlapping(property_id=property_id, check_in=check_in, check_out=check_out)
