"""Writes for calendar sync: the export token, imported calendars, and the blocked periods
an import makes. Bookings are not read here: reservations.calendar_sync runs the imports
and flags imported blocks that collide with bookings."""

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.services import audit_record
from listings.calendar.fetch import CalendarFetchError, address_refusal, calendar_fetch
from listings.calendar.parse import CalendarParseError, ImportedRange, calendar_parse
from listings.models import BlockedPeriod, CalendarExport, CalendarFeed

logger = logging.getLogger(__name__)

# Events are imported from today to 18 months ahead; recurring events are expanded over it.
IMPORT_WINDOW = dt.timedelta(days=548)
MAX_FEEDS_PER_PROPERTY = 10
TOKEN_BYTES = 32
DUPLICATE = "This calendar is already imported for this listing."


# --- export token ----------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def calendar_export_token(*, property_id: int) -> str:
    """The listing's export token, made on first use."""
    export, _ = CalendarExport.objects.get_or_create(property_id=property_id, defaults={"token": _new_token()})
    return export.token


@transaction.atomic
def calendar_export_regenerate(*, property_id: int, actor=None) -> str:
    """A new export token; the address with the old one answers 404 from now on."""
    export, created = CalendarExport.objects.select_for_update().get_or_create(
        property_id=property_id, defaults={"token": _new_token()}
    )
    if not created:
        export.token = _new_token()
        export.save(update_fields=["token", "issued_at"])
    audit_record(obj=export, action="calendar_export.regenerated", actor=actor, summary=f"property {property_id}")
    return export.token


# --- imported calendars --------------------------------------------------------------------------


def calendar_feed_refusal(*, property_id: int, url: str, exclude_feed_id: int | None = None) -> str | None:
    """Why this address may not be imported for this listing, or None (resolves the host name)."""
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in ("http", "https"):
        return "Only http:// and https:// calendar addresses can be imported."
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return "Enter a valid web address, e.g. https://www.airbnb.com/calendar/ical/123.ics?s=..."
    feeds = CalendarFeed.objects.filter(property_id=property_id)
    if exclude_feed_id is not None:
        feeds = feeds.exclude(pk=exclude_feed_id)
    if feeds.filter(url=url).exists():
        return DUPLICATE
    if feeds.count() >= MAX_FEEDS_PER_PROPERTY:
        return f"A listing can import at most {MAX_FEEDS_PER_PROPERTY} calendars."
    export = CalendarExport.objects.filter(property_id=property_id).values_list("token", flat=True).first()
    if export and export in url:
        # Its own bookings would come back as blocks colliding with every one of them.
        return "This is this listing's own export address: paste the other site's address instead."
    return address_refusal(url)


def calendar_feed_create(*, property_id: int, url: str, actor=None) -> CalendarFeed:
    """Add a calendar to import. The caller has checked calendar_feed_refusal()."""
    try:
        with transaction.atomic():
            feed = CalendarFeed.objects.create(property_id=property_id, url=url.strip(), created_by=actor)
            audit_record(obj=feed, action="calendar_feed.added", actor=actor, summary=f"property {property_id}: {feed}")
    except IntegrityError:
        # The same address added twice at once: the unique constraint decided.
        raise ValidationError({"url": [DUPLICATE]}) from None
    return feed


def calendar_feed_delete(*, feed: CalendarFeed, actor=None) -> None:
    """Stop importing a calendar; its blocked periods go with it, so those nights are free again."""
    with transaction.atomic():
        audit_record(
            obj=feed,
            action="calendar_feed.removed",
            actor=actor,
            # The host only: feed addresses carry the other site's secret (Airbnb's ?s=...).
            summary=f"property {feed.property_id}: {feed}",
        )
        feed.delete()


# --- one import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedSync:
    """What one import of one feed did. status: updated, unchanged (304), failed, gone."""

    feed_id: int
    status: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    error: str = ""


def calendar_feed_record_error(*, feed_id: int, error: str) -> None:
    CalendarFeed.objects.filter(pk=feed_id).update(last_error=error[:500])


def calendar_feed_sync(*, feed_id: int, today: dt.date | None = None) -> FeedSync:
    """Fetch one feed and make its blocked periods match its events.

    Fetched outside any transaction (no lock held across the network); applied under the
    feed's row lock, so two imports of one feed at once end as one would. A feed that cannot
    be fetched or read keeps its blocks as they were and records why in last_error.
    """
    feed = CalendarFeed.objects.filter(pk=feed_id).first()
    if feed is None:
        return FeedSync(feed_id=feed_id, status="gone")
    today = today or timezone.localdate()
    try:
        fetched = calendar_fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        ranges = None
        if not fetched.not_modified:
            ranges = calendar_parse(fetched.body, window_start=today, window_end=today + IMPORT_WINDOW)
    except (CalendarFetchError, CalendarParseError) as error:
        logger.info("calendar import failed feed_id=%s error=%s", feed_id, error)
        calendar_feed_record_error(feed_id=feed_id, error=str(error))
        return FeedSync(feed_id=feed_id, status="failed", error=str(error))
    with transaction.atomic():
        locked = CalendarFeed.objects.select_for_update().filter(pk=feed_id).first()
        if locked is None or locked.url != feed.url:
            return FeedSync(feed_id=feed_id, status="gone")  # removed or changed while it was fetched
        created = updated = deleted = 0
        if ranges is not None:
            created, updated, deleted = _apply(feed=locked, ranges=ranges, today=today)
        locked.etag, locked.last_modified = fetched.etag, fetched.last_modified
        locked.last_synced_at, locked.last_error = timezone.now(), ""
        locked.save(update_fields=["etag", "last_modified", "last_synced_at", "last_error"])
        if created or updated or deleted:
            audit_record(
                obj=locked,
                action="calendar_feed.imported",
                summary=f"property {locked.property_id}: +{created} ~{updated} -{deleted}",
                data={"created": created, "updated": updated, "deleted": deleted},
            )
    status = "unchanged" if ranges is None else "updated"
    logger.info(
        "calendar import feed_id=%s status=%s created=%d updated=%d deleted=%d",
        feed_id, status, created, updated, deleted,
    )
    return FeedSync(feed_id=feed_id, status=status, created=created, updated=updated, deleted=deleted)


def _reason(feed: CalendarFeed, summary: str) -> str:
    return f"{summary or 'Not available'} (from {feed})"[:200]


def _apply(*, feed: CalendarFeed, ranges: list[ImportedRange], today: dt.date) -> tuple[int, int, int]:
    """Create, move and delete the feed's blocks so they are its events; manual blocks are untouched.

    A block whose event is gone is deleted unless it ended before today: past nights stay as
    they were for the reports, and freeing them would change nothing.
    """
    existing = {block.feed_uid: block for block in BlockedPeriod.objects.filter(feed=feed)}
    to_create, to_update = [], []
    for item in ranges:
        reason = _reason(feed, item.summary)
        block = existing.pop(item.key, None)
        if block is None:
            to_create.append(
                BlockedPeriod(
                    property_id=feed.property_id,
                    feed=feed,
                    feed_uid=item.key,
                    start=item.start,
                    end=item.end,
                    reason=reason,
                )
            )
        elif (block.start, block.end, block.reason) != (item.start, item.end, reason):
            block.start, block.end, block.reason = item.start, item.end, reason
            to_update.append(block)
    gone = [block.pk for block in existing.values() if block.end > today]
    if gone:
        BlockedPeriod.objects.filter(pk__in=gone).delete()
    if to_update:
        BlockedPeriod.objects.bulk_update(to_update, ["start", "end", "reason"])
    if to_create:
        BlockedPeriod.objects.bulk_create(to_create)
    return len(to_create), len(to_update), len(gone)
