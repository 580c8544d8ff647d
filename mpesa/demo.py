"""Demo payments for `seed_demo`: the settled M-Pesa payment behind each demo booking's
amount paid. The bookings step (reservations.demo) writes the bookings with their figures;
this step runs after it (core.demo.DemoOrder.PAYMENTS) and writes the rows those figures come from,
as a successful STK push leaves them.

Idempotent: each payment has a fixed CheckoutRequestID from its booking's reference and
is created only when missing. No notifications are sent for demo data.
"""

from django.utils import timezone

from core.demo import DemoOrder, DemoStep
from mpesa.models import Payment


def seed_payments(*, bookings: list) -> list[Payment]:
    """One SUCCESS payment of `amount_paid` for each paid booking in `bookings`."""
    payments = []
    for booking in bookings:
        if not booking.amount_paid:
            continue
        checkout_request_id = f"ws_CO_DEMO_{booking.reference}"
        payment = Payment.objects.filter(checkout_request_id=checkout_request_id).first()
        payments.append(payment or _create(booking=booking, checkout_request_id=checkout_request_id))
    return payments


def _create(*, booking, checkout_request_id: str) -> Payment:
    guest = booking.primary_guest
    phone = str(guest.phone_number).lstrip("+")
    now = timezone.now()
    return Payment.objects.create(
        booking=booking,
        kind=Payment.Kind.PAYMENT,
        amount=booking.amount_paid,
        received_amount=booking.amount_paid,
        phone_number=phone,
        received_phone=phone,
        status=Payment.Status.SUCCESS,
        initiated_by=guest,
        merchant_request_id=f"DEMO-{booking.reference}",
        checkout_request_id=checkout_request_id,
        mpesa_receipt_number=f"SDEMO{booking.reference[-4:]}",
        result_code="0",
        result_desc="The service request is processed successfully.",
        transaction_date=now,
        sent_at=now,
    )


# Registered in MpesaConfig.ready(); takes what the bookings step provides.
DEMO_STEP = DemoStep(order=DemoOrder.PAYMENTS, provides="payments", seed=seed_payments, needs=("bookings",))
