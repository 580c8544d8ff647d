from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.services import id_photos_retention_erase


class Command(BaseCommand):
    help = (
        "Erase the ID photos of users whose last stay ended (or who joined, if they never booked) "
        "more than ID_PHOTO_RETENTION_DAYS days ago. Run daily by the django-q2 schedule."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None, help=f"Retention in days (default {settings.ID_PHOTO_RETENTION_DAYS})"
        )

    def handle(self, *args, days=None, **options):
        if days is not None and days < 0:
            self.stderr.write("--days must be 0 or more")
            raise SystemExit(2)
        erased = id_photos_retention_erase(days=days)
        self.stdout.write(f"{erased} ID photo(s) erased")
