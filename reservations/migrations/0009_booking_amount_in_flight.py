from django.db import migrations, models
from django.db.models import Sum


def backfill_amount_in_flight(apps, schema_editor):
    """Bookings with a payment still queued or pending get that amount, as the payments
    app would have reported it."""
    Booking = apps.get_model("reservations", "Booking")
    Payment = apps.get_model("mpesa", "Payment")
    totals = (
        Payment.objects.filter(kind="PAYMENT", status__in=("QUEUED", "PENDING"))
        .values("booking_id")
        .annotate(total=Sum("amount"))
    )
    for row in totals:
        Booking.objects.filter(pk=row["booking_id"]).update(amount_in_flight=row["total"])


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0008_booking_balance_deadline_schedule"),
        ("mpesa", "0002_reconcile_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="booking",
            name="amount_in_flight",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(backfill_amount_in_flight, migrations.RunPython.noop),
    ]
