"""Admin list and report filters take any value from the query string and never answer 500.

A 40-digit id is out of range for PostgreSQL's integer columns: looked up as is, the
database raises "integer out of range" and the admin page crashed. Every filter of
every admin list and report is tried with values a user can type into the URL.
"""

import pytest

pytestmark = pytest.mark.django_db

HUGE = "9" * 40
# Too big for PostgreSQL's 4-byte id columns, small enough to reach the filter forms.
BEYOND_INT32 = "9" * 12
BAD_VALUES = [HUGE, "-" + HUGE, BEYOND_INT32, "abc", "-1", "0", "1.5", "1e5", "\x00", "%00", "9" * 400]
# Whole numbers no 64-bit column can hold are refused for every admin screen, Wagtail's own
# included, before any view runs (core.middleware.AdminQueryBoundsMiddleware).
BEYOND_INT64 = {HUGE, "-" + HUGE, "9" * 400}

# Each admin screen with a filter form, and the query-string names of its filters.
FILTERED_SCREENS = {
    "/admin/snippets/mpesa/payment/": [
        "property", "status", "kind", "created_at_after", "created_at_before", "flagged", "needs_refund",
    ],
    "/admin/snippets/mpesa/payment/results/": ["property"],
    "/admin/snippets/reservations/booking/": [
        "property", "status", "check_in_after", "check_in_before", "booking_date_after", "booking_date_before",
    ],
    "/admin/snippets/reservations/booking/results/": ["property"],
    "/admin/reports/payments/": ["property", "status", "kind", "created_at_after", "created_at_before"],
    "/admin/reports/payments/results/": ["property"],
    "/admin/reports/bookings/": [
        "property", "status", "check_in_after", "check_in_before", "booking_date_after", "booking_date_before",
    ],
    "/admin/reports/bookings/results/": ["property"],
    "/admin/users/": ["group", "is_superuser", "is_active", "last_login_after"],
}

CASES = [
    (role, url, field)
    for url, fields in FILTERED_SCREENS.items()
    for field in fields
    for role in (["staff"] if url.startswith("/admin/users/") else ["staff", "owner_a"])
]


def _get(client, url, params):
    response = client.get(url, params)
    expected = 400 if any(value in BEYOND_INT64 for value in params.values()) else 200
    assert response.status_code == expected, (url, params, response.status_code)
    if expected == 400:
        assert b"not a valid number" in response.content
    return response


@pytest.mark.parametrize(("role", "url", "field"), CASES)
def test_out_of_range_or_malformed_filter_value_is_never_a_500(client, world, role, url, field):
    client.force_login(world[role])
    for value in BAD_VALUES:
        _get(client, url, {field: value})
    # Also in the export path, which runs the same filters before writing the file.
    if url.startswith("/admin/reports/") and not url.endswith("/results/"):
        for value in (HUGE, BEYOND_INT32, "abc", "-1"):
            response = client.get(url, {field: value, "export": "csv"})
            assert response.status_code == (400 if value == HUGE else 200), (url, field, value)


@pytest.mark.parametrize(
    ("url", "rows"),
    [
        ("/admin/snippets/mpesa/payment/", ("254711111111", "254722222222")),
        ("/admin/reports/bookings/", ("NXAAAA2A", "NXBBBB2B")),
    ],
)
def test_an_invalid_property_filter_is_a_form_error_not_another_owners_rows(client, world, url, rows):
    """A bad id neither crashes nor widens the list: an owner still sees only their own rows,
    and the filter form says what is wrong."""
    client.force_login(world["owner_a"])
    html = _get(client, url, {"property": BEYOND_INT32}).content.decode()
    assert rows[1] not in html
    assert "Select a valid choice" in html

    # Another owner's property id is refused the same way, never used as a filter.
    html = _get(client, url, {"property": world["stay_b"].pk}).content.decode()
    assert rows[1] not in html

    # A valid id still filters.
    html = _get(client, url, {"property": world["stay_a"].pk}).content.decode()
    assert rows[0] in html


def _admin_views_with_filters():
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns)
            elif isinstance(entry, URLPattern):
                view_class = getattr(entry.callback, "view_class", None)
                initkwargs = getattr(entry.callback, "view_initkwargs", {})
                filterset_class = initkwargs.get("filterset_class") or getattr(view_class, "filterset_class", None)
                if filterset_class is not None:
                    yield entry, view_class, filterset_class

    yield from walk(get_resolver().url_patterns)


def test_every_filter_set_of_our_admin_screens_checks_keys_before_querying(world):
    """A new admin list or report with a filter must use core.filters.AdminFilterSet (or its mixin)."""
    from core.filters import BoundedChoicesMixin

    ours = ("accounts", "listings", "reservations", "mpesa", "core")
    checked = []
    for pattern, _view_class, filterset_class in _admin_views_with_filters():
        if filterset_class.__module__.split(".")[0] in ours:
            assert issubclass(filterset_class, BoundedChoicesMixin), (pattern.name, filterset_class)
            checked.append(filterset_class.__name__)
    assert {"PaymentFilterSet", "BookingFilterSet", "PaymentsReportFilterSet", "BookingsReportFilterSet"} <= set(
        checked
    )
    assert "UserFilterSet" in checked


WAGTAIL_FILTERED_SCREENS = [
    ("/admin/pages/", "owner"),
    ("/admin/pages/", "content_type"),
    ("/admin/pages/", "site"),
    ("/admin/pages/search/", "content_type"),
    ("/admin/reports/site-history/", "user"),
    ("/admin/reports/aging-pages/", "last_published_by"),
    ("/admin/images/", "collection_id"),
    ("/admin/documents/", "collection_id"),
    ("/admin/users/", "group"),
]


@pytest.mark.parametrize(("url", "field"), WAGTAIL_FILTERED_SCREENS)
def test_a_40_digit_id_in_wagtails_own_admin_filters_is_a_400_not_a_500(client, world, url, field):
    """Wagtail's own filter forms do not bound ids: on SQLite a 40-digit one overflowed in the
    query (500). The admin refuses such a number before any view runs."""
    client.force_login(world["staff"])
    for value in (HUGE, "-" + HUGE, "9" * 400):
        response = client.get(url, {field: value})
        assert response.status_code == 400, (url, field, value, response.status_code)
        assert b"not a valid number" in response.content
    # The largest 64-bit number is still a number: the screen answers (unfiltered, empty, or
    # Wagtail's own 404 for an unknown content type), never a 500.
    response = client.get(url, {field: str(2**63 - 1)})
    assert response.status_code in (200, 404), (url, field, response.status_code)


def test_numbers_outside_64_bits_are_detected_exactly():
    from django.http import QueryDict

    from core.middleware import query_has_out_of_range_number

    assert not query_has_out_of_range_number(QueryDict(f"a={2**63 - 1}&b=-{2**63 - 1}&c=abc&d=1.5"))
    assert not query_has_out_of_range_number(QueryDict("a=" + "0" * 30 + "7"))
    assert query_has_out_of_range_number(QueryDict(f"a={2**63}"))
    assert query_has_out_of_range_number(QueryDict("a=1&a=" + "9" * 40))
