from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from listings.site_setup import ensure_site_tree, site_address_apply


class Command(BaseCommand):
    help = (
        "Create the page tree (home, listings index), the default site and the role groups, and "
        "point the default site at WAGTAILADMIN_BASE_URL's host and port. Idempotent: run on every deploy."
    )

    def handle(self, *args, **options):
        home, index = ensure_site_tree()
        self.stdout.write(f"Site tree ready: {home.url_path} -> {index.url_path}")
        try:
            site, changed = site_address_apply()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Default site: {site.root_url} ({'updated' if changed else 'unchanged'})")
