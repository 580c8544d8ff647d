"""Bookings' "created" audit entry and notifications move to the worker; two redundant indexes go.

- created_followed_up_at: set by reservations.services.bookings_follow_up_created once it
  has written the audit entry and enqueued the notifications. Bookings made before this
  migration had both at creation, so they are marked followed up here.
- The follow-up runs every minute (django-q2 schedule, update_or_create by name as in 0003).
- Booking.status and Booking.property lose their own indexes: booking_status_hold
  (status, hold_expires_at) and booking_property_dates (property, check_in, check_out)
  start with those columns and serve the same lookups, and every index is one more write
  on each booking insert.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F

SCHEDULE_NAME = "bookings_follow_up_created"


def mark_existing_followed_up(apps, schema_editor):
    apps.get_model("reservations", "Booking").objects.filter(created_followed_up_at__isnull=True).update(
        created_followed_up_at=F("booking_date")
    )


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "reservations.tasks.bookings_follow_up_created",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("listings", "0005_calendar_feeds"),
        ("reservations", "0012_calendar_import_schedule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="booking",
            name="created_followed_up_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(mark_existing_followed_up, migrations.RunPython.noop),
        migrations.RunPython(create_schedule, delete_schedule),
        migrations.AlterField(
            model_name="booking",
            name="property",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="bookings",
                to="listings.propertypage",
            ),
        ),
        migrations.AlterField(
            model_name="booking",
            name="status",
            field=models.CharField(
                choices=[
                    ("PENDING", "Pending payment"),
                    ("PROCESSING", "Partly paid"),
                    ("CONFIRMED", "Confirmed"),
                    ("CANCELED", "Cancelled"),
                ],
                default="PENDING",
                max_length=10,
            ),
        ),
    ]
