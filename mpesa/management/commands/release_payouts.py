"""manage.py release_payouts: release the owners' payouts that are due now (mpesa.payouts); the
django-q2 schedule "payouts_release_due" runs the same every 5 minutes."""

from django.core.management.base import BaseCommand

from mpesa.payouts import payouts_release_due_detail


class Command(BaseCommand):
    help = "Release owners' payouts that are due now (sent by B2C/B2B through the worker)."

    def handle(self, *args, **options):
        rows = payouts_release_due_detail()
        released = [row for row in rows if row["released"]]
        for row in rows:
            what = "released" if row["released"] else f"waiting: {row['note'] or 'taken by another run'}"
            amount = f"KES {row['amount']:,}" if row["amount"] is not None else "-"
            self.stdout.write(f"payout {row['payout_id']} (booking {row['booking_id']}, {amount}): {what}")
        self.stdout.write(f"Released {len(released)} payout(s); {len(rows) - len(released)} due and not released.")
