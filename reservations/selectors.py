from django.db.models import Q, QuerySet

from reservations.models import Booking


def booking_list_for_user(*, user) -> QuerySet[Booking]:
    """Bookings where the user is a guest: primary, or a linked co-guest."""
    return (
        Booking.objects.filter(Q(primary_guest=user) | Q(guests__user=user))
        .distinct()
        .select_related("property")
        .order_by("-check_in", "-id")
    )
