import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from listings.models import BlockedPeriod
from tests.factories import add_gallery, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db

PROPERTIES = "/api/properties/"
LIST_FIELDS = {
    "id",
    "name",
    "slug",
    "url",
    "location",
    "price_per_night",
    "max_guests",
    "min_nights",
    "amenities",
    "thumbnail",
}


def test_list_item_has_the_contract_fields(api_client, site_tree):
    page = add_gallery(
        make_property(title="Galu Cottage", town="Diani", area="Galu Beach", price_per_night=12000, max_guests=6),
        count=3,
        amenities=("Wi-Fi", "Pool"),
    )
    response = api_client.get(PROPERTIES)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"count", "next", "previous", "results"}
    (item,) = data["results"]
    assert set(item) == LIST_FIELDS
    assert item["id"] == page.pk
    assert item["name"] == "Galu Cottage"
    assert item["location"] == "Galu Beach, Diani"
    assert (item["price_per_night"], item["max_guests"], item["min_nights"]) == (12000, 6, 1)
    assert sorted(item["amenities"]) == ["Pool", "Wi-Fi"]
    assert item["url"].startswith("http://testserver/") and item["url"].endswith(f"/{page.slug}/")
    assert item["thumbnail"].startswith("http://testserver/media/images/")
    assert api_client.get(item["thumbnail"].removeprefix("http://testserver")).status_code == 200


def test_listing_without_photos_has_a_null_thumbnail(api_client, site_tree):
    make_property()
    assert api_client.get(PROPERTIES).json()["results"][0]["thumbnail"] is None


def test_list_filters_by_dates_guests_location_and_price(api_client, site_tree):
    free = make_property(town="Mombasa", area="Nyali", max_guests=4, price_per_night=8000)
    booked = make_property(town="Mombasa", area="Bamburi", max_guests=4, price_per_night=8000)
    small = make_property(town="Mombasa", area="Old Town", max_guests=2, price_per_night=3000)
    make_booking(property=booked, check_in=future_date(10), nights=2)
    query = {"check_in": future_date(10).isoformat(), "check_out": future_date(13).isoformat()}

    def ids(**params):
        return {item["id"] for item in api_client.get(PROPERTIES, params).json()["results"]}

    assert ids(**query) == {free.pk, small.pk}
    assert ids(**query, guests=3) == {free.pk}
    assert ids(location="old town") == {small.pk}
    assert ids(min_price=5000) == {free.pk, booked.pk}
    assert ids(max_price=5000) == {small.pk}
    assert ids(check_in=future_date(12).isoformat(), check_out=future_date(14).isoformat()) == {
        free.pk,
        booked.pk,
        small.pk,  # booked checks out on day 12: the night of day 12 is free
    }


@pytest.mark.parametrize(
    "params, field",
    [
        ({"check_in": "2027-13-01", "check_out": "2027-13-04"}, "check_in"),
        ({"check_in": "soon"}, "check_in"),
        ({"check_in": "@future:10"}, "check_out"),  # only one of the two dates
        ({"check_out": "@future:10"}, "check_in"),
        ({"check_in": "@future:10", "check_out": "@future:10"}, "check_out"),
        ({"check_in": "@future:10", "check_out": "@future:8"}, "check_out"),
        ({"check_in": "2020-01-01", "check_out": "2020-01-04"}, "check_in"),
        ({"guests": "0"}, "guests"),
        ({"guests": "many"}, "guests"),
        ({"guests": "51"}, "guests"),
        ({"min_price": "-1"}, "min_price"),
        ({"max_price": "99999999999999999999"}, "max_price"),
        ({"min_price": "9000", "max_price": "100"}, "max_price"),
    ],
)
def test_invalid_query_is_400(api_client, site_tree, params, field):
    make_property()
    params = {
        key: future_date(int(value.split(":")[1])).isoformat() if value.startswith("@future:") else value
        for key, value in params.items()
    }
    response = api_client.get(PROPERTIES, params)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_list_uses_a_constant_number_of_queries(api_client, site_tree, django_assert_max_num_queries):
    for n in range(2):
        add_gallery(make_property(title=f"Few {n}"), count=3, amenities=("Wi-Fi", "Parking"))
    api_client.get(PROPERTIES)  # first call generates the thumbnail renditions
    with CaptureQueriesContext(connection) as few:
        assert api_client.get(PROPERTIES).json()["count"] == 2
    # Read now: the next request's request_started signal clears the connection's query log.
    few_queries = len(few.captured_queries)

    for n in range(6):
        add_gallery(make_property(title=f"Many {n}"), count=4, amenities=("Wi-Fi", "Pool", f"Extra {n}"))
    api_client.get(PROPERTIES)
    query = {"check_in": future_date(5).isoformat(), "check_out": future_date(8).isoformat(), "guests": 2}
    with django_assert_max_num_queries(few_queries):
        data = api_client.get(PROPERTIES, query).json()
    assert data["count"] == 8
    assert all(item["thumbnail"] for item in data["results"])


def test_list_is_paginated(api_client, site_tree):
    for _ in range(3):
        make_property()
    data = api_client.get(PROPERTIES, {"page_size": 2}).json()
    assert (data["count"], len(data["results"])) == (3, 2)
    second = api_client.get(data["next"]).json()
    assert len(second["results"]) == 1


def test_detail_adds_description_photos_owner_and_status(api_client, site_tree):
    page = add_gallery(make_property(description="<p>Sea <b>views</b></p>", min_credit_score=40), count=4)
    data = api_client.get(f"{PROPERTIES}{page.pk}/").json()
    assert LIST_FIELDS | {"description", "photos", "owner_name", "availability_status"} <= set(data)
    assert data["description"] == "<p>Sea <b>views</b></p>"
    assert len(data["photos"]) == 4
    assert all(url.startswith("http://testserver/media/images/") for url in data["photos"])
    assert data["owner_name"] == page.owner.name
    assert data["availability_status"] == "available"
    assert data["min_credit_score"] == 40


def test_detail_of_an_unavailable_listing_is_shown_with_its_status(api_client, site_tree):
    page = make_property(availability_status="unavailable")
    assert api_client.get(f"{PROPERTIES}{page.pk}/").json()["availability_status"] == "unavailable"


def test_unknown_or_unpublished_listing_is_404(api_client, site_tree):
    hidden = make_property(publish=False)
    for url in (
        f"{PROPERTIES}{hidden.pk}/",
        f"{PROPERTIES}987654/",
        f"{PROPERTIES}99999999999999999999/",
        f"{PROPERTIES}{hidden.pk}/availability/",
        f"{PROPERTIES}{site_tree.pk}/",
    ):
        response = api_client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"


def test_availability_lists_taken_ranges_without_guest_data(api_client, site_tree):
    page = make_property()
    booking = make_booking(property=page, check_in=future_date(10), nights=3)
    BlockedPeriod.objects.create(property=page, start=future_date(20), end=future_date(22), reason="Repairs")
    response = api_client.get(
        f"{PROPERTIES}{page.pk}/availability/",
        {"start": future_date(0).isoformat(), "end": future_date(30).isoformat()},
    )
    assert response.status_code == 200
    assert response.json() == {
        "unavailable": [
            {"start": future_date(10).isoformat(), "end": future_date(13).isoformat()},
            {"start": future_date(20).isoformat(), "end": future_date(22).isoformat()},
        ]
    }
    assert booking.reference not in response.content.decode()
    assert booking.primary_guest.email not in response.content.decode()


def test_availability_defaults_to_the_next_90_days(api_client, site_tree):
    page = make_property()
    make_booking(property=page, check_in=future_date(89), nights=5)
    ranges = api_client.get(f"{PROPERTIES}{page.pk}/availability/").json()["unavailable"]
    assert ranges == [{"start": future_date(89).isoformat(), "end": future_date(90).isoformat()}]


@pytest.mark.parametrize(
    "params",
    [
        {"start": "2027-01-10", "end": "2027-01-10"},
        {"start": "2027-01-10", "end": "2027-01-01"},
        {"start": "2027-01-01", "end": "2029-01-01"},
        {"start": "yesterday"},
        {"start": "9999-12-31"},
    ],
)
def test_availability_bad_window_is_400(api_client, site_tree, params):
    page = make_property()
    assert api_client.get(f"{PROPERTIES}{page.pk}/availability/", params).status_code == 400


def test_properties_are_public_and_in_the_schema(api_client, site_tree):
    make_property()
    assert api_client.get(PROPERTIES).status_code == 200
    paths = api_client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert {"/api/properties/", "/api/properties/{property_id}/", "/api/properties/{property_id}/availability/"} <= set(
        paths
    )
    names = {p["name"] for p in paths["/api/properties/"]["get"]["parameters"]}
    assert {"check_in", "check_out", "guests", "location", "min_price", "max_price"} <= names


def test_list_item_fields_are_the_declared_ones():
    """The list writes its items out by hand for speed; the declared fields make the schema."""
    from listings.apis import PropertyListApi

    assert set(PropertyListApi.OutputSerializer().fields) == LIST_FIELDS


def test_list_count_is_the_total_over_all_pages_with_dates_and_filters(api_client, site_tree):
    d = future_date
    free = [make_property(title=f"Free {n}", max_guests=4) for n in range(5)]
    booked = make_property(max_guests=4)
    make_booking(property=booked, check_in=d(11), nights=1, status="CONFIRMED")
    blocked = make_property(max_guests=4)
    BlockedPeriod.objects.create(property=blocked, start=d(12), end=d(20))
    canceled = make_property(max_guests=4)
    make_booking(property=canceled, check_in=d(10), nights=3, status="CANCELED")
    make_property(max_guests=1)
    make_property(max_guests=4, publish=False)
    stay = {"check_in": d(10).isoformat(), "check_out": d(13).isoformat()}

    first = api_client.get(PROPERTIES, {**stay, "guests": 2, "page_size": 2}).json()
    assert first["count"] == 6  # five free ones and the cancelled booking's
    pages, url = [first], first["next"]
    while url:
        pages.append(api_client.get(url).json())
        url = pages[-1]["next"]
    assert {page["count"] for page in pages} == {6}
    ids = [item["id"] for page in pages for item in page["results"]]
    assert sorted(ids) == sorted([page.pk for page in free] + [canceled.pk])
    assert api_client.get(PROPERTIES, {**stay, "page": 99}).status_code == 404


def test_list_item_url_and_thumbnail_are_the_pages_own(api_client, site_tree):
    from django.test import RequestFactory

    page = add_gallery(make_property(slug="nyali-sunrise"), count=3)
    (item,) = api_client.get(PROPERTIES).json()["results"]
    request = RequestFactory().get(PROPERTIES)
    assert item["url"] == request.build_absolute_uri(page.get_url(request=request))
    # The list reads only the first photo; the detail reads the whole gallery: same thumbnail.
    assert item["thumbnail"] == api_client.get(f"{PROPERTIES}{page.pk}/").json()["thumbnail"]
