"""The django-q2 schedule that imports the owners' calendars from other sites every 15
minutes (docs/calendar-sync.md): reservations.tasks.calendar_feeds_import enqueues one
import task per feed. update_or_create keyed by name, like 0003."""

from django.db import migrations

SCHEDULE_NAME = "calendar_feeds_import"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "reservations.tasks.calendar_feeds_import",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 15,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0011_calendar_collisions"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
