"""Fill Booking.cancel_kind for bookings cancelled before the field existed, from the
reason the cancelling code wrote. Only "payment failed" makes a booking revivable, so
that kind is given only when the payments agree (nothing paid, the latest attempt failed
before the cancellation): a guest may have typed any reason when cancelling. Anything
not recognised stays blank, which is final.
"""

from django.db import migrations

# The reasons written by the cancelling code (reservations.services, staff_services, mpesa.services).
EXACT = {
    "Cancelled by the guest": "guest",
    "Hold expired before payment": "hold_expired",
}
PREFIXES = (("Cancelled by Nexus:", "staff"),)
PAYMENT_FAILED_PREFIX = "Payment failed:"


def _failed_with_nothing_paid(Payment, booking) -> bool:
    if booking.amount_paid > 0 or booking.canceled_at is None:
        return False
    attempts = Payment.objects.filter(booking_id=booking.pk, kind="PAYMENT").order_by("-created_at", "-id")
    if attempts.filter(status="SUCCESS").exists():
        return False
    latest = attempts.first()
    return latest is not None and latest.status == "FAILED" and latest.created_at <= booking.canceled_at


def infer_cancel_kind(apps, schema_editor):
    Booking = apps.get_model("reservations", "Booking")
    Payment = apps.get_model("mpesa", "Payment")
    for booking in Booking.objects.filter(status="CANCELED", cancel_kind="").iterator():
        reason = booking.cancel_reason or ""
        kind = EXACT.get(reason, "")
        for prefix, prefixed_kind in PREFIXES:
            if reason.startswith(prefix):
                kind = prefixed_kind
        if reason.startswith(PAYMENT_FAILED_PREFIX) and _failed_with_nothing_paid(Payment, booking):
            kind = "payment_failed"
        if kind:
            Booking.objects.filter(pk=booking.pk).update(cancel_kind=kind)


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0006_booking_cancel_kind"),
        ("mpesa", "0002_reconcile_schedule"),
    ]

    operations = [migrations.RunPython(infer_cancel_kind, migrations.RunPython.noop)]
