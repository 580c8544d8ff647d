from django.db.models import Q

from reservations.models import BookingGuest


def booking_guest_link_user(*, user) -> int:
    """Link co-guest entries whose email or phone matches `user` (e.g. after they sign up).

    Returns how many entries were linked. A booking never lists the same user twice.
    """
    match = Q(email__iexact=user.email) if user.email else Q(pk__in=[])
    if user.phone_number:
        match |= Q(phone_number=str(user.phone_number))
    linked = 0
    for guest in BookingGuest.objects.filter(match, user__isnull=True).exclude(booking__guests__user=user):
        guest.user = user
        guest.save(update_fields=["user"])
        linked += 1
    return linked
