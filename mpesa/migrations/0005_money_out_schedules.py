"""The django-q2 schedules of money going out (docs/money-out.md):

- "transfers_reconcile" every minute: refund/payout results left unapplied, Transaction
  Status for transfers with no result, queued ones whose send task was lost;
- "payouts_release_due" every 5 minutes: owners' payouts that are due are released.

update_or_create keyed by name, like 0002: re-running ends in one schedule of each.
"""

from django.db import migrations

SCHEDULES = {
    "transfers_reconcile": ("mpesa.tasks.transfers_reconcile", 1),
    "payouts_release_due": ("mpesa.tasks.payouts_release_due", 5),
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1},  # I: Schedule.MINUTES
        )


def delete_schedules(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("mpesa", "0004_refunds_and_payouts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
