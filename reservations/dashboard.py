"""Numbers about bookings for the Wagtail home page panels, scoped by the booking policy.

An owner's panels count only their own properties' bookings; staff's count everything.
Dates are Africa/Nairobi calendar dates (TIME_ZONE). The panels themselves are
registered in reservations/wagtail_hooks.py (arrivals) and mpesa/wagtail_hooks.py
(the month's business, which puts occupancy beside revenue).
"""

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from reservations.models import Booking
from reservations.permissions import booking_permission_policy, properties_visible_to

OCCUPANCY_DAYS = 30
HELD = (Booking.Status.PENDING, Booking.Status.PROCESSING, Booking.Status.CONFIRMED)


@dataclass
class Arrivals:
    """Today's check-ins and check-outs of bookings that hold their dates."""

    today: dt.date
    check_ins: list = field(default_factory=list)
    check_outs: list = field(default_factory=list)


@dataclass
class Occupancy:
    """Booked nights (partly or fully paid stays) over bookable nights in [today, today + 30)."""

    occupied_nights: int = 0
    available_nights: int = 0

    @property
    def occupancy_percent(self) -> int | None:
        if not self.available_nights:
            return None
        return round(100 * self.occupied_nights / self.available_nights)


def arrivals_for_user(*, user, today: dt.date | None = None) -> Arrivals | None:
    """Today's arrivals and departures the user may see, or None when they may see no bookings."""
    if not booking_permission_policy.user_has_permission(user, "view"):
        return None
    today = today or timezone.localdate()
    held = booking_permission_policy.instances_user_has_permission_for(user, "view").filter(status__in=HELD)
    return Arrivals(
        today=today,
        check_ins=list(
            held.filter(check_in=today).select_related("property", "primary_guest").order_by("property__title")
        ),
        check_outs=list(
            held.filter(check_out=today).select_related("property", "primary_guest").order_by("property__title")
        ),
    )


def occupancy_for_user(*, user, today: dt.date | None = None) -> Occupancy:
    """Occupancy of the listings whose bookings the user may see, each stay clipped to the
    window (stays are half-open)."""
    today = today or timezone.localdate()
    window_end = today + dt.timedelta(days=OCCUPANCY_DAYS)
    bookings = booking_permission_policy.instances_user_has_permission_for(user, "view")
    stays = bookings.filter(
        status__in=(Booking.Status.PROCESSING, Booking.Status.CONFIRMED), check_in__lt=window_end, check_out__gt=today
    ).values_list("check_in", "check_out")
    return Occupancy(
        occupied_nights=sum((min(out, window_end) - max(in_, today)).days for in_, out in stays),
        available_nights=properties_visible_to(user).live().count() * OCCUPANCY_DAYS,
    )
