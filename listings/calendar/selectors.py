"""Reads for calendar sync, scoped to the user: staff see every listing, an owner their own,
and anything else is a 404, as if it did not exist."""

from django.db.models import QuerySet
from django.http import Http404

from listings.models import CalendarFeed, PropertyPage
from listings.permissions import sees_every_listing

# Page ids are 32-bit; a larger one in a URL matches nothing (SQLite would overflow).
MAX_ID = 2_147_483_647


def calendar_properties_for_user(user) -> QuerySet[PropertyPage]:
    """The listings whose calendar sync `user` manages: all for staff, their own for an owner."""
    if not (user.is_authenticated and user.is_active):
        return PropertyPage.objects.none()
    if sees_every_listing(user):
        return PropertyPage.objects.all()
    if getattr(user, "is_owner", False):
        return PropertyPage.objects.filter(owner=user)
    return PropertyPage.objects.none()


def calendar_property_get_for_user(*, user, property_id: int) -> PropertyPage:
    if not 0 < property_id <= MAX_ID:
        raise Http404
    page = calendar_properties_for_user(user).filter(pk=property_id).only("pk", "title", "owner_id").first()
    if page is None:
        raise Http404
    return page


def calendar_feeds_for_user(user) -> QuerySet[CalendarFeed]:
    return CalendarFeed.objects.filter(property__in=calendar_properties_for_user(user).values("pk"))


def calendar_feed_get_for_user(*, user, property_id: int, feed_id: int) -> CalendarFeed:
    if not (0 < property_id <= MAX_ID and 0 < feed_id <= MAX_ID):
        raise Http404
    feed = calendar_feeds_for_user(user).filter(pk=feed_id, property_id=property_id).first()
    if feed is None:
        raise Http404
    return feed


def calendar_feeds_of(*, property_id: int) -> list[CalendarFeed]:
    return list(CalendarFeed.objects.filter(property_id=property_id).order_by("pk"))
