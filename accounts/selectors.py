from accounts.models import User


def user_can_view_id_photo(*, viewer: User, subject: User) -> bool:
    """The user, staff, and owners of a property the subject has booked (as any guest)."""
    if not viewer.is_authenticated:
        return False
    if viewer.pk == subject.pk or viewer.is_staff:
        return True
    if viewer.is_owner:
        from reservations.models import BookingGuest

        return BookingGuest.objects.filter(user=subject, booking__property__owner=viewer).exists()
    return False
