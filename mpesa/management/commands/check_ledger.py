"""manage.py check_ledger: the ledger invariant (mpesa.ledger). Exit 0 and a summary line when all is
well; exit 1 with one line per problem otherwise."""

from django.core.management.base import BaseCommand, CommandError

from mpesa.ledger import ledger_report


class Command(BaseCommand):
    help = (
        "Check, per booking, money in = refunds sent + commission + payouts sent + money still held, "
        "and the stored amounts against the callbacks and results. Non-zero exit on any difference."
    )

    def handle(self, *args, **options):
        report = ledger_report()
        for problem in report.problems:
            self.stdout.write(str(problem))
        if report.problems:
            raise CommandError(f"Ledger check failed: {len(report.problems)} problem(s). {report.summary()}")
        self.stdout.write(self.style.SUCCESS(f"Ledger OK: {report.summary()}"))
