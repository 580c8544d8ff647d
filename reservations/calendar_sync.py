"""Calendar imports, run for every feed by the schedule (every 15 minutes, migration 0012) and
at once by `manage.py import_calendars`, and the collisions they find.

listings.calendar fetches a feed and makes its blocked periods match its events. Those
blocks are stored even over nights a booking here already holds: the other site has sold
them, and dropping the block would hide a night sold twice. Instead each (imported block,
booking) overlap becomes a CalendarCollision, listed on the owner's and staff's dashboard
while it lasts and emailed to them once (docs/calendar-sync.md).

Every feed is imported on its own: one that fails records why in its last_error and never
stops the others.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from core.permissions import user_is_back_office_staff
from core.tasks import email_render
from listings.calendar.services import FeedSync, calendar_feed_record_error, calendar_feed_sync
from listings.models import BlockedPeriod, CalendarFeed
from reservations.availability import active_bookings_overlapping
from reservations.models import ACTIVE_STATUSES, CalendarCollision
from reservations.permissions import booking_permission_policy

logger = logging.getLogger(__name__)

IMPORT_TASK = "reservations.tasks.calendar_feed_import"
NOTIFY_TASK = "reservations.tasks.calendar_collision_notify"
UNEXPECTED = "The import stopped on an unexpected error; it is tried again at the next run."


# --- running imports -----------------------------------------------------------------------------


def calendar_feeds_import_enqueue() -> int:
    """The schedule's task: one import task per feed, so a slow feed cannot take the others'
    time (each task is bounded by the fetch's limits, well inside the worker's timeout)."""
    from django_q.tasks import async_task

    feed_ids = list(CalendarFeed.objects.order_by("pk").values_list("pk", flat=True))
    for feed_id in feed_ids:
        async_task(IMPORT_TASK, feed_id, task_name=f"calendar-import-{feed_id}")
    return len(feed_ids)


def calendar_feeds_import(*, feed_ids: list[int] | None = None) -> list[FeedSync]:
    """Import these feeds (all of them by default) one after the other, in this process."""
    if feed_ids is None:
        feed_ids = list(CalendarFeed.objects.order_by("pk").values_list("pk", flat=True))
    return [calendar_feed_import(feed_id=feed_id) for feed_id in feed_ids]


def calendar_feed_import(*, feed_id: int) -> FeedSync:
    """Import one feed, then record its blocks' collisions with bookings. Never raises."""
    try:
        outcome = calendar_feed_sync(feed_id=feed_id)
    except Exception:  # noqa: BLE001 - one feed's failure must not stop the run
        logger.exception("calendar import crashed feed_id=%s", feed_id)
        try:
            calendar_feed_record_error(feed_id=feed_id, error=UNEXPECTED)
        except Exception:  # noqa: BLE001 - the database itself may be what failed
            logger.exception("calendar import: could not record the error feed_id=%s", feed_id)
        outcome = FeedSync(feed_id=feed_id, status="failed", error=UNEXPECTED)
    try:
        # Also after a 304 or a failure: the blocks already stored may meet a booking made since.
        calendar_collisions_record(feed_id=feed_id)
    except Exception:  # noqa: BLE001
        logger.exception("calendar collisions check failed feed_id=%s", feed_id)
    return outcome


# --- collisions --------------------------------------------------------------------------------


def calendar_collisions_record(*, feed_id: int, today: dt.date | None = None) -> list[int]:
    """Record each overlap of the feed's current blocks with an active booking; the ids of new ones.

    Three queries when nothing is new. Each new collision's email is enqueued once the
    transaction commits.
    """
    today = today or timezone.localdate()
    blocks = list(
        BlockedPeriod.objects.filter(feed_id=feed_id, end__gt=today).values_list("pk", "property_id", "start", "end")
    )
    if not blocks:
        return []
    property_id = blocks[0][1]
    bookings = list(
        active_bookings_overlapping(
            property_id=property_id,
            check_in=min(block[2] for block in blocks),
            check_out=max(block[3] for block in blocks),
        ).values_list("pk", "check_in", "check_out")
    )
    pairs = [
        (block_id, booking_id)
        for block_id, _, start, end in blocks
        for booking_id, check_in, check_out in bookings
        if start < check_out and end > check_in
    ]
    if not pairs:
        return []
    new_ids = []
    with transaction.atomic():
        known = set(
            CalendarCollision.objects.filter(blocked_period_id__in={block_id for block_id, _ in pairs}).values_list(
                "blocked_period_id", "booking_id"
            )
        )
        for block_id, booking_id in pairs:
            if (block_id, booking_id) in known:
                continue
            collision, created = CalendarCollision.objects.get_or_create(
                blocked_period_id=block_id, booking_id=booking_id
            )
            if created:
                new_ids.append(collision.pk)
                logger.warning(
                    "calendar collision feed_id=%s blocked_period_id=%s booking_id=%s", feed_id, block_id, booking_id
                )
        if new_ids:
            transaction.on_commit(lambda: _enqueue_notifications(new_ids))
    return new_ids


def _enqueue_notifications(collision_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for collision_id in collision_ids:
        async_task(NOTIFY_TASK, collision_id, task_name=f"calendar-collision-{collision_id}")


def _staff_emails() -> list[str]:
    staff = User.objects.filter(Q(role=User.Role.STAFF) | Q(is_superuser=True), is_active=True).exclude(email="")
    return sorted({email.lower() for email in staff.values_list("email", flat=True)})


def calendar_collision_notify(*, collision_id: int) -> int:
    """Email the listing's owner and staff about one collision, once. Returns how many got it.

    notified_at is set in the transaction that sends, under the row's lock: a second run
    finds it set and sends nothing; a failed send leaves it empty for django-q2's retry.
    """
    with transaction.atomic():
        collision = (
            CalendarCollision.objects.select_for_update(of=("self",))
            .select_related("booking", "blocked_period__property__owner", "blocked_period__feed")
            .filter(pk=collision_id)
            .first()
        )
        if collision is None or collision.notified_at is not None:
            return 0
        owner = collision.blocked_period.property.owner
        owner_email = owner.email if owner is not None and owner.is_active and owner.email else ""
        staff = [email for email in _staff_emails() if email != owner_email.lower()]
        if owner_email or staff:
            context = {
                "collision": collision,
                "block": collision.blocked_period,
                "booking": collision.booking,
                "property": collision.blocked_period.property,
                "feed": collision.blocked_period.feed,
                "owner": owner,
                "site_url": settings.WAGTAILADMIN_BASE_URL,
            }
            # Staff in Bcc: the owner is not shown the back office's addresses.
            # In the owner's language (User.language); staff read the owner's copy.
            subject, text, html = email_render("calendar_collision", context, owner.language if owner_email else "")
            message = EmailMultiAlternatives(
                subject=subject,
                body=text,
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[owner_email] if owner_email else [],
                bcc=staff,
            )
            message.attach_alternative(html, "text/html")
            message.send()
        collision.notified_at = timezone.now()
        collision.save(update_fields=["notified_at"])
    logger.info("calendar collision notified collision_id=%s recipients=%d", collision_id, len(staff) + bool(owner_email))
    return len(staff) + bool(owner_email)


# --- the dashboard -------------------------------------------------------------------------------


@dataclass
class CollisionBoard:
    rows: list
    count: int


def calendar_collisions_for_user(*, user, limit: int = 20, today: dt.date | None = None) -> CollisionBoard | None:
    """Collisions still standing (booking active, dates overlapping, not over) that `user` may
    see: staff all, an owner their own listings'. None for a user who sees no bookings."""
    if not booking_permission_policy.user_has_permission(user, "view"):
        return None
    today = today or timezone.localdate()
    standing = CalendarCollision.objects.filter(
        booking__status__in=ACTIVE_STATUSES,
        booking__check_in__lt=F("blocked_period__end"),
        booking__check_out__gt=F("blocked_period__start"),
        blocked_period__end__gt=today,
    )
    if not user_is_back_office_staff(user):
        standing = standing.filter(blocked_period__property__owner=user)
    rows = list(
        standing.select_related("booking", "blocked_period__property", "blocked_period__feed").order_by(
            "blocked_period__start", "pk"
        )[:limit]
    )
    count = len(rows) if len(rows) < limit else standing.count()
    return CollisionBoard(rows=rows, count=count)
