"""The django-q2 schedule that reconciles pending payments every minute (docs/booking-rules.md).

update_or_create keyed by name, so re-running the migration (or a schedule edited by
hand) ends in one schedule with these settings.
"""

from django.db import migrations

SCHEDULE_NAME = "payment_reconcile_pending"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "mpesa.tasks.payment_reconcile_pending",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mpesa", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
