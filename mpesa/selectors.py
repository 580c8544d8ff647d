from django.db.models import QuerySet
from django.http import Http404

from mpesa.models import Payment


def payment_list_for_booking(*, booking) -> QuerySet[Payment]:
    """All payment rows of a booking (payments and recorded refunds), newest first."""
    return Payment.objects.filter(booking=booking).order_by("-created_at", "-id")


def payment_get_for_user(*, user, payment_id: int) -> Payment:
    """A payment of a booking the user is a guest of; Http404 otherwise, as if it did not exist."""
    from reservations.selectors import booking_list_for_user

    bookings = booking_list_for_user(user=user).order_by().values("pk")
    payment = Payment.objects.filter(pk=payment_id, booking__in=bookings).first()
    if payment is None:
        raise Http404("No payment with this id.")
    return payment
