from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.demo import DEMO_PASSWORD, DEMO_USERS, seed_users
from listings.site_setup import ensure_site_tree


class Command(BaseCommand):
    help = "Load idempotent demo data (users, listings, bookings) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Run even when DEBUG is off.")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates accounts with known passwords; it runs only with DEBUG on (or --force).")
        with transaction.atomic():
            ensure_site_tree()
            users = seed_users()
            summary = self._seed_later_parts(users)
        self.stdout.write(self.style.SUCCESS("Demo data ready. " + summary))
        self.stdout.write("Demo logins (password for all: %s):" % DEMO_PASSWORD)
        for spec in DEMO_USERS:
            self.stdout.write(f"  {spec['role']:<6} {spec['email']}")

    def _seed_later_parts(self, users) -> str:
        """Listings and bookings, from the apps that own them."""
        parts = []
        try:
            from listings.demo import seed_listings
        except ImportError:
            return f"{len(users)} users."
        properties = seed_listings(users=users)
        parts.append(f"{len(properties)} listings")
        try:
            from reservations.demo import seed_bookings
        except ImportError:
            seed_bookings = None
        if seed_bookings:
            parts.append(f"{len(seed_bookings(users=users, properties=properties))} bookings")
        return f"{len(users)} users, " + ", ".join(parts) + "."
