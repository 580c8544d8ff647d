"""Reads for listings: public search, one listing, and which nights are taken.

Availability is a NOT EXISTS anti-join against active bookings and blocked
periods. Each probe is "this property, a stay overlapping [check_in, check_out)":
PostgreSQL answers it from the GiST index behind the exclusion constraint
(property_id =, daterange &&), SQLite from the (property, check_in, check_out)
btree. Either way the cost per listing is one index probe, and a paginated page
stops after its first rows, so the search stays flat as bookings grow.

Counting every free listing is the opposite case: a probe per listing makes it linear
in listings with a large constant. property_count_available asks the question the
other way round ("which properties have an overlapping stay?"), answered once from
the index on the date range alone, and counts the listings not in that set.

What takes a listing's nights besides its blocked periods belongs to higher apps:
reservations registers its active bookings as an Occupancy at start-up
(ReservationsConfig.ready()), so listings never imports bookings.
"""

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.fields import DateRangeField
from django.contrib.postgres.lookups import Overlap
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Exists, F, Func, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, reverse
from wagtail.coreutils import WAGTAIL_APPEND_SLASH
from wagtail.images import get_image_model
from wagtail.images.models import Filter
from wagtail.models import Page, Site

from listings.models import Amenity, BlockedPeriod, PropertyGalleryImage, PropertyPage, PropertySeasonalPrice
from listings.pricing import PriceRules, Season
from listings.search_sql import compiled_search

# Rendition filter specs used by the API and the public pages: fixed, so they can be
# prefetched in one query and generated once per image.
THUMBNAIL_SPEC = "fill-480x320"
PHOTO_SPEC = "max-1600x1200"


def _daterange(start, end):
    return Func(start, end, Value("[)"), function="daterange", output_field=DateRangeField())


def overlap_condition(*, start_field: str, end_field: str, start: dt.date, end: dt.date):
    """The condition "half-open [start_field, end_field) overlaps [start, end)", for filter().

    On PostgreSQL the test is written as `daterange(...) && daterange(...)`, the exact
    expression of the GiST index, so the planner can use it; elsewhere as the two
    comparisons the btree index serves. A lookup object rather than alias() + filter():
    a search builds several of these, and each extra queryset clone is measurable there.
    """
    if connection.vendor == "postgresql":
        return Overlap(
            _daterange(F(start_field), F(end_field)),
            Value(DateRange(start, end, "[)"), output_field=DateRangeField()),
        )
    return Q(**{f"{start_field}__lt": end, f"{end_field}__gt": start})


def overlapping(queryset: QuerySet, *, start_field: str, end_field: str, start: dt.date, end: dt.date) -> QuerySet:
    """Rows whose half-open [start_field, end_field) overlaps [start, end)."""
    return queryset.filter(overlap_condition(start_field=start_field, end_field=end_field, start=start, end=end))


@dataclass(frozen=True)
class Occupancy:
    """Rows that take a listing's nights: `rows()` gives every such row of any listing, each
    holding [start_field, end_field) of the listing in property_field.

    refuses_block(property_id=, start=, end=), if given, says why nights may not be blocked
    (a blocked period over them), or returns None.
    """

    rows: Callable[[], QuerySet]
    start_field: str
    end_field: str
    property_field: str = "property_id"
    refuses_block: Callable[..., str | None] | None = None

    def overlapping(self, *, property_id, check_in: dt.date, check_out: dt.date) -> QuerySet:
        """This listing's rows that overlap the stay. `property_id` may be an OuterRef."""
        return self.rows().filter(
            Q(**{self.property_field: property_id}),
            overlap_condition(start_field=self.start_field, end_field=self.end_field, start=check_in, end=check_out),
        )


BLOCKED_PERIODS = Occupancy(rows=BlockedPeriod.objects.all, start_field="start", end_field="end")
_occupancies: list[Occupancy] = []


def occupancy_register(occupancy: Occupancy) -> None:
    """Add what another app holds nights with (reservations: active bookings) to availability."""
    if occupancy not in _occupancies:
        _occupancies.append(occupancy)


def _night_takers() -> list[Occupancy]:
    # The registered ones first (bookings), as the queries were written before the split.
    return [*_occupancies, BLOCKED_PERIODS]


def night_takers() -> list[Occupancy]:
    """Every occupancy: the registered ones (bookings), then blocked periods (the calendar export reads them all)."""
    return _night_takers()


def blocked_period_refusals(*, property_id, start: dt.date, end: dt.date) -> list[str]:
    """Why nights [start, end) of a listing may not be blocked: one message per registered
    occupancy that refuses (reservations: bookings already hold some of those nights)."""
    refusals = []
    for taker in _occupancies:
        refusal = taker.refuses_block(property_id=property_id, start=start, end=end) if taker.refuses_block else None
        if refusal:
            refusals.append(refusal)
    return refusals


def blocked_periods_overlapping(*, property_id, check_in: dt.date, check_out: dt.date) -> QuerySet[BlockedPeriod]:
    return BLOCKED_PERIODS.overlapping(property_id=property_id, check_in=check_in, check_out=check_out)


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


def _property_filters(
    *,
    guests: int | None,
    location: str | None,
    min_price: int | None,
    max_price: int | None,
    amenities=None,
) -> Q:
    """The search filters but the dates, on PropertyPage's own columns (no join to wagtailcore_page).

    `amenities` (ids) means "has every one of them": one EXISTS per amenity, each a probe of
    the through table's unique (propertypage, amenity) index, rather than a join that would
    repeat each listing once per matching amenity.
    """
    filters = Q(availability_status=PropertyPage.AvailabilityStatus.AVAILABLE)
    if guests is not None:
        filters &= Q(max_guests__gte=guests)
    if location:
        location = location.strip()
        filters &= Q(town__icontains=location) | Q(area__icontains=location)
    if min_price is not None:
        filters &= Q(price_per_night__gte=min_price)
    if max_price is not None:
        filters &= Q(price_per_night__lte=max_price)
    through = PropertyPage.amenities.through
    for amenity_id in sorted(set(amenities or ())):
        filters &= Q(Exists(through.objects.filter(propertypage_id=OuterRef("pk"), amenity_id=amenity_id)))
    return filters


# The orders a search can be sorted by ("" = recommended: the index's own order, as the
# listings were arranged in Wagtail). Ties fall back to that order, so pages never overlap.
SEARCH_SORTS = {
    "": ("path",),
    "price": ("price_per_night", "path"),
    "-price": ("-price_per_night", "path"),
    "newest": ("-first_published_at", "path"),
}


def property_list_available(
    *,
    check_in: dt.date | None = None,
    check_out: dt.date | None = None,
    guests: int | None = None,
    location: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    amenities=None,
    sort: str = "",
) -> QuerySet[PropertyPage]:
    """Live, available listings matching the search, in the index's order or by `sort`
    (a key of SEARCH_SORTS; an unknown one is a programming error, the forms refuse it).

    With both dates, only listings free for every night of [check_in, check_out):
    no active booking and no blocked period overlaps the stay. With `amenities`, only
    listings that have all of them.
    """
    filters = _property_filters(
        guests=guests, location=location, min_price=min_price, max_price=max_price, amenities=amenities
    )
    conditions = [Q(live=True), filters]
    if check_in is not None and check_out is not None:
        conditions += [
            ~Exists(taker.overlapping(property_id=OuterRef("pk"), check_in=check_in, check_out=check_out))
            for taker in _night_takers()
        ]
    # One filter() call: each call clones the query, a measurable part of a search.
    return PropertyPage.objects.filter(*conditions).order_by(*SEARCH_SORTS[sort or ""])


def _available_for_count(
    *,
    check_in: dt.date | None = None,
    check_out: dt.date | None = None,
    guests: int | None = None,
    location: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    amenities=None,
    sort: str = "",
) -> QuerySet[PropertyPage]:
    """The listings property_list_available() returns, written for counting them cheaply.

    Every condition is a test on the listing's own row, so PostgreSQL makes one pass over
    listings_propertypage and nothing else per listing: the dates as `id NOT IN
    (properties with an overlapping active booking or block)`, and "live" as `id NOT IN
    (pages not live)`, a short list, rather than a join to every page. The subqueries do
    not depend on the listing, so each runs once into a hash ("hashed SubPlan"; a NOT IN
    is never turned back into a per-listing anti-join), the bookings one from the GiST
    index on the stay's date range alone. Measured at 10,000 listings and 200,000
    bookings: ~11 ms instead of ~22 ms for the NOT EXISTS query's count. SQLite likewise
    builds each list once. The ids in the lists are never NULL, so NOT IN means what it says.
    """
    conditions = [
        _property_filters(guests=guests, location=location, min_price=min_price, max_price=max_price, amenities=amenities),
        ~Q(pk__in=Page.objects.filter(live=False).values("pk")),
    ]
    if check_in is not None and check_out is not None:
        for taker in _night_takers():
            taken = overlapping(
                taker.rows(), start_field=taker.start_field, end_field=taker.end_field, start=check_in, end=check_out
            ).values(taker.property_field)
            conditions.append(~Q(pk__in=taken))
    return PropertyPage.objects.filter(*conditions)


def _compiled_sql(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


def _count_sql(filters: dict) -> tuple[str, tuple]:
    sql, params = _compiled_sql(_available_for_count(**filters).order_by().values("pk"))
    return f"SELECT COUNT(*) FROM ({sql}) matching", params


def _page_sql(filters: dict) -> tuple[str, tuple]:
    return _compiled_sql(property_list_summaries(property_list_available(**filters)))


def property_count_available(**filters) -> int:
    """How many listings property_list_available(**filters) returns, in one cheap query
    (see _available_for_count), from SQL compiled once per shape of search (listings/search_sql.py)."""
    compiled = compiled_search("count", filters, compile=_count_sql, context=tuple(_night_takers()))
    if compiled is None:
        return _available_for_count(**filters).count()
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, compiled.params_for(filters))
        return cursor.fetchone()[0]


def property_search_page(filters: dict, *, offset: int, limit: int) -> list[PropertyPage]:
    """Listings [offset, offset + limit) of property_list_summaries(property_list_available(**filters)),
    from SQL compiled once per shape of search (listings/search_sql.py)."""
    compiled = compiled_search("page", filters, compile=_page_sql, context=tuple(_night_takers()))
    if compiled is None:
        return list(property_list_summaries(property_list_available(**filters))[offset:offset + limit])
    # Not a prepared statement (core.prepared): its generic plan would take the booking
    # statuses for parameters and could no longer use the partial index of active stays.
    sql = f"{compiled.sql} LIMIT %s OFFSET %s"
    return list(PropertyPage.objects.raw(sql, [*compiled.params_for(filters), limit, offset]))


@dataclass(frozen=True)
class PropertySearchResults:
    """A search's results as Django's Paginator takes them: counted by count(), and sliced into
    one page at a time (property_search_page), each listing with only its summary columns."""

    filters: dict
    ordered = True  # by SEARCH_SORTS: Django's Paginator warns about unordered lists

    def count(self) -> int:
        return property_count_available(**self.filters)

    def __getitem__(self, key: slice) -> list[PropertyPage]:
        start, stop = key.start or 0, key.stop
        if key.step is not None or stop is None or start < 0 or stop < start:
            raise TypeError("Only slices [start:stop] of a search are supported.")
        return property_search_page(self.filters, offset=start, limit=stop - start)


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
    spans = []
    for taker in _night_takers():
        rows = taker.overlapping(property_id=property_id, check_in=start, check_out=end)
        spans += list(rows.values_list(taker.start_field, taker.end_field))
    merged: list[list[dt.date]] = []
    for span_start, span_end in sorted((max(s, start), min(e, end)) for s, e in spans):
        if merged and span_start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], span_end)
        else:
            merged.append([span_start, span_end])
    return [(s, e) for s, e in merged]


def property_price_rules(*, property: PropertyPage, start: dt.date, end: dt.date) -> PriceRules:
    """The listing's price rules with the seasons that touch the nights [start, end) (one query)."""
    return property_price_rules_many([property], start=start, end=end)[property.pk]


def property_price_rules_many(properties, *, start: dt.date, end: dt.date) -> dict[int, PriceRules]:
    """Each listing's price rules (by id) for pricing nights of [start, end): one query for
    the seasons of all of them (a page of search results), none when `properties` is empty."""
    properties = list(properties)
    seasons: dict[int, list[Season]] = {prop.pk: [] for prop in properties}
    if seasons:
        rows = PropertySeasonalPrice.objects.filter(page_id__in=list(seasons), start__lt=end, end__gt=start)
        for page_id, first, last, price, label in rows.values_list("page_id", "start", "end", "price_per_night", "label"):
            seasons[page_id].append(Season(start=first, end=last, price=price, label=label))
    return {prop.pk: prop.price_rules(seasons=seasons[prop.pk]) for prop in properties}


def property_rendition_url(image, spec: str) -> str:
    """URL of a rendition; generated (once) when it does not exist yet.

    get_renditions() rather than get_rendition(): the latter writes every rendition to
    the cache on every call, prefetched or not (5 queries and a commit each with the
    database cache); the former uses the prefetched rows as they are.
    """
    return image.get_renditions(_image_filter(spec))[spec].url


@functools.cache
def _image_filter(spec: str) -> Filter:
    # One Filter per spec for the process: a Filter parses its spec on first use and keeps
    # the result, which a fresh Filter("fill-480x320") per photo would parse again.
    return Filter(spec=spec)


def property_list_with_cover_ids(properties: QuerySet[PropertyPage]) -> QuerySet[PropertyPage]:
    """Annotate `cover_image_id`, the first gallery photo, in the same query as the listings.

    Prefetches already on the queryset are dropped: a list shows one photo per listing,
    and prefetching whole galleries (ten photos, each with its renditions) costs more
    than the rest of a search.
    """
    first_photo = (
        PropertyGalleryImage.objects.filter(page=OuterRef("pk")).order_by("sort_order", "pk").values("image_id")[:1]
    )
    return properties.prefetch_related(None).annotate(cover_image_id=Subquery(first_photo))


def property_attach_covers(properties, *, specs) -> list[PropertyPage]:
    """Set `cover` on each listing of `property_list_with_cover_ids`: its image (or None), with
    its renditions for `specs` prefetched as Wagtail's prefetch_renditions() would.

    One query once the renditions exist: the renditions with their images joined in,
    rather than the images and then their renditions. An image none of whose renditions
    exist yet (its first showing) is fetched on its own, and get_renditions() then makes them.
    """
    properties = list(properties)
    image_ids = {prop.cover_image_id for prop in properties if prop.cover_image_id}
    images: dict[int, object] = {}
    if image_ids:
        rendition_model = get_image_model().get_rendition_model()
        renditions = rendition_model.objects.filter(image_id__in=image_ids, filter_spec__in=specs)
        for rendition in renditions.select_related("image"):
            image = images.setdefault(rendition.image_id, rendition.image)
            if not hasattr(image, "prefetched_renditions"):
                image.prefetched_renditions = []
            rendition.image = image
            image.prefetched_renditions.append(rendition)
        if len(images) < len(image_ids):
            for image in get_image_model().objects.filter(pk__in=image_ids - images.keys()):
                image.prefetched_renditions = []
                images[image.pk] = image
    for prop in properties:
        prop.cover = images.get(prop.cover_image_id)
    return properties


# The columns a search result shows (docs/api.md "Properties"); url_path gives its URL.
PROPERTY_SUMMARY_FIELDS = ("title", "slug", "url_path", "town", "area", "price_per_night", "max_guests", "min_nights")


def property_list_summaries(properties: QuerySet[PropertyPage]) -> QuerySet[PropertyPage]:
    """Only what a search result shows, with its cover photo's id: a Wagtail page row has some
    thirty columns, and loading them all is a measurable part of a search."""
    return property_list_with_cover_ids(properties).only(*PROPERTY_SUMMARY_FIELDS)


def property_attach_summaries(properties, *, cover_specs) -> list[PropertyPage]:
    """Set `cover` (see property_attach_covers) and `amenity_names` (sorted) on each listing.

    Two queries in all once the thumbnails exist. The amenity names come as plain pairs rather than through
    prefetch_related("amenities"), whose modelcluster manager costs more per listing
    than the query itself.
    """
    properties = property_attach_covers(properties, specs=cover_specs)
    names: dict[int, list[str]] = {prop.pk: [] for prop in properties}
    if names:
        pairs = (
            PropertyPage.amenities.through.objects.filter(propertypage_id__in=list(names))
            .order_by("amenity__name")
            .values_list("propertypage_id", "amenity__name")
        )
        for property_id, name in pairs:
            names[property_id].append(name)
    for prop in properties:
        prop.amenity_names = names[prop.pk]
    return properties


def property_thumbnail_url(page: PropertyPage) -> str | None:
    """The first gallery photo as a thumbnail, from the prefetched gallery when there is one."""
    gallery = list(page.gallery_images.all())
    if not gallery:
        return None
    return property_rendition_url(gallery[0].image, THUMBNAIL_SPEC)


def property_photo_urls(page: PropertyPage) -> list[str]:
    return [property_rendition_url(item.image, PHOTO_SPEC) for item in page.gallery_images.all()]


def page_url_resolver(request) -> Callable[[Page], str | None]:
    """A function giving each page the URL `page.get_url(request)` gives it, for many pages of one request.

    page.get_url() re-derives the site for every page (and looks the current site up
    in the database once per request even on a one-site install). Here the site root
    paths (cached by Wagtail) are read once, the current site only when there is more
    than one site, and each page costs a prefix test and a reverse(). Same rules as
    Wagtail's Page.get_url_parts/get_url, including that the multi-site preference for
    the current site applies only to a Django HttpRequest (a DRF Request is not one).
    Pages that route themselves, or a multilingual setup, go through get_url().
    """
    if getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        return lambda page: page.get_url(request=request)
    root_paths = Site.get_site_root_paths()
    site_ids = {root.site_id for root in root_paths}
    current_site = Site.find_for_request(request) if request is not None and len(site_ids) > 1 else None
    current_site_id = current_site.pk if current_site is not None else None
    prefer_current_site = isinstance(request, HttpRequest)

    def url(page: Page) -> str | None:
        if type(page).get_url_parts is not Page.get_url_parts or type(page).get_url is not Page.get_url:
            return page.get_url(request=request)
        relevant = [root for root in root_paths if page.url_path.startswith(root.root_path)]
        if not relevant:
            return None
        chosen = relevant[0]
        if prefer_current_site and current_site_id is not None and len({root.site_id for root in relevant}) > 1:
            chosen = next((root for root in relevant if root.site_id == current_site_id), chosen)
        try:
            page_path = reverse("wagtail_serve", args=(page.url_path[len(chosen.root_path):],))
        except NoReverseMatch:
            return None
        if not WAGTAIL_APPEND_SLASH and page_path != "/":
            page_path = page_path.rstrip("/")
        if chosen.site_id == current_site_id or len(site_ids) == 1:
            return page_path
        return chosen.root_url + page_path

    return url


def amenity_list() -> list:
    """Every amenity, by name: the search's checkboxes and the API's check of amenity ids."""
    return list(Amenity.objects.order_by("name").only("id", "name", "icon"))
