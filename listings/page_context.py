"""Template context for the public pages. Reads only: every figure comes from selectors.

The templates only lay out what is computed here (quotes, calendar days, which
photo goes where); availability comes from listings.selectors, the same
selectors the API uses, so the site and the API can never disagree.

Query counts stay constant however many listings or photos there are: one query
for the page of results, one for their cover photos' renditions with the photos
joined in (Wagtail stores generated renditions in its table; fetching them up front
avoids one cache or database lookup per photo).
"""

import calendar
import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from wagtail.images import get_image_model

from listings.models import PropertyGalleryImage
from listings.pricing import PriceRules, Quote, nightly_prices, short_kes
# The search pages' context lives in listings.search_page; HomePage and ListingIndexPage
# reach it through this module (the names in __all__).
from listings.search_page import SearchForm, home_page_context, listing_index_context
from listings.selectors import property_unavailable_ranges

__all__ = [
    "availability_calendar", "home_page_context", "listing_index_context", "property_fragments",
    "property_page_context", "property_page_part_register", "stay_quote",
]

# Rendition specs: one list per place a photo appears. srcset lets the browser
# pick the smallest file that fills the slot on a phone or a laptop.
# The gallery's photos are WebP (about a third of the bytes of the same JPEG); the template's
# srcset_image tag asks for the same specs, so these prefetched renditions are the ones it uses.
GALLERY_SPECS = ("fill-480x320|format-webp", "fill-960x640|format-webp", "fill-1440x960|format-webp")
# Parts of a property page that are cached (see property_fragments): header and gallery,
# details, and the availability calendar.
PROPERTY_FRAGMENTS = {
    "top": "listings/includes/property_top.html",
    "details": "listings/includes/property_details.html",
    "calendar": "listings/includes/availability_calendar.html",
}
# Templates the fragments are made of: their source is part of the cache key, so a
# deploy that changes them never serves the old markup.
PROPERTY_FRAGMENT_INCLUDES = ("listings/includes/gallery.html", "listings/includes/amenity_icon.html")
FRAGMENT_TTL = 30 * 60
CALENDAR_MONTHS = 3


def stay_quote(*, rules: Callable[[], PriceRules], check_in: dt.date | None, check_out: dt.date | None) -> Quote | None:
    """What a stay would cost, as booking_create will charge it (listings.pricing), or None
    without valid dates. `rules` is called only when there is a stay to price, so a page
    without dates never reads the listing's seasons."""
    if not check_in or not check_out or check_out <= check_in:
        return None
    return rules().quote(check_in, check_out)


# --- Property page --------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarDay:
    """One day cell, with everything the template prints already worked out: the
    calendar has some ninety of them, and a template lookup or filter per detail
    per day was most of the page's render time."""

    date: dt.date
    state: str  # "past" | "taken" | "free"
    iso: str
    number: int
    label: str
    # The night's price, on free days of a listing whose prices vary (listings.pricing):
    # `price_text` for the cell ("6.5k"), `price_kind` "higher" or "lower" than the base price.
    price_text: str = ""
    price_kind: str = ""


CALENDAR_STATE_WORDS = {"past": _("past"), "taken": _("booked"), "free": _("available")}


def _calendar_bounds(today: dt.date, months: int) -> tuple[dt.date, dt.date]:
    start = today.replace(day=1)
    year, month = start.year, start.month + months
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return start, dt.date(year, month, 1)


def _clip_ranges(ranges, *, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The parts of half-open `ranges` inside [start, end)."""
    return [(max(first, start), min(last, end)) for first, last in ranges if first < end and last > start]


def availability_calendar(
    *, ranges, today: dt.date, months: int = CALENDAR_MONTHS, rules: PriceRules | None = None
) -> list[dict]:
    """The next `months` calendar months, each as weeks of days (None pads the first and last week).

    `ranges` are the merged half-open taken ranges from property_unavailable_ranges. With
    `rules` whose prices vary (a weekend price, seasons), each free day shows its night's
    price, from the same function that prices a booking.
    """
    start, end = _calendar_bounds(today, months)
    taken: set[dt.date] = set()
    for range_start, range_end in _clip_ranges(ranges, start=start, end=end):
        taken.update(range_start + dt.timedelta(days=n) for n in range((range_end - range_start).days))
    prices = nightly_prices(rules, start=max(today, start), end=end) if rules is not None and rules.varies else {}
    cal = calendar.Calendar(firstweekday=0)
    # Column heads in the active language: (full name, short name), Monday first.
    monday = start - dt.timedelta(days=start.weekday())
    weekdays = [
        (date_format(monday + dt.timedelta(days=n), "l"), date_format(monday + dt.timedelta(days=n), "D"))
        for n in range(7)
    ]
    result = []
    cursor = start
    while cursor < end:
        weeks = []
        for week in cal.monthdatescalendar(cursor.year, cursor.month):
            row = []
            for day in week:
                if day.month != cursor.month:
                    row.append(None)
                    continue
                state = "past" if day < today else "taken" if day in taken else "free"
                # "Friday 4 December 2026, available": what a screen reader says for the day.
                label = f"{date_format(day, 'l j F Y')}, {CALENDAR_STATE_WORDS[state]}"
                price = prices.get(day) if state == "free" else None
                if price is None:
                    row.append(CalendarDay(day, state, day.isoformat(), day.day, label))
                    continue
                kind = "higher" if price > rules.base else "lower" if price < rules.base else ""
                row.append(
                    CalendarDay(
                        day, state, day.isoformat(), day.day, _("%(day)s, KES %(price)s a night") % {"day": label, "price": f"{price:,}"},
                        short_kes(price), kind,
                    )
                )
            weeks.append(row)
        result.append({"title": date_format(cursor, "F Y"), "weekdays": weekdays, "weeks": weeks})
        cursor = (cursor + dt.timedelta(days=32)).replace(day=1)
    return result


def _property_gallery(page) -> list:
    """The photos in order, each image with its gallery renditions (two queries)."""
    renditions = get_image_model().get_rendition_model().objects.filter(filter_spec__in=GALLERY_SPECS)
    return list(
        PropertyGalleryImage.objects.filter(page=page)
        .order_by("sort_order", "pk")
        .select_related("image")
        .prefetch_related(Prefetch("image__renditions", queryset=renditions))
    )


def _approximate_location(page) -> dict | None:
    """Where the map's marker goes: the listing's coordinates rounded to two decimals (about a
    kilometre), so the page shows the area and never the house; the street address is given to
    confirmed guests only. None when the owner has not placed the listing on the map."""
    if page.latitude is None or page.longitude is None:
        return None
    return {"lat": f"{round(float(page.latitude), 2):.2f}", "lng": f"{round(float(page.longitude), 2):.2f}"}


def property_fragments(
    *, page, request, ranges, today: dt.date, price_rules: Callable[[], PriceRules] | None = None
) -> dict[str, str]:
    """The parts of a property page rendered once and then read from the cache, with a
    single cache call for all of them:

    - the header with the gallery, and the details (facts, description, amenities,
      host): they change only when the page is published, so they are cached under the
      page's cache_key, which includes last_published_at;
    - the availability calendar: it changes with every booking, so it is cached under
      what it shows, today's date and the taken ranges (`ranges`, which the page reads
      on every request anyway). A booking, a cancellation or a blocked period changes
      the ranges and so the key: the next request renders the new calendar, and no
      code that changes bookings needs to know this cache exists. Its nightly prices
      (`price_rules`, read only when the calendar is rendered) change when the page is
      published, so its key carries the page's cache_key too.

    Every key also carries a digest of the templates, so a deploy that changes them
    never serves the old markup. FRAGMENT_TTL bounds how long an edit outside the page
    (an image's alt text, the owner's name) takes to show.
    """
    start, end = _calendar_bounds(today, CALENDAR_MONTHS)
    calendar_ranges = _clip_ranges(ranges, start=start, end=end)

    def build(names) -> dict[str, str]:
        context = {}
        if {"top", "details"} & set(names):
            context = {
                "page": page,
                "gallery": _property_gallery(page),
                "amenities": list(page.amenities.all()),
                "owner_name": page.owner.name if page.owner_id else "",
                "map": _approximate_location(page),
            }
        if "calendar" in names:
            rules = price_rules() if price_rules is not None else None
            context["calendar_months"] = availability_calendar(ranges=calendar_ranges, today=today, rules=rules)
            context["calendar_prices"] = rules is not None and rules.varies
        return {name: render_to_string(PROPERTY_FRAGMENTS[name], context) for name in names}

    if getattr(request, "is_preview", False):
        return {name: mark_safe(html) for name, html in build(PROPERTY_FRAGMENTS).items()}
    version = _fragment_templates_digest() if settings.DEBUG else _fragment_templates_digest_cached()
    taken = hashlib.md5(
        ";".join(f"{first}/{last}" for first, last in calendar_ranges).encode(), usedforsecurity=False
    ).hexdigest()[:16]
    # The fragments are rendered in the visitor's language (English, or Kiswahili under /sw/).
    language = translation.get_language() or settings.LANGUAGE_CODE
    keys = {
        "top": f"nexus:property:{page.pk}:{page.cache_key}:{version}:{language}:top",
        "details": f"nexus:property:{page.pk}:{page.cache_key}:{version}:{language}:details",
        "calendar": f"nexus:property:{page.pk}:{page.cache_key}:calendar:{today.isoformat()}:{taken}:{version}:{language}",
    }
    found = cache.get_many(list(keys.values()))
    missing = [name for name, key in keys.items() if key not in found]
    if missing:
        built = build(missing)
        cache.set_many({keys[name]: html for name, html in built.items()}, FRAGMENT_TTL)
        found.update({keys[name]: html for name, html in built.items()})
    return {name: mark_safe(found[key]) for name, key in keys.items()}


def _fragment_templates_digest() -> str:
    sources = [
        get_template(name).template.source
        for name in (*PROPERTY_FRAGMENTS.values(), *PROPERTY_FRAGMENT_INCLUDES)
    ]
    return hashlib.md5("\0".join(sources).encode(), usedforsecurity=False).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def _fragment_templates_digest_cached() -> str:
    return _fragment_templates_digest()


# The booking box on a property page belongs to the app that takes bookings: reservations
# registers it at start-up (ReservationsConfig.ready()) as a function of (page=, request=,
# initial=) returning its part of the page context, so listings never imports it.
# `initial` is the stay carried from a search or a login redirect (_stay_initial).
PropertyPagePart = Callable[..., dict]
_property_page_parts: list[PropertyPagePart] = []


def property_page_part_register(part: PropertyPagePart) -> None:
    if part not in _property_page_parts:
        _property_page_parts.append(part)


def property_page_context(*, page, request) -> dict:
    today = timezone.localdate()
    # One read serves the calendar and the booking form's early warning, which looks
    # a year ahead (the server still decides when the booking is made).
    start, calendar_end = _calendar_bounds(today, CALENDAR_MONTHS)
    ranges = property_unavailable_ranges(property=page, start=start, end=max(calendar_end, today + dt.timedelta(days=366)))
    initial = _stay_initial(request, page)
    # The listing's seasons are read at most once, and only when something shows prices:
    # a quote for dates carried in the URL, or a calendar not in the cache.
    price_rules = functools.cache(page.price_rules)
    context = {
        "fragments": property_fragments(
            page=page, request=request, ranges=ranges, today=today, price_rules=price_rules
        ),
        "unavailable_ranges": [[a.isoformat(), b.isoformat()] for a, b in ranges if b > today],
        "quote": stay_quote(rules=price_rules, check_in=initial.get("check_in"), check_out=initial.get("check_out")),
        "bookable": page.availability_status == page.AvailabilityStatus.AVAILABLE,
        "booking_script_config": {
            "pricePerNight": page.price_per_night,
            "minNights": page.min_nights,
            "maxNights": page.max_nights,
            "maxGuests": page.max_guests,
            # The live estimate asks the server (listings.apis.PropertyQuoteApi), which prices
            # with the same function as the booking: the browser never works out a price.
            "quoteUrl": reverse("property-quote", args=[page.pk]),
        },
    }
    for part in _property_page_parts:
        context.update(part(page=page, request=request, initial=initial))
    return context


def _stay_initial(request, page) -> dict:
    """Dates and party size carried from a search or a login redirect, if they make sense."""
    initial: dict = {"guests": 1}
    form = SearchForm(request.GET or None)
    filters = form.filters()
    if "check_in" in filters:
        initial["check_in"] = filters["check_in"]
        initial["check_out"] = filters["check_out"]
    if filters.get("guests") and filters["guests"] <= page.max_guests:
        initial["guests"] = filters["guests"]
    return initial
