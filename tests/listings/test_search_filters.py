"""The search's filters and sort, the same on the site (SearchForm, the listing page) and the API:
price range (inclusive), amenities (all of them), guests, sort; invalid searches refused with
their errors and no results; query counts flat with every filter on."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from listings.models import Amenity
from listings.search_page import SearchForm
from listings.selectors import property_count_available, property_list_available
from tests.factories import add_gallery, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db

PROPERTIES = "/api/properties/"


@pytest.fixture
def stays(site_tree):
    """Four listings: prices 3,000 / 5,000 / 8,000 / 12,000, different amenities and sizes."""
    cheap = add_gallery(make_property(title="Cheap Room", price_per_night=3000, max_guests=2), count=1,
                        amenities=("Wi-Fi",))
    mid = add_gallery(make_property(title="Mid Flat", price_per_night=5000, max_guests=4), count=1,
                      amenities=("Wi-Fi", "Pool"))
    upper = add_gallery(make_property(title="Upper House", price_per_night=8000, max_guests=6), count=1,
                        amenities=("Pool", "Kitchen"))
    top = add_gallery(make_property(title="Top Villa", price_per_night=12000, max_guests=8), count=1,
                      amenities=("Wi-Fi", "Pool", "Kitchen"))
    return {"cheap": cheap, "mid": mid, "upper": upper, "top": top}


def _amenity(name: str) -> int:
    return Amenity.objects.get(name=name).pk


def _titles(queryset) -> list[str]:
    return [page.title for page in queryset]


# --- Selector ---------------------------------------------------------------------------------


def test_price_bounds_are_inclusive(stays):
    assert set(_titles(property_list_available(min_price=5000, max_price=8000))) == {"Mid Flat", "Upper House"}
    assert _titles(property_list_available(min_price=12000)) == ["Top Villa"]
    assert _titles(property_list_available(max_price=3000)) == ["Cheap Room"]
    assert property_count_available(min_price=5000, max_price=8000) == 2


def test_amenities_mean_all_of_them(stays):
    wifi, pool, kitchen = _amenity("Wi-Fi"), _amenity("Pool"), _amenity("Kitchen")
    assert set(_titles(property_list_available(amenities=[wifi]))) == {"Cheap Room", "Mid Flat", "Top Villa"}
    assert set(_titles(property_list_available(amenities=[wifi, pool]))) == {"Mid Flat", "Top Villa"}
    assert _titles(property_list_available(amenities=[wifi, pool, kitchen])) == ["Top Villa"]
    assert property_count_available(amenities=[wifi, pool]) == 2
    # A listing is not repeated once per matching amenity.
    assert len(_titles(property_list_available(amenities=[pool]))) == 3


def test_sort_orders(stays):
    assert _titles(property_list_available(sort="price")) == ["Cheap Room", "Mid Flat", "Upper House", "Top Villa"]
    assert _titles(property_list_available(sort="-price")) == ["Top Villa", "Upper House", "Mid Flat", "Cheap Room"]
    assert _titles(property_list_available(sort="newest")) == ["Top Villa", "Upper House", "Mid Flat", "Cheap Room"]
    # Recommended: the index's own order (the order the listings were added here).
    assert _titles(property_list_available()) == ["Cheap Room", "Mid Flat", "Upper House", "Top Villa"]


def test_every_filter_together_with_dates(stays):
    check_in = future_date(10)
    make_booking(property=stays["top"], check_in=check_in, nights=2)
    found = property_list_available(
        check_in=check_in, check_out=check_in + dt.timedelta(days=2), guests=4, min_price=4000, max_price=20000,
        amenities=[_amenity("Pool")], sort="-price",
    )
    assert _titles(found) == ["Upper House", "Mid Flat"]


# --- Form -------------------------------------------------------------------------------------


def test_form_filters_carry_every_field(stays):
    wifi = _amenity("Wi-Fi")
    form = SearchForm(
        {"price_min": "3000", "price_max": "5000", "amenities": [str(wifi)], "sort": "-price", "guests": "2"},
        with_filters=True,
    )
    assert form.is_valid(), form.errors
    assert form.filters() == {"min_price": 3000, "max_price": 5000, "amenities": [wifi], "sort": "-price", "guests": 2}


@pytest.mark.parametrize(
    "data, field",
    [
        ({"price_min": "9000", "price_max": "100"}, "price_max"),
        ({"price_min": "-5"}, "price_min"),
        ({"sort": "cheapest"}, "sort"),
        ({"amenities": ["999999"]}, "amenities"),
        ({"guests": "0"}, "guests"),
        ({"check_in": "2020-01-01", "check_out": "2020-01-03"}, "check_in"),
        ({"check_in": "2031-01-05", "check_out": "2031-01-04"}, "check_out"),
    ],
)
def test_form_refuses_bad_searches(stays, data, field):
    form = SearchForm(data, with_filters=True)
    assert not form.is_valid()
    assert field in form.errors


def test_home_form_has_no_extra_filters_and_reads_no_amenities(site_tree, django_assert_num_queries):
    with django_assert_num_queries(0):
        form = SearchForm()
    assert set(form.fields) == {"location", "check_in", "check_out", "guests"}


# --- Listing page -----------------------------------------------------------------------------


def _cards(html: str) -> list[str]:
    return re.findall(r'<h3 class="listing-name">([^<]+)</h3>', html)


def test_listing_page_filters_and_sorts(client, stays):
    html = client.get("/stays/", {"price_min": 5000, "price_max": 12000, "amenities": [_amenity("Pool")],
                                  "sort": "-price"}).content.decode()
    assert _cards(html) == ["Top Villa", "Upper House", "Mid Flat"]
    assert "3 stays" in html
    # The chosen filters stay in the form, so the search can be refined and shared.
    assert re.search(r'<input[^>]+name="amenities"[^>]+value="%d"[^>]+checked' % _amenity("Pool"), html) or \
        re.search(r'<input[^>]+value="%d"[^>]+name="amenities"[^>]+checked' % _amenity("Pool"), html)
    assert '<option value="-price" selected>' in html


def test_pagination_keeps_the_filters(client, site_tree):
    for n in range(14):
        make_property(title=f"Stay {n:02d}", price_per_night=1000 + n * 100)
    html = client.get("/stays/", {"price_min": 1000, "sort": "-price"}).content.decode()
    assert _cards(html)[0] == "Stay 13"
    next_link = re.search(r'rel="next" href="\?([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "price_min=1000" in next_link and "sort=-price" in next_link and "page=2" in next_link
    second = client.get("/stays/?" + next_link).content.decode()
    assert _cards(second) == ["Stay 01", "Stay 00"]


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"price_min": "9000", "price_max": "100"}, "price_max", "The highest price must be at least the lowest price."),
        ({"sort": "cheapest"}, "sort", "Select a valid choice."),
        ({"check_in": "2031-01-05", "check_out": "2031-01-04"}, "check_out", "Check-out must be after check-in."),
        ({"guests": "0"}, "guests", "Ensure this value is greater than or equal to 1."),
        ({"check_in": "2020-01-01", "check_out": "2020-01-03"}, "check_in", "Check-in can&#x27;t be in the past."),
    ],
)
def test_invalid_search_shows_linked_errors_and_no_results(client, stays, query, field, message):
    response = client.get("/stays/", query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert _cards(html) == []
    assert "0 stays" in html
    # The field points at its error with aria-describedby, and the error element has that id.
    widget = re.search(r'<(?:input|select)[^>]+id="id_%s"[^>]*>' % field, html).group(0)
    assert 'aria-invalid="true"' in widget
    described = re.search(r'aria-describedby="([^"]+)"', widget).group(1)
    assert f'id="{described}"' in html and described == f"id_{field}_error"
    # The summary at the top links to the field and is focused on load (results-map.js).
    assert 'id="search-errors"' in html and f'href="#id_{field}"' in html


def test_listing_page_map_data_has_only_results_with_coordinates(client, stays):
    located = stays["mid"]
    located.latitude, located.longitude = "-4.316700", "39.583300"
    located.save_revision(user=located.owner).publish()
    html = client.get("/stays/", {"sort": "price"}).content.decode()
    data = re.search(r'<script id="results-map-points" type="application/json">(.+?)</script>', html).group(1)
    import json

    points = json.loads(data)
    assert [(point["title"], point["price"]) for point in points] == [("Mid Flat", "KES 5,000")]
    assert points[0]["lat"] == pytest.approx(-4.3167) and points[0]["url"].endswith(f"/{located.slug}/")
    assert 'id="results-map"' in html and "vendor/leaflet/leaflet.js" in html


def test_listing_page_without_coordinates_has_no_map(client, stays):
    html = client.get("/stays/").content.decode()
    assert 'id="results-map"' not in html and "leaflet.js" not in html


def test_first_card_is_eager_and_webp_the_rest_lazy(client, stays):
    html = client.get("/stays/").content.decode()
    images = re.findall(r"<img[^>]+>", html)
    assert len(images) == 4
    assert 'loading="eager"' in images[0] and 'fetchpriority="high"' in images[0]
    assert all('loading="lazy"' in image and "fetchpriority" not in image for image in images[1:])
    for image in images:
        assert re.search(r'srcset="[^"]+fill-480x320\.format-webp[^"]*\.webp \d+w, [^"]+fill-960x640\.format-webp[^"]*\.webp \d+w"', image)
        assert 'width="' in image and 'height="' in image and 'sizes="(min-width: 1024px) 330px' in image


def test_listing_page_queries_stay_flat_with_every_filter(client, site_tree):
    def listings(count):
        for n in range(count):
            page = make_property(title=f"Flat {n}", price_per_night=4000 + n, max_guests=4)
            add_gallery(page, count=1, amenities=("Wi-Fi", "Pool"))

    listings(3)
    check_in = future_date(12)
    params = {
        "check_in": check_in.isoformat(), "check_out": (check_in + dt.timedelta(days=2)).isoformat(), "guests": 2,
        "price_min": 1000, "price_max": 90000, "amenities": [_amenity("Wi-Fi"), _amenity("Pool")], "sort": "price",
    }

    def count() -> int:
        assert client.get("/stays/", params).status_code == 200  # warm: renditions made
        with CaptureQueriesContext(connection) as captured:
            html = client.get("/stays/", params).content.decode()
        assert _cards(html)
        return len(captured)

    few = count()
    listings(10)
    many = count()
    assert few == many
    assert many <= 12


# --- API --------------------------------------------------------------------------------------


def _api_names(api_client, **params) -> list[str]:
    response = api_client.get(PROPERTIES, params)
    assert response.status_code == 200, response.json()
    return [item["name"] for item in response.json()["results"]]


def test_api_filters_and_sorts(api_client, stays):
    pool, kitchen = _amenity("Pool"), _amenity("Kitchen")
    assert _api_names(api_client, price_min=5000, price_max=8000, sort="price") == ["Mid Flat", "Upper House"]
    assert _api_names(api_client, amenities=f"{pool},{kitchen}", sort="-price") == ["Top Villa", "Upper House"]
    assert _api_names(api_client, amenities=f" {pool} ", guests=5, sort="price") == ["Upper House", "Top Villa"]
    assert _api_names(api_client, sort="newest")[0] == "Top Villa"
    # The first names of the price bounds still work.
    assert _api_names(api_client, min_price=12000) == ["Top Villa"]
    response = api_client.get(PROPERTIES, {"amenities": str(pool), "price_max": 8000})
    assert response.json()["count"] == 2 and set(response.json()) == {"count", "next", "previous", "results"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"price_min": "9000", "price_max": "100"}, "price_max"),
        ({"price_min": "-1"}, "price_min"),
        ({"price_max": "99999999999999999999"}, "price_max"),
        ({"sort": "cheapest"}, "sort"),
        ({"amenities": "wifi"}, "amenities"),
        ({"amenities": "1,,x"}, "amenities"),
        ({"amenities": "999999"}, "amenities"),
        ({"guests": "0"}, "guests"),
        ({"check_in": "2031-01-05", "check_out": "2031-01-04"}, "check_out"),
    ],
)
def test_api_refuses_bad_filters_with_field_errors(api_client, stays, params, field):
    response = api_client.get(PROPERTIES, params)
    assert response.status_code == 400
    assert field in response.json()


def test_api_schema_declares_the_filters(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json() if schema["Content-Type"].startswith("application/json") else None
    if document is None:
        import yaml

        document = yaml.safe_load(schema.content)
    parameters = {item["name"]: item for item in document["paths"]["/api/properties/"]["get"]["parameters"]}
    assert {"price_min", "price_max", "amenities", "sort", "guests", "location", "check_in", "check_out"} <= set(parameters)
    assert parameters["sort"]["schema"]["enum"] == ["-price", "newest", "price"] or \
        set(parameters["sort"]["schema"]["enum"]) >= {"price", "-price", "newest"}
    assert parameters["price_min"]["schema"]["minimum"] == 0
    assert parameters["guests"]["schema"]["maximum"] == 50


def test_api_queries_do_not_grow_with_filters(api_client, stays):
    params = {"price_min": 1000, "amenities": str(_amenity("Pool")), "sort": "price", "guests": 2}
    api_client.get(PROPERTIES, params)
    with CaptureQueriesContext(connection) as plain:
        api_client.get(PROPERTIES)
    with CaptureQueriesContext(connection) as filtered:
        response = api_client.get(PROPERTIES, params)
    assert response.status_code == 200
    # One more: the amenity ids are checked (an unknown id is a 400, not an empty answer).
    assert len(filtered) <= len(plain) + 1
