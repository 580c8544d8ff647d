from django.db.models import QuerySet
from django.http import Http404

from mpesa.models import CallbackRecord, Payment, Refund
from reservations.selectors import booking_list_for_user
from reservations.status import IN_FLIGHT, BookingMoney, PaymentRow, booking_money


def payment_list_for_booking(*, booking) -> QuerySet[Payment]:
    """All payment rows of a booking (payments and recorded refunds), newest first."""
    return Payment.objects.filter(booking=booking).order_by("-created_at", "-id")


def payment_get_for_user(*, user, payment_id: int) -> Payment:
    """A payment of a booking the user is a guest of; Http404 otherwise, as if it did not exist."""
    bookings = booking_list_for_user(user=user).order_by().values("pk")
    payment = Payment.objects.filter(pk=payment_id, booking__in=bookings).first()
    if payment is None:
        raise Http404("No payment with this id.")
    return payment


def booking_money_of(*, booking_id: int) -> BookingMoney:
    """The one sum of a booking's money, from its payment rows (reservations.status.booking_money):
    credited, refunded, disputed and in flight. What the payments app reports to reservations.

    Refunds are counted from both places they live: REFUND Payment rows staff recorded by
    hand, and SUCCESS Refund rows sent through Daraja (mpesa.refunds_out), each as a refund
    of the payment it gives back. An open Refund (queued, awaiting approval, sent) is not
    counted: the money is still held until Daraja says it left."""
    # Summed in Python rather than with SUM() FILTER: a booking has a handful of payments, and
    # building the aggregate query cost more than the rows (every settled payment runs this).
    rows = Payment.objects.filter(booking_id=booking_id, status__in=("SUCCESS", *IN_FLIGHT)).values_list(
        "pk", "kind", "status", "amount", "received_amount", "refund_of_id", "flagged"
    )
    sent = Refund.objects.filter(booking_id=booking_id, status=Refund.Status.SUCCESS).values_list(
        "pk", "amount", "payment_id"
    )
    refunds = (PaymentRow(pk, "REFUND", "SUCCESS", amount, None, payment_id, False) for pk, amount, payment_id in sent)
    return booking_money([*(PaymentRow(*row) for row in rows), *refunds])


def callback_list_unmatched() -> QuerySet[CallbackRecord]:
    """Successes that matched no payment and wait for staff, oldest first (staff only)."""
    return CallbackRecord.objects.filter(state=CallbackRecord.State.UNMATCHED).order_by("received_at", "pk")
