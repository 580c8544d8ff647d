"""The search: its form (home and listing pages) and the listing page's results, map and pages.

Reads only, through listings.selectors, the same selectors GET /api/properties/ uses, so
the site and the API never disagree about what a search finds.

A search with a mistake in it (check-out before check-in, a lowest price above the highest,
an unknown sort...) shows its errors and no results: showing every listing instead would
look like an answer to the question the guest asked.

Query count (warm page, photos' renditions made): the amenities for the checkboxes, the
page of results with their cover ids, the count, the covers' renditions, and the seasons
when there are dates; flat however many listings or filters there are.
"""

from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy as _, ngettext

from listings.models import ListingIndexPage
from listings.selectors import (
    SEARCH_SORTS,
    amenity_list,
    property_attach_covers,
    property_list_available,
    property_list_with_cover_ids,
    property_price_rules_many,
)

# Rendition specs of a card's photo, WebP (about a third of a JPEG's bytes): 480 px wide
# for one column on a phone, 960 for a 2x screen. The template's srcset_image asks for the
# same specs, so these prefetched renditions are the ones it uses. The API's thumbnail
# (listings.selectors.THUMBNAIL_SPEC) stays a JPEG: API clients did not ask for WebP, and
# a format change under an unchanged field would surprise them.
CARD_SPECS = ("fill-480x320|format-webp", "fill-960x640|format-webp")
RESULTS_PER_PAGE = 12
FEATURED_COUNT = 6
MAX_SEARCH_GUESTS = 50
# Whole shillings; the bound keeps a typed number inside the database column.
MAX_SEARCH_PRICE = 2_147_483_647
MAX_SEARCH_AMENITIES = 20

SORT_LABELS = {
    "": _("Recommended"),
    "price": _("Price: low to high"),
    "-price": _("Price: high to low"),
    "newest": _("Newest"),
}
# The filters beyond where/when/who: shown on the listing page, not in the home page's box.
MORE_FILTERS = ("price_min", "price_max", "amenities", "sort")


class SearchForm(forms.Form):
    """The search box (GET). Same filters as GET /api/properties/.

    `with_filters`: also price range, amenities and sort (the listing page). Without it
    (home page, a property page reading the stay from its URL) no amenity is read.
    """

    location = forms.CharField(
        label=_("Where"), required=False, max_length=80,
        widget=forms.TextInput(attrs={"placeholder": _("Town or area, e.g. Diani"), "autocomplete": "off"}),
    )
    check_in = forms.DateField(
        label=_("Check-in"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    check_out = forms.DateField(
        label=_("Check-out"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    guests = forms.IntegerField(
        label=_("Guests"), required=False, min_value=1, max_value=MAX_SEARCH_GUESTS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "1"}),
    )
    price_min = forms.IntegerField(
        label=_("Min price per night (KES)"), required=False, min_value=0, max_value=MAX_SEARCH_PRICE,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "100"}),
    )
    price_max = forms.IntegerField(
        label=_("Max price per night (KES)"), required=False, min_value=0, max_value=MAX_SEARCH_PRICE,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "step": "100"}),
    )
    amenities = forms.TypedMultipleChoiceField(
        label=_("Amenities"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple,
    )
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=list(SORT_LABELS.items()))

    def __init__(self, *args, with_filters: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate().isoformat()
        self.fields["check_in"].widget.attrs["min"] = today
        self.fields["check_out"].widget.attrs["min"] = today
        self.with_filters = with_filters
        if with_filters:
            self.amenity_objects = amenity_list()
            self.fields["amenities"].choices = [(amenity.pk, amenity.name) for amenity in self.amenity_objects]
        else:
            for name in MORE_FILTERS:
                del self.fields[name]

    def basic_fields(self):
        return [self[name] for name in ("location", "check_in", "check_out", "guests")]

    def more_fields(self):
        return [self[name] for name in MORE_FILTERS if name in self.fields]

    def clean_amenities(self):
        amenities = self.cleaned_data.get("amenities") or []
        if len(amenities) > MAX_SEARCH_AMENITIES:
            raise forms.ValidationError(gettext("Choose at most %(count)d amenities.") % {"count": MAX_SEARCH_AMENITIES})
        return amenities

    def clean(self):
        cleaned = super().clean()
        check_in, check_out = cleaned.get("check_in"), cleaned.get("check_out")
        if check_in and check_in < timezone.localdate():
            self.add_error("check_in", gettext("Check-in can't be in the past."))
        elif check_in and not check_out and "check_out" not in self.errors:
            self.add_error("check_out", gettext("Choose a check-out date too."))
        elif check_out and not check_in and "check_in" not in self.errors:
            self.add_error("check_in", gettext("Choose a check-in date too."))
        elif check_in and check_out and check_out <= check_in:
            self.add_error("check_out", gettext("Check-out must be after check-in."))
        low, high = cleaned.get("price_min"), cleaned.get("price_max")
        if low is not None and high is not None and high < low:
            self.add_error("price_max", gettext("The highest price must be at least the lowest price."))
        return cleaned

    def filters(self) -> dict:
        """The valid filters only: a mistake in one field doesn't throw away the others.

        (The property page reads the stay this way. The listing page shows no results
        at all for an invalid search: see listing_index_context.)
        """
        if not self.is_bound:
            return {}
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        filters = {}
        if data.get("location"):
            filters["location"] = data["location"].strip()
        if data.get("guests"):
            filters["guests"] = data["guests"]
        if data.get("check_in") and data.get("check_out") and not ({"check_in", "check_out"} & set(self.errors)):
            filters["check_in"] = data["check_in"]
            filters["check_out"] = data["check_out"]
        if not ({"price_min", "price_max"} & set(self.errors)):
            if data.get("price_min") is not None:
                filters["min_price"] = data["price_min"]
            if data.get("price_max") is not None:
                filters["max_price"] = data["price_max"]
        if data.get("amenities"):
            filters["amenities"] = data["amenities"]
        if data.get("sort") in SEARCH_SORTS and data.get("sort"):
            filters["sort"] = data["sort"]
        return filters


def _search_results_url(page) -> str:
    if isinstance(page, ListingIndexPage):
        return page.url
    index = page.get_children().live().type(ListingIndexPage).first() if page else None
    return index.url if index else "/stays/"


def home_page_context(*, page, request) -> dict:
    newest = property_list_with_cover_ids(property_list_available()).order_by("-first_published_at", "-pk")
    featured = newest[:FEATURED_COUNT]
    return {
        "search_form": SearchForm(),
        "search_url": _search_results_url(page),
        "featured": property_attach_covers(featured, specs=CARD_SPECS),
    }


def _map_points(listings, listing_query: str) -> list[dict]:
    """What the results map shows, one point per listing on this page with coordinates."""
    points = []
    for listing in listings:
        if listing.latitude is None or listing.longitude is None:
            continue
        url = listing.url + (f"?{listing_query}" if listing_query else "")
        points.append({
            "id": listing.pk,
            "title": listing.title,
            "url": url,
            "lat": float(listing.latitude),
            "lng": float(listing.longitude),
            "price": f"KES {listing.price_per_night:,}",
        })
    return points


def _summary(count: int, filters: dict) -> str:
    """The results heading, e.g. "3 stays in “Diani” free Fri 4 Dec – Mon 7 Dec 2026 for 2 guests"."""
    parts = [ngettext("%(count)s stay", "%(count)s stays", count) % {"count": f"{count:,}"}]
    if filters.get("location"):
        parts.append(gettext("in “%(place)s”") % {"place": filters["location"]})
    if filters.get("check_in"):
        parts.append(gettext("free %(start)s – %(end)s") % {
            "start": date_format(filters["check_in"], "D j M"), "end": date_format(filters["check_out"], "D j M Y"),
        })
    if filters.get("guests"):
        parts.append(ngettext("for %(count)s guest", "for %(count)s guests", filters["guests"]) % {"count": filters["guests"]})
    return " ".join(parts)


def listing_index_context(*, page, request) -> dict:
    form = SearchForm(request.GET or None, with_filters=True)
    invalid = form.is_bound and not form.is_valid()
    filters = {} if invalid else form.filters()
    results = property_list_with_cover_ids(property_list_available(**filters))
    if invalid:
        results = results.none()
    paginator = Paginator(results, RESULTS_PER_PAGE)
    page_obj = paginator.get_page(request.GET.get("page"))
    listings = property_attach_covers(page_obj.object_list, specs=CARD_SPECS)
    check_in, check_out = filters.get("check_in"), filters.get("check_out")
    rules = property_price_rules_many(listings, start=check_in, end=check_out) if check_in else {}
    for listing in listings:
        listing.quote = rules[listing.pk].quote(check_in, check_out) if check_in else None
    query = request.GET.copy()
    query.pop("page", None)
    # Carry the stay into each listing link, so its booking form starts filled in.
    carry = {key: query[key] for key in ("check_in", "check_out", "guests") if key in filters and query.get(key)}
    listing_query = urlencode(carry)
    return {
        "search_form": form,
        "search_url": page.url,
        "search_invalid": invalid,
        "listings": listings,
        "page_obj": page_obj,
        "paginator": paginator,
        "searched_dates": "check_in" in filters,
        "filters": filters,
        "results_summary": _summary(paginator.count, filters),
        "more_filters_open": bool(set(MORE_FILTERS) & {key for key, value in query.items() if value}),
        "page_query": query.urlencode(),
        "listing_query": listing_query,
        "map_points": _map_points(listings, listing_query),
        "map_config": {
            "tileUrl": "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attribution": '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
            + gettext("contributors"),
            "mapLabel": gettext("Map of the stays on this page"),
            "showMap": gettext("Show map"),
            "showList": gettext("Show list"),
            "viewStay": gettext("View this stay"),
            "perNight": gettext("a night"),
        },
    }


__all__ = [
    "CARD_SPECS", "FEATURED_COUNT", "MAX_SEARCH_GUESTS", "RESULTS_PER_PAGE", "SearchForm",
    "_search_results_url", "home_page_context", "listing_index_context",
]
