from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.demo import demo_seed


class Command(BaseCommand):
    help = "Load idempotent demo data (users, listings, bookings) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with known passwords; it runs only with DEBUG on (or --force).")
        # The steps are registered by the apps that own the data (core/demo.py).
        with transaction.atomic():
            seeded = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo data ready. " + seeded.summary))
        for text in seeded.afterwords:
            self.stdout.write(text)
