"""Seasonal and weekend prices and length-of-stay discounts, end to end: the owner sets them
in the admin, the property page quotes them (server-rendered, the quote API its script uses,
the calendar, search results), and the booking charges exactly that (API and site form).

Dates are built around the next Thursday a few weeks ahead, so each test knows which
nights are Friday and Saturday nights whatever day it runs.
"""

import datetime as dt
import re

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from listings.models import PropertyPage, PropertySeasonalPrice
from reservations.models import Booking
from reservations.selectors import property_booking_terms
from tests.factories import UserFactory, future_date, make_property

pytestmark = pytest.mark.django_db

BASE, WEEKEND, SEASON = 5000, 6500, 9000
BOOKINGS = "/api/bookings/"
ONE_DAY = dt.timedelta(days=1)


def next_thursday(after_days: int = 20) -> dt.date:
    day = future_date(after_days)
    while day.weekday() != 3:
        day += ONE_DAY
    return day


def days(start: dt.date, count: int) -> list[str]:
    return [(start + dt.timedelta(days=n)).isoformat() for n in range(count)]


@pytest.fixture
def thursday():
    return next_thursday()


@pytest.fixture
def priced(site_tree, thursday):
    """Base 5,000, Friday and Saturday nights 6,500, a season of 9,000 for the Sunday and
    Monday nights after `thursday` (ending Tuesday, the first night back at the base price)."""
    prop = make_property(
        title="Diani Palm Cottage", price_per_night=BASE, weekend_price_per_night=WEEKEND, max_guests=4
    )
    PropertySeasonalPrice.objects.create(
        page=prop, start=thursday + 3 * ONE_DAY, end=thursday + 5 * ONE_DAY, price_per_night=SEASON, label="Lamu festival"
    )
    return prop


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def book(user, prop, check_in: dt.date, nights: int):
    body = {
        "property": prop.pk,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
        "guests": [],
    }
    return api_for(user).post(BOOKINGS, body, format="json")


# --- The booking API -----------------------------------------------------------------------------


def test_booking_across_a_weekend_and_a_season_charges_each_night_its_price(priced, thursday):
    guest = UserFactory()
    response = book(guest, priced, thursday, 6)  # Thu, Fri, Sat, Sun, Mon, Tue nights
    assert response.status_code == 201, response.content
    data = response.json()
    expected = [BASE, WEEKEND, WEEKEND, SEASON, SEASON, BASE]
    assert data["nightly_prices"] == [{"date": d, "price": p} for d, p in zip(days(thursday, 6), expected)]
    assert (data["total_price"], data["balance_due"], data["discount"]) == (41000, 41000, 0)
    assert data["min_first_payment"] == 8200  # 20 % of the real total

    booking = Booking.objects.get(pk=data["id"])
    assert booking.total_price == 41000
    assert booking.price_per_night == BASE  # the listing's base price when booked
    assert booking.nightly_prices == data["nightly_prices"]
    # Read back, the booking says the same.
    again = api_for(guest).get(f"{BOOKINGS}{booking.pk}/").json()
    assert (again["nightly_prices"], again["total_price"], again["discount"]) == (data["nightly_prices"], 41000, 0)


def test_sunday_night_is_not_a_weekend_night(site_tree, thursday):
    prop = make_property(price_per_night=BASE, weekend_price_per_night=WEEKEND)
    sunday = thursday + 3 * ONE_DAY
    data = book(UserFactory(), prop, sunday - ONE_DAY, 2).json()  # Saturday and Sunday nights
    assert [night["price"] for night in data["nightly_prices"]] == [WEEKEND, BASE]
    assert data["total_price"] == WEEKEND + BASE


def test_a_week_long_booking_gets_the_weekly_discount_and_six_nights_do_not(site_tree, thursday):
    prop = make_property(price_per_night=BASE, weekend_price_per_night=WEEKEND, weekly_discount_percent=10)
    six = book(UserFactory(), prop, thursday, 6).json()
    assert (six["total_price"], six["discount"]) == (4 * BASE + 2 * WEEKEND, 0)

    seven = book(UserFactory(), prop, thursday + 14 * ONE_DAY, 7).json()
    subtotal = 5 * BASE + 2 * WEEKEND  # 38,000
    assert sum(night["price"] for night in seven["nightly_prices"]) == subtotal
    assert (seven["discount"], seven["total_price"], seven["balance_due"]) == (3800, 34200, 34200)


def test_a_four_week_booking_gets_the_monthly_discount(site_tree, thursday):
    prop = make_property(price_per_night=1000, weekly_discount_percent=10, monthly_discount_percent=25, max_nights=60)
    month = book(UserFactory(), prop, thursday, 28).json()
    assert (month["discount"], month["total_price"]) == (7000, 21000)
    almost = book(UserFactory(), prop, thursday + 40 * ONE_DAY, 27).json()
    assert (almost["discount"], almost["total_price"]) == (2700, 24300)


def test_the_total_price_limit_counts_the_season_prices(site_tree, thursday):
    """Base price x nights is small here; the season makes the real total too big for the column."""
    prop = make_property(price_per_night=1000)
    PropertySeasonalPrice.objects.create(
        page=prop, start=thursday, end=thursday + 2 * ONE_DAY, price_per_night=2_000_000_000
    )
    response = book(UserFactory(), prop, thursday, 2)
    assert response.status_code == 400
    assert "check_out" in response.json()
    assert not Booking.objects.exists()
    # One night of it fits, and costs what the season says.
    assert book(UserFactory(), prop, thursday, 1).json()["total_price"] == 2_000_000_000


def test_booking_creation_reads_the_prices_in_the_statement_it_already_made(priced, thursday):
    """POST /api/bookings/ gains no SQL statement: the seasons come inside the one statement
    that reads the listing's terms, and a listing with seasons costs as many statements as
    one without."""
    plain = make_property(price_per_night=BASE)
    api = api_for(UserFactory())

    def statements(prop, check_in):
        body = {"property": prop.pk, "check_in": check_in.isoformat(), "check_out": (check_in + 6 * ONE_DAY).isoformat()}
        # The request clears the connection's query log when it starts: start from an empty
        # log, so the capture's offset into it stays right.
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            assert api.post(BOOKINGS, body, format="json").status_code == 201
        return [query["sql"] for query in captured.captured_queries]

    with_seasons = statements(priced, thursday)
    without = statements(plain, thursday)
    assert len(with_seasons) == len(without)
    # Nothing but the terms statement reads the seasons. (On PostgreSQL that statement is
    # prepared once per connection, and later runs send only "EXECUTE nexus_booking_terms...".)
    season_table = PropertySeasonalPrice._meta.db_table
    assert all("listings_blockedperiod" in sql for sql in with_seasons if season_table in sql)
    assert sum(season_table in sql or "nexus_booking_terms" in sql for sql in with_seasons) == 1


def test_terms_carry_only_the_seasons_that_touch_the_stay(priced, thursday):
    PropertySeasonalPrice.objects.create(
        page=priced, start=thursday + 60 * ONE_DAY, end=thursday + 70 * ONE_DAY, price_per_night=12000
    )
    terms = property_booking_terms(property_id=priced.pk, check_in=thursday, check_out=thursday + 4 * ONE_DAY)
    assert [(s.start, s.end, s.price) for s in terms.seasons] == [
        (thursday + 3 * ONE_DAY, thursday + 5 * ONE_DAY, SEASON)
    ]
    assert (terms.weekend_price_per_night, terms.weekly_discount_percent, terms.monthly_discount_percent) == (
        WEEKEND, 0, 0,
    )
    # A stay that ends the day the season starts touches none of it.
    before = property_booking_terms(property_id=priced.pk, check_in=thursday, check_out=thursday + 3 * ONE_DAY)
    assert before.seasons == ()


# --- What the site quotes ------------------------------------------------------------------------


def _quote_total(html: str) -> int:
    return int(re.search(r'data-quote-total="(\d+)"', html).group(1))


def test_the_property_page_quote_the_quote_api_and_the_booking_agree(client, priced, thursday):
    check_out = thursday + 6 * ONE_DAY
    dates = {"check_in": thursday.isoformat(), "check_out": check_out.isoformat()}

    html = client.get(priced.url, dates).content.decode()
    assert _quote_total(html) == 41000
    assert "KES 5,000 × 2 nights" in html and "KES 6,500 × 2 nights" in html and "KES 9,000 × 2 nights" in html

    quote = client.get(f"/api/properties/{priced.pk}/quote/", dates).json()
    assert quote["total_price"] == 41000 and quote["subtotal"] == 41000 and quote["nights"] == 6
    assert [night["price"] for night in quote["nightly_prices"]] == [BASE, WEEKEND, WEEKEND, SEASON, SEASON, BASE]

    # The site's booking form books it for the same amount.
    guest = UserFactory()
    client.force_login(guest)
    form = {
        "property": priced.pk, **dates, "guests": 1,
        "guest-TOTAL_FORMS": 0, "guest-INITIAL_FORMS": 0, "guest-MIN_NUM_FORMS": 0, "guest-MAX_NUM_FORMS": 1000,
    }
    response = client.post("/bookings/new/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    booking = Booking.objects.get(primary_guest=guest)
    assert booking.total_price == 41000
    assert [night["price"] for night in booking.nightly_prices] == [BASE, WEEKEND, WEEKEND, SEASON, SEASON, BASE]
    # Its page shows how the total is made up.
    page = client.get(f"/bookings/{booking.pk}/").content.decode()
    assert "KES 9,000 × 2 nights" in page and "KES 41,000" in page


def test_the_quote_shows_the_discount(client, site_tree, thursday):
    prop = make_property(price_per_night=1001, weekly_discount_percent=10)
    dates = {"check_in": thursday.isoformat(), "check_out": (thursday + 7 * ONE_DAY).isoformat()}
    html = client.get(prop.url, dates).content.decode()
    assert "Weekly discount (10%)" in html and "−KES 700" in html
    assert _quote_total(html) == 6307
    quote = client.get(f"/api/properties/{prop.pk}/quote/", dates).json()
    assert (quote["subtotal"], quote["discount_percent"], quote["discount"], quote["total_price"]) == (7007, 10, 700, 6307)
    assert book(UserFactory(), prop, thursday, 7).json()["total_price"] == 6307


def test_quote_api_refuses_bad_dates(api_client, priced, thursday):
    url = f"/api/properties/{priced.pk}/quote/"
    past = future_date(-2)
    cases = [
        ({}, "check_in"),
        ({"check_in": past.isoformat(), "check_out": future_date(2).isoformat()}, "check_in"),
        ({"check_in": thursday.isoformat(), "check_out": thursday.isoformat()}, "check_out"),
        ({"check_in": thursday.isoformat(), "check_out": (thursday + 31 * ONE_DAY).isoformat()}, "check_out"),
        ({"check_in": thursday.isoformat(), "check_out": "9999-12-31"}, "check_out"),
        ({"check_in": "2027-02-30", "check_out": "2027-03-02"}, "check_in"),
    ]
    for params, field in cases:
        response = api_client.get(url, params)
        assert response.status_code == 400, params
        assert field in response.json(), (params, response.json())
    dates = {"check_in": thursday.isoformat(), "check_out": (thursday + ONE_DAY).isoformat()}
    assert api_client.get("/api/properties/999999/quote/", dates).status_code == 404
    draft = make_property(publish=False)
    assert api_client.get(f"/api/properties/{draft.pk}/quote/", dates).status_code == 404


def test_quote_api_never_prices_a_stay_the_booking_would_refuse(api_client, priced, thursday):
    """The property page's live estimate shows this answer: no price for what cannot be booked."""
    url = f"/api/properties/{priced.pk}/quote/"
    two_nights = {"check_in": thursday.isoformat(), "check_out": (thursday + 2 * ONE_DAY).isoformat()}
    assert api_client.get(url, {**two_nights, "guests": 4}).status_code == 200

    too_many = api_client.get(url, {**two_nights, "guests": 5})
    assert too_many.status_code == 400 and "total_price" not in too_many.json()
    assert "at most 4 guests" in too_many.json()["guests"][0]
    assert api_client.get(url, {**two_nights, "guests": 0}).status_code == 400

    PropertyPage.objects.filter(pk=priced.pk).update(min_nights=3)
    too_short = api_client.get(url, two_nights)
    assert too_short.status_code == 400 and "at least 3 nights" in too_short.json()["check_out"][0]

    PropertyPage.objects.filter(pk=priced.pk).update(min_nights=1)
    book(UserFactory(), priced, thursday + ONE_DAY, 1)
    taken = api_client.get(url, two_nights)
    assert taken.status_code == 409
    assert taken.json()["code"] == "dates_unavailable" and "total_price" not in taken.json()
    # The night before the booking is still free and priced.
    one_night = {"check_in": thursday.isoformat(), "check_out": (thursday + ONE_DAY).isoformat()}
    assert api_client.get(url, one_night).json()["total_price"] == BASE


def test_search_results_total_uses_the_nightly_prices(client, priced, thursday):
    dates = {"check_in": thursday.isoformat(), "check_out": (thursday + 6 * ONE_DAY).isoformat()}
    html = client.get("/stays/", dates).content.decode()
    assert 'data-total="41000"' in html
    assert "KES 41,000</strong> total for 6 nights" in html


def test_the_calendar_shows_each_free_night_s_price(client, site_tree):
    prop = make_property(price_per_night=BASE, weekend_price_per_night=WEEKEND)
    friday = future_date(1)
    while friday.weekday() != 4:
        friday += ONE_DAY
    html = client.get(prop.url).content.decode()
    cell = re.search(rf'<td class="day day-free" data-date="{friday.isoformat()}"[^>]*>.*?</td>', html).group(0)
    assert 'data-price="higher"' in cell and '<span class="day-price" aria-hidden="true">6.5k</span>' in cell
    assert "KES 6,500 a night" in cell
    thursday = friday - ONE_DAY
    if thursday > future_date(0):
        cell = re.search(rf'<td class="day day-free" data-date="{thursday.isoformat()}"[^>]*>.*?</td>', html).group(0)
        assert "5k" in cell and "data-price" not in cell

    # A new weekend price shows as soon as the page is published (the cached calendar is not reused).
    page = PropertyPage.objects.get(pk=prop.pk)
    page.weekend_price_per_night = 7000
    page.save_revision().publish()
    html = client.get(prop.url).content.decode()
    cell = re.search(rf'<td class="day day-free" data-date="{friday.isoformat()}"[^>]*>.*?</td>', html).group(0)
    assert ">7k</span>" in cell


def test_a_listing_with_one_price_shows_no_prices_in_its_calendar(client, site_tree):
    html = client.get(make_property(price_per_night=BASE).url).content.decode()
    # The markup, not the page: the inlined stylesheet names the class too.
    assert 'class="day-price"' not in html


def test_booked_nights_show_no_price(client, priced, thursday):
    book(UserFactory(), priced, thursday, 2)
    html = client.get(priced.url).content.decode()
    cell = re.search(rf'<td class="day day-\w+" data-date="{(thursday + ONE_DAY).isoformat()}"[^>]*>.*?</td>', html)
    if cell:  # within the three months shown
        assert "day-taken" in cell.group(0) and "day-price" not in cell.group(0)


# --- The owner sets prices in the admin ----------------------------------------------------------


def _edit_form(page, *, seasons=(), **fields) -> dict:
    form = {
        "title": page.title,
        "slug": page.slug,
        "description": '{"blocks": [], "entityMap": {}}',
        "area": page.area,
        "town": page.town,
        "price_per_night": str(page.price_per_night),
        "max_guests": str(page.max_guests),
        "min_nights": str(page.min_nights),
        "max_nights": str(page.max_nights),
        "min_deposit_percent": str(page.min_deposit_percent),
        "availability_status": "available",
        "cancellation_policy": page.cancellation_policy,
        "weekend_price_per_night": "",
        "weekly_discount_percent": "0",
        "monthly_discount_percent": "0",
        "gallery_images-TOTAL_FORMS": "0",
        "gallery_images-INITIAL_FORMS": "0",
        "gallery_images-MIN_NUM_FORMS": "0",
        "gallery_images-MAX_NUM_FORMS": "1000",
        "seasonal_prices-TOTAL_FORMS": str(len(seasons)),
        "seasonal_prices-INITIAL_FORMS": "0",
        "seasonal_prices-MIN_NUM_FORMS": "0",
        "seasonal_prices-MAX_NUM_FORMS": "50",
        "action-publish": "action-publish",
    }
    for index, (start, end, price, label) in enumerate(seasons):
        form.update(
            {
                f"seasonal_prices-{index}-start": start.isoformat(),
                f"seasonal_prices-{index}-end": end.isoformat(),
                f"seasonal_prices-{index}-price_per_night": str(price),
                f"seasonal_prices-{index}-label": label,
            }
        )
    form.update(fields)
    return form


@pytest.fixture
def owned(site_tree):
    from tests.factories import OwnerFactory

    owner = OwnerFactory()
    return owner, make_property(owner=owner, price_per_night=BASE)


def test_owner_sets_seasons_weekend_price_and_discounts_in_the_admin(client, owned, thursday):
    owner, page = owned
    client.force_login(owner)
    assert "Seasons and discounts" in client.get(f"/admin/pages/{page.pk}/edit/").content.decode()
    seasons = [
        (thursday + 3 * ONE_DAY, thursday + 5 * ONE_DAY, SEASON, "Festival"),
        (thursday + 5 * ONE_DAY, thursday + 8 * ONE_DAY, 7000, "Right after"),  # starts the day the first ends
    ]
    form = _edit_form(
        page, seasons=seasons, weekend_price_per_night=str(WEEKEND), weekly_discount_percent="10",
        monthly_discount_percent="20",
    )
    response = client.post(f"/admin/pages/{page.pk}/edit/", form)
    assert response.status_code == 302, response.content.decode()[:3000]

    page.refresh_from_db()
    assert (page.weekend_price_per_night, page.weekly_discount_percent, page.monthly_discount_percent) == (WEEKEND, 10, 20)
    assert [(s.start, s.end, s.price_per_night, s.label) for s in page.seasonal_prices.order_by("start")] == seasons

    # The next booking is priced with them: Thu, Fri, Sat, Sun*, Mon*, Tue**, Wed** nights, 10 % off.
    data = book(UserFactory(), page, thursday, 7).json()
    assert [night["price"] for night in data["nightly_prices"]] == [BASE, WEEKEND, WEEKEND, SEASON, SEASON, 7000, 7000]
    assert data["total_price"] == 50000 - 5000


def test_overlapping_seasons_are_refused_with_a_clear_message(client, owned, thursday):
    owner, page = owned
    client.force_login(owner)
    seasons = [
        (thursday, thursday + 10 * ONE_DAY, SEASON, "Christmas"),
        (thursday + 9 * ONE_DAY, thursday + 12 * ONE_DAY, 7000, "New Year"),
    ]
    response = client.post(f"/admin/pages/{page.pk}/edit/", _edit_form(page, seasons=seasons))
    assert response.status_code == 200
    html = response.content.decode()
    assert "This season overlaps the season" in html and "Christmas" in html
    assert "Seasons may not overlap" in html
    assert not PropertySeasonalPrice.objects.filter(page=page).exists()
    assert not page.get_latest_revision_as_object().seasonal_prices.all()


def test_a_season_that_ends_before_it_starts_is_refused(client, owned, thursday):
    owner, page = owned
    client.force_login(owner)
    seasons = [(thursday + 5 * ONE_DAY, thursday + 5 * ONE_DAY, SEASON, "Backwards")]
    response = client.post(f"/admin/pages/{page.pk}/edit/", _edit_form(page, seasons=seasons))
    assert response.status_code == 200
    assert "A season ends after it starts" in response.content.decode()
    assert not PropertySeasonalPrice.objects.filter(page=page).exists()


def test_discounts_above_the_cap_are_refused_and_an_emptied_box_means_none(client, owned):
    owner, page = owned
    client.force_login(owner)
    response = client.post(f"/admin/pages/{page.pk}/edit/", _edit_form(page, weekly_discount_percent="95"))
    assert response.status_code == 200
    page.refresh_from_db()
    assert page.weekly_discount_percent == 0

    response = client.post(
        f"/admin/pages/{page.pk}/edit/", _edit_form(page, weekly_discount_percent="", monthly_discount_percent="")
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    page.refresh_from_db()
    assert (page.weekly_discount_percent, page.monthly_discount_percent) == (0, 0)


def test_another_owner_cannot_change_the_seasons(client, owned, thursday):
    from tests.factories import OwnerFactory

    _, page = owned
    client.force_login(OwnerFactory())
    seasons = [(thursday, thursday + 3 * ONE_DAY, 1, "Giveaway")]
    response = client.post(f"/admin/pages/{page.pk}/edit/", _edit_form(page, seasons=seasons))
    assert response.status_code in (302, 403, 404)
    assert not PropertySeasonalPrice.objects.filter(page=page).exists()


# --- Bookings made before seasonal prices --------------------------------------------------------


def test_the_migration_writes_the_breakdown_of_bookings_made_before(site_tree):
    """Such bookings were priced at price_per_night every night; one whose total says
    otherwise is left without a breakdown rather than given one it never had."""
    from importlib import import_module

    from django.apps import apps

    from tests.factories import make_booking

    migration = import_module("reservations.migrations.0010_booking_nightly_prices")
    prop = make_property(price_per_night=4500)
    old = make_booking(property=prop, check_in=future_date(30), nights=3)
    odd = make_booking(property=prop, check_in=future_date(40), nights=2)
    Booking.objects.filter(pk=odd.pk).update(total_price=1234)
    assert Booking.objects.get(pk=old.pk).nightly_prices == []

    migration.backfill_nightly_prices(apps, None)

    old.refresh_from_db()
    assert old.nightly_prices == [{"date": d, "price": 4500} for d in days(old.check_in, 3)]
    odd.refresh_from_db()
    assert odd.nightly_prices == []
    # The API shows the old booking's nights either way.
    data = api_for(old.primary_guest).get(f"{BOOKINGS}{old.pk}/").json()
    assert (data["nightly_prices"], data["discount"], data["total_price"]) == (old.nightly_prices, 0, 13500)


def test_demo_listings_come_with_seasons_and_weekend_prices(client, site_tree):
    from accounts.demo import seed_users
    from listings.demo import seed_listings

    pages = {page.slug: page for page in seed_listings(users=seed_users())}
    villa = pages["watamu-reef-villa"]
    seasons = list(villa.seasonal_prices.order_by("start"))
    assert {season.label for season in seasons} == {"Christmas and New Year", "Long rains"}
    today = future_date(0)
    assert all(season.end > today for season in seasons)
    christmas = next(season for season in seasons if season.label == "Christmas and New Year")
    quote = villa.price_rules().quote(christmas.start, christmas.start + ONE_DAY)
    assert quote.total == christmas.price_per_night == 26000
    assert villa.weekend_price_per_night == 21000
    assert "day-price" in client.get(villa.url).content.decode()


def test_the_listing_api_shows_its_price_rules(api_client, site_tree):
    prop = make_property(price_per_night=BASE, weekend_price_per_night=WEEKEND, weekly_discount_percent=10)
    data = api_client.get(f"/api/properties/{prop.pk}/").json()
    assert (data["price_per_night"], data["weekend_price_per_night"]) == (BASE, WEEKEND)
    assert (data["weekly_discount_percent"], data["monthly_discount_percent"]) == (10, 0)
