from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from reservations.models import Booking, BookingGuest


def booking_list_for_user(*, user) -> QuerySet[Booking]:
    """Bookings where the user is a guest: primary, or a linked co-guest.

    The co-guest side is a subquery rather than a join, so no DISTINCT is needed and
    each booking appears once.
    """
    as_co_guest = BookingGuest.objects.filter(user=user).values("booking_id")
    return (
        Booking.objects.filter(Q(primary_guest=user) | Q(pk__in=as_co_guest))
        .select_related("property")
        .order_by("-check_in", "-id")
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
