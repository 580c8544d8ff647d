from django.core.management.base import BaseCommand, CommandError

from listings.models import CalendarFeed
from reservations.calendar_sync import calendar_feeds_import


class Command(BaseCommand):
    help = (
        "Import the owners' calendars from other sites now (the schedule does it every 15 minutes): "
        "every feed, or one with --feed ID. A feed that fails records why and does not stop the others."
    )

    def add_arguments(self, parser):
        parser.add_argument("--feed", type=int, help="Import only this calendar feed (its id)")

    def handle(self, *args, feed=None, **options):
        feed_ids = None
        if feed is not None:
            if not CalendarFeed.objects.filter(pk=feed).exists():
                raise CommandError(f"No calendar feed with id {feed}.")
            feed_ids = [feed]
        outcomes = calendar_feeds_import(feed_ids=feed_ids)
        for outcome in outcomes:
            line = (
                f"feed {outcome.feed_id}: {outcome.status}"
                f" (+{outcome.created} ~{outcome.updated} -{outcome.deleted})"
            )
            if outcome.error:
                line += f": {outcome.error}"
            self.stdout.write(line)
        failed = sum(1 for outcome in outcomes if outcome.status == "failed")
        self.stdout.write(f"{len(outcomes)} calendar(s) imported, {failed} failed.")
