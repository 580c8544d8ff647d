from django.core.management.base import BaseCommand

from listings.site_setup import ensure_site_tree


class Command(BaseCommand):
    help = "Create the page tree (home, listings index), the default site and the role groups. Idempotent."

    def handle(self, *args, **options):
        home, index = ensure_site_tree()
        self.stdout.write(f"Site tree ready: {home.url_path} -> {index.url_path}")
