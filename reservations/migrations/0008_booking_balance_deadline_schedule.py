"""The django-q2 schedule that cancels PROCESSING bookings whose balance was not paid by
its deadline (docs/booking-rules.md), every 5 minutes. update_or_create keyed by name, like 0003."""

from django.db import migrations

SCHEDULE_NAME = "booking_enforce_balance_deadlines"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "reservations.tasks.booking_enforce_balance_deadlines",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 5,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0007_booking_cancel_kind_backfill"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
