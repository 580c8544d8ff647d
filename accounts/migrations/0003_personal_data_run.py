"""PersonalDataRun, and the django-q2 schedule that runs the personal data retention pass daily.

update_or_create keyed by name, so re-running the migration (or a schedule edited by hand)
ends in one schedule with these settings.
"""

import django.utils.timezone
from django.db import migrations, models

SCHEDULE_NAME = "personal_data_retention"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "accounts.tasks.personal_data_retention",
            "schedule_type": "D",  # Schedule.DAILY
            "repeats": -1,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_sms_notifications"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="PersonalDataRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("retention_days", models.PositiveIntegerField()),
                ("photos_erased", models.PositiveIntegerField(default=0)),
            ],
            options={
                "ordering": ["-started_at", "-id"],
            },
        ),
        migrations.RunPython(create_schedule, delete_schedule),
    ]
