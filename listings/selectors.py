"""Reads for listings: public search, one listing, and which nights are taken.

Availability is a NOT EXISTS anti-join against active bookings and blocked
periods. Each probe is "this property, a stay overlapping [check_in, check_out)":
PostgreSQL answers it from the GiST index behind the exclusion constraint
(property_id =, daterange &&), SQLite from the (property, check_in, check_out)
btree. Either way the cost per listing is one index probe, and a paginated page
stops after its first rows, so the search stays flat as bookings grow.
"""

import datetime as dt

from django.contrib.postgres.fields import DateRangeField
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Exists, F, Func, OuterRef, Prefetch, Q, QuerySet, Value
from django.shortcuts import get_object_or_404
from wagtail.images import get_image_model

from listings.models import BlockedPeriod, PropertyGalleryImage, PropertyPage
from reservations.models import ACTIVE_STATUSES, Booking

# Rendition filter specs used by the API and the public pages: fixed, so they can be
# prefetched in one query and generated once per image.
THUMBNAIL_SPEC = "fill-480x320"
PHOTO_SPEC = "max-1600x1200"


def _daterange(start, end):
    return Func(start, end, Value("[)"), function="daterange", output_field=DateRangeField())


def _overlapping(queryset: QuerySet, *, start_field: str, end_field: str, start: dt.date, end: dt.date) -> QuerySet:
    """Rows whose half-open [start_field, end_field) overlaps [start, end).

    On PostgreSQL the test is written as `daterange(...) && daterange(...)`, the exact
    expression of the GiST index, so the planner can use it; elsewhere as the two
    comparisons the btree index serves.
    """
    if connection.vendor == "postgresql":
        return queryset.alias(stay=_daterange(F(start_field), F(end_field))).filter(
            stay__overlap=DateRange(start, end, "[)")
        )
    return queryset.filter(**{f"{start_field}__lt": end, f"{end_field}__gt": start})


def active_bookings_overlapping(*, property_id, check_in: dt.date, check_out: dt.date) -> QuerySet[Booking]:
    """Active (date-holding) bookings of a property that overlap the stay. `property_id` may be an OuterRef."""
    queryset = Booking.objects.filter(property_id=property_id, status__in=ACTIVE_STATUSES)
    return _overlapping(queryset, start_field="check_in", end_field="check_out", start=check_in, end=check_out)


def blocked_periods_overlapping(*, property_id, check_in: dt.date, check_out: dt.date) -> QuerySet[BlockedPeriod]:
    queryset = BlockedPeriod.objects.filter(property_id=property_id)
    return _overlapping(queryset, start_field="start", end_field="end", start=check_in, end=check_out)


def _gallery_prefetch() -> Prefetch:
    """Gallery images in order, each with its image and the renditions the API uses (2 queries in all)."""
    rendition_model = get_image_model().get_rendition_model()
    return Prefetch(
        "gallery_images",
        queryset=PropertyGalleryImage.objects.order_by("sort_order", "id")
        .select_related("image")
        .prefetch_related(
            Prefetch(
                "image__renditions",
                queryset=rendition_model.objects.filter(filter_spec__in=[THUMBNAIL_SPEC, PHOTO_SPEC]),
            )
        ),
    )


def property_with_details(queryset: QuerySet[PropertyPage]) -> QuerySet[PropertyPage]:
    """Add what the API shows (owner, amenities, gallery with renditions) in a fixed number of queries."""
    return queryset.select_related("owner").prefetch_related(Prefetch("amenities"), _gallery_prefetch())


def property_list_available(
    *,
    check_in: dt.date | None = None,
    check_out: dt.date | None = None,
    guests: int | None = None,
    location: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
) -> QuerySet[PropertyPage]:
    """Live, available listings matching the search, in the index's order.

    With both dates, only listings free for every night of [check_in, check_out):
    no active booking and no blocked period overlaps the stay.
    """
    queryset = PropertyPage.objects.live().filter(availability_status=PropertyPage.AvailabilityStatus.AVAILABLE)
    if guests is not None:
        queryset = queryset.filter(max_guests__gte=guests)
    if location:
        location = location.strip()
        queryset = queryset.filter(Q(town__icontains=location) | Q(area__icontains=location))
    if min_price is not None:
        queryset = queryset.filter(price_per_night__gte=min_price)
    if max_price is not None:
        queryset = queryset.filter(price_per_night__lte=max_price)
    if check_in is not None and check_out is not None:
        queryset = queryset.filter(
            ~Exists(active_bookings_overlapping(property_id=OuterRef("pk"), check_in=check_in, check_out=check_out)),
            ~Exists(blocked_periods_overlapping(property_id=OuterRef("pk"), check_in=check_in, check_out=check_out)),
        )
    return queryset.order_by("path")


# Page ids are 32-bit. Django does not range-check a lookup through the page_ptr
# one-to-one key, and SQLite raises OverflowError on a larger integer: such an id
# simply matches nothing.
MAX_PAGE_ID = 2_147_483_647


def property_live_queryset(*, property_id: int) -> QuerySet[PropertyPage]:
    """The live listing with this id (available or not), or an empty queryset."""
    if not 0 < property_id <= MAX_PAGE_ID:
        return PropertyPage.objects.none()
    return PropertyPage.objects.live().filter(pk=property_id)


def property_get_public(*, property_id: int, details: bool = True) -> PropertyPage:
    """One live listing (available or not); 404 for unknown or unpublished ones.

    With `details`, its owner, amenities and gallery come prefetched.
    """
    queryset = property_live_queryset(property_id=property_id)
    return get_object_or_404(property_with_details(queryset) if details else queryset)


def property_unavailable_ranges(*, property, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The nights of [start, end) taken by active bookings or blocked periods.

    Returned as merged, sorted, half-open (start, end) ranges clipped to the window;
    ranges that touch (one ends the day the next begins) are merged too. No guest data.
    """
    if end <= start:
        return []
    property_id = getattr(property, "pk", property)
    spans = list(
        active_bookings_overlapping(property_id=property_id, check_in=start, check_out=end).values_list(
            "check_in", "check_out"
        )
    )
    spans += list(
        blocked_periods_overlapping(property_id=property_id, check_in=start, check_out=end).values_list("start", "end")
    )
    merged: list[list[dt.date]] = []
    for span_start, span_end in sorted((max(s, start), min(e, end)) for s, e in spans):
        if merged and span_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span_end)
        else:
            merged.append([span_start, span_end])
    return [(s, e) for s, e in merged]


def property_rendition_url(image, spec: str) -> str:
    """URL of a rendition; generated (once) when it does not exist yet.

    get_renditions() rather than get_rendition(): the latter writes every rendition to
    the cache on every call, prefetched or not (5 queries and a commit each with the
    database cache); the former uses the prefetched rows as they are.
    """
    return image.get_renditions(spec)[spec].url


def property_thumbnail_url(page: PropertyPage) -> str | None:
    """The first gallery photo as a thumbnail, from the prefetched gallery when there is one."""
    gallery = list(page.gallery_images.all())
    if not gallery:
        return None
    return property_rendition_url(gallery[0].image, THUMBNAIL_SPEC)


def property_photo_urls(page: PropertyPage) -> list[str]:
    return [property_rendition_url(item.image, PHOTO_SPEC) for item in page.gallery_images.all()]
