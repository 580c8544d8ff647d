"""The analytics report (mpesa/analytics_views.py): every figure of a seeded November and
December 2025 checked against values worked out by hand below, owner scoping on the page
and in both exports, the filter's refusals, and a query budget that does not grow with
the number of bookings.

The seed (Nairobi times; "night of the 30th" = the night starting on the 30th):

Amina (owner A)
  "Amina's cottage" (A), on the site since 1 Jan 2025, KES 5,000 a night
    a1 CONFIRMED  30 Nov -> 3 Dec (3 nights, KES 15,000), booked 5 Nov, paid 15,000 on 5 Nov
    a2 PROCESSING 10 Nov -> 14 Nov (4 nights, KES 22,000), booked 2 Nov 23:30, paid 10,000 on 2 Nov 23:45
    a3 CANCELED (guest) 10 -> 15 Dec, booked 1 Dec 01:00 (30 Nov 22:00 UTC), cancelled 5 Dec,
       kept 5,000 paid on 1 Dec 02:00 (30 Nov 23:00 UTC)
    a4 CANCELED (hold expired) 20 -> 22 Nov, booked and lapsed on 20 Nov: neither booking nor cancellation
    a5 PENDING 20 -> 22 Dec, booked 19 Dec: a booking, but no nights sold
    a6 CONFIRMED 10 -> 12 Jan 2026, booked and paid 5 Jan 2026: outside the range
    a failed payment of 3,000 on 10 Nov: no revenue
    blocked 24 -> 28 Dec and (overlapping, as a calendar import would) 26 -> 30 Dec: 6 nights
  "Amina's flat" (C), published 1 Oct 2025, unpublished 21 Nov 2025: 20 nights on offer in November
Bakari (owner B)
  "Bakari's villa" (B), published 11 Nov 2025 10:00, KES 8,000 a night
    b1 CONFIRMED 15 -> 20 Nov (5 nights, KES 40,000), booked 12 Nov, paid 40,000 on 12 Nov
    b2 CONFIRMED 30 Dec -> 2 Jan 2026 (3 nights, KES 24,000), booked 15 Dec, paid 24,000
       (no M-Pesa transaction time: dated by the payment's creation, 15 Dec)
    b3 CANCELED (owner) 5 -> 7 Dec, booked 13 Nov, cancelled 14 Nov, paid 8,000 on 13 Nov,
       refunded 8,000 on 16 Nov
    blocked 25 Nov -> 2 Dec: 6 nights in November, 1 in December
  "Draft villa", never published and nothing booked: no row
"""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook
from wagtail.models import PageLogEntry

from listings.models import BlockedPeriod, PropertyPage
from mpesa.analytics import analytics_for
from mpesa.dashboard import business_for_user
from mpesa.models import Payment
from reservations.analytics import Month, default_months, months_between
from reservations.models import Booking
from tests.factories import OwnerFactory, StaffFactory, UserFactory, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db

URL = "/admin/reports/analytics/"
RANGE = {"month_from": "2025-11", "month_to": "2025-12"}
NOV, DEC = "2025-11", "2025-12"


def nairobi(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def booking(stay, reference, check_in, nights, status, *, booked, total=None, canceled=None, kind=""):
    row = make_booking(property=stay, check_in=day(check_in), nights=nights, status=status, reference=reference)
    Booking.objects.filter(pk=row.pk).update(
        booking_date=nairobi(booked),
        total_price=total or row.total_price,
        canceled_at=nairobi(canceled) if canceled else None,
        cancel_kind=kind,
    )
    row.refresh_from_db()
    return row


def paid(row, amount, at, *, kind="PAYMENT", status="SUCCESS", created=None, **fields):
    payment = make_payment(booking=row, amount=amount, kind=kind, status=status, **fields)
    changes = {"created_at": nairobi(created or at)}
    if kind == "PAYMENT" and status == "SUCCESS":
        changes["transaction_date"] = nairobi(at) if created is None else None
    Payment.objects.filter(pk=payment.pk).update(**changes)
    return payment


@pytest.fixture
def seeded(site_tree):
    return seed_november_and_december(site_tree)


def seed_november_and_december(site_tree) -> dict:
    """The seed of this module's docstring (also the browser test's)."""
    owner_a, owner_b = OwnerFactory(name="Amina Owner"), OwnerFactory(name="Bakari Owner")
    cottage = make_property(owner=owner_a, index=site_tree, title="Amina's cottage", price_per_night=5000)
    flat = make_property(owner=owner_a, index=site_tree, title="Amina's flat", price_per_night=3000)
    villa = make_property(owner=owner_b, index=site_tree, title="Bakari's villa", price_per_night=8000)
    draft = make_property(owner=owner_b, index=site_tree, title="Draft villa", publish=False)
    flat.unpublish(user=owner_a)  # first: unpublishing saves the whole page
    PropertyPage.objects.filter(pk=cottage.pk).update(first_published_at=nairobi("2025-01-01T08:00"))
    PropertyPage.objects.filter(pk=flat.pk).update(first_published_at=nairobi("2025-10-01T08:00"))
    PropertyPage.objects.filter(pk=villa.pk).update(first_published_at=nairobi("2025-11-11T10:00"))
    PageLogEntry.objects.filter(page_id=flat.pk, action="wagtail.unpublish").update(
        timestamp=nairobi("2025-11-21T09:00")
    )

    a1 = booking(cottage, "NXA1", "2025-11-30", 3, "CONFIRMED", booked="2025-11-05T09:00")
    a2 = booking(cottage, "NXA2", "2025-11-10", 4, "PROCESSING", booked="2025-11-02T23:30", total=22000)
    a3 = booking(
        cottage, "NXA3", "2025-12-10", 5, "CANCELED",
        booked="2025-12-01T01:00", canceled="2025-12-05T12:00", kind="guest",
    )
    booking(
        cottage, "NXA4", "2025-11-20", 2, "CANCELED",
        booked="2025-11-20T10:00", canceled="2025-11-20T10:15", kind="hold_expired",
    )
    booking(cottage, "NXA5", "2025-12-20", 2, "PENDING", booked="2025-12-19T18:00")
    a6 = booking(cottage, "NXA6", "2026-01-10", 2, "CONFIRMED", booked="2026-01-05T12:00")
    paid(a1, 15000, "2025-11-05T09:05")
    paid(a2, 10000, "2025-11-02T23:45")
    paid(a2, 3000, "2025-11-10T12:00", status="FAILED")
    paid(a3, 5000, "2025-12-01T02:00")
    paid(a6, 10000, "2026-01-05T12:05")
    BlockedPeriod.objects.create(property=cottage, start=day("2025-12-24"), end=day("2025-12-28"))
    BlockedPeriod.objects.create(property=cottage, start=day("2025-12-26"), end=day("2025-12-30"), reason="Airbnb")

    b1 = booking(villa, "NXB1", "2025-11-15", 5, "CONFIRMED", booked="2025-11-12T11:00")
    b2 = booking(villa, "NXB2", "2025-12-30", 3, "CONFIRMED", booked="2025-12-15T10:00")
    b3 = booking(
        villa, "NXB3", "2025-12-05", 2, "CANCELED",
        booked="2025-11-13T08:00", canceled="2025-11-14T08:00", kind="owner",
    )
    paid(b1, 40000, "2025-11-12T12:00")
    paid(b2, 24000, None, created="2025-12-15T10:05")
    deposit = paid(b3, 8000, "2025-11-13T08:10")
    paid(b3, 8000, None, kind="REFUND", refund_of=deposit, refund_reference="RFDB3", created="2025-11-16T09:00")
    BlockedPeriod.objects.create(property=villa, start=day("2025-11-25"), end=day("2025-12-02"))

    return {
        "owner_a": owner_a,
        "owner_b": owner_b,
        "staff": StaffFactory(name="Wanjiru Staff"),
        "cottage": cottage,
        "flat": flat,
        "villa": villa,
        "draft": draft,
    }


# Hand-computed, per property and month: (live, blocked, available, sold, occupancy %,
# received, refunded, revenue, stay value, average nightly rate, bookings, cancellations).
EXPECTED = {
    ("Amina's cottage", NOV): (30, 0, 30, 5, "16.7", 25000, 0, 25000, 27000, 5400, 2, 0),
    ("Amina's cottage", DEC): (31, 6, 25, 2, "8.0", 5000, 0, 5000, 10000, 5000, 2, 1),
    ("Amina's flat", NOV): (20, 0, 20, 0, "0.0", 0, 0, 0, 0, None, 0, 0),
    ("Amina's flat", DEC): (0, 0, 0, 0, None, 0, 0, 0, 0, None, 0, 0),
    ("Bakari's villa", NOV): (20, 6, 14, 5, "35.7", 48000, 8000, 40000, 40000, 8000, 2, 1),
    ("Bakari's villa", DEC): (31, 1, 30, 2, "6.7", 24000, 0, 24000, 16000, 8000, 1, 0),
}
FIELDS = (
    "nights_live",
    "nights_blocked",
    "nights_available",
    "nights_sold",
    "occupancy_percent",
    "received",
    "refunded",
    "revenue",
    "stay_value",
    "average_nightly_rate",
    "bookings",
    "cancellations",
)
HEADINGS = (
    "Nights listed",
    "Nights blocked",
    "Nights available",
    "Nights sold",
    "Occupancy (%)",
    "Received (KES)",
    "Refunded (KES)",
    "Revenue (KES)",
    "Stay value (KES)",
    "Average nightly rate (KES)",
    "Bookings",
    "Cancellations",
)


def values(figures) -> tuple:
    out = []
    for name in FIELDS:
        value = getattr(figures, name)
        out.append(str(value) if isinstance(value, Decimal) else value)
    return tuple(out)


def scoped(user):
    from reservations.permissions import properties_visible_to

    return properties_visible_to(user)


NOV_DEC = months_between(Month(2025, 11), Month(2025, 12))


def test_every_figure_per_property_and_month_matches_the_hand_count(seeded):
    analytics = analytics_for(properties=scoped(seeded["staff"]), months=NOV_DEC)
    assert [row.title for row in analytics.properties] == ["Amina's cottage", "Amina's flat", "Bakari's villa"]
    for row in analytics.properties:
        assert values(row.months[0]) == EXPECTED[(row.title, NOV)], (row.title, NOV)
        assert values(row.months[1]) == EXPECTED[(row.title, DEC)], (row.title, DEC)


def test_month_totals_and_range_totals_for_staff(seeded):
    analytics = analytics_for(properties=scoped(seeded["staff"]), months=NOV_DEC)
    nov, dec = (row.figures for row in analytics.months)
    # November: sold 5 + 0 + 5 = 10 of 30 + 20 + 14 = 64 nights; stay value 27,000 + 40,000 over 10 nights.
    assert values(nov) == (70, 6, 64, 10, "15.6", 73000, 8000, 65000, 67000, 6700, 4, 1)
    # December: 2 + 2 = 4 of 25 + 30 = 55 nights; 10,000 + 16,000 over 4 nights.
    assert values(dec) == (62, 7, 55, 4, "7.3", 29000, 0, 29000, 26000, 6500, 3, 1)
    # Both months: 14 of 119 nights = 11.76 %; 93,000 over 14 nights = 6,642.86.
    assert values(analytics.total) == (132, 13, 119, 14, "11.8", 102000, 8000, 94000, 93000, 6643, 7, 2)
    cottage = analytics.properties[0].figures
    # 37,000 over 7 nights = 5,285.71.
    assert (cottage.occupancy_percent, cottage.average_nightly_rate, cottage.revenue) == (Decimal("12.7"), 5286, 30000)


def test_a_stay_across_the_month_boundary_is_split_by_night(seeded):
    """a1, 30 Nov -> 3 Dec: the night of the 30th in November, the 1st and 2nd in December,
    each at a third of its KES 15,000."""
    january = analytics_for(properties=scoped(seeded["staff"]), months=[Month(2026, 1)])
    villa = next(row for row in january.properties if row.title == "Bakari's villa")
    assert (villa.months[0].nights_sold, villa.months[0].stay_value) == (1, 8000)  # b2's last night, 1 Jan 2026
    Booking.objects.exclude(reference="NXA1").filter(status__in=("CONFIRMED", "PROCESSING")).update(
        status="CANCELED", cancel_kind="staff"
    )
    analytics = analytics_for(properties=scoped(seeded["staff"]), months=NOV_DEC)
    cottage = analytics.properties[0]
    assert (cottage.months[0].nights_sold, cottage.months[0].stay_value) == (1, 5000)
    assert (cottage.months[1].nights_sold, cottage.months[1].stay_value) == (2, 10000)


def test_owner_sees_only_their_own_properties_and_numbers(seeded):
    analytics = analytics_for(properties=scoped(seeded["owner_a"]), months=NOV_DEC)
    assert [row.title for row in analytics.properties] == ["Amina's cottage", "Amina's flat"]
    nov, dec = (row.figures for row in analytics.months)
    assert (nov.nights_sold, nov.nights_available, nov.occupancy_percent) == (5, 50, Decimal("10.0"))
    assert nov.revenue == 25000
    assert (dec.nights_sold, dec.nights_available, dec.revenue, dec.bookings, dec.cancellations) == (2, 25, 5000, 2, 1)
    analytics_b = analytics_for(properties=scoped(seeded["owner_b"]), months=NOV_DEC)
    assert [row.title for row in analytics_b.properties] == ["Bakari's villa"]
    assert analytics_b.total.revenue == 64000


def test_this_months_revenue_is_the_dashboard_panels_revenue(seeded):
    """The report and the home page's "This month" panel call the same money revenue."""
    today = timezone.localdate()
    stay = make_booking(property=seeded["cottage"], status="CONFIRMED", check_in=today, nights=2, reference="NXNOW1")
    settled = make_payment(booking=stay, amount=10000)
    make_payment(booking=stay, kind="REFUND", status="SUCCESS", amount=2500, refund_of=settled, note="n")
    this_month = Month.of(today)
    for user in (seeded["owner_a"], seeded["staff"]):
        analytics = analytics_for(properties=scoped(user), months=[this_month])
        assert analytics.months[0].figures.revenue == business_for_user(user=user, today=today).revenue == 7500


def test_default_range_is_the_last_twelve_months():
    first, last = default_months(dt.date(2026, 3, 15))
    assert (first.label, last.label) == ("2025-04", "2026-03")
    assert [m.label for m in months_between(first, last)][8:11] == ["2025-12", "2026-01", "2026-02"]
    assert Month(2025, 12).end == dt.date(2026, 1, 1) and Month(2025, 2).end == dt.date(2025, 3, 1)


# -- the admin page and its exports ------------------------------------------------------------


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row)) for row in rows]


def as_expected(row: dict) -> tuple:
    """An export row's figures as the EXPECTED tuples hold them (CSV gives text, XLSX numbers)."""
    out = []
    for heading in HEADINGS:
        value = row[heading]
        if value in ("", None):
            out.append(None)
        elif heading == "Occupancy (%)":
            out.append(str(Decimal(str(value)).quantize(Decimal("0.1"))))
        else:
            out.append(int(value))
    return tuple(out)


def test_staff_page_shows_the_tables_and_the_chart_data(client, seeded):
    client.force_login(seeded["staff"])
    response = client.get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in html and "backoffice/analytics.js" in html
    assert 'data-chart="occupancy"' in html and 'data-chart="revenue"' in html and 'data-chart="bookings"' in html
    for title in ("Amina&#x27;s cottage", "Amina&#x27;s flat", "Bakari&#x27;s villa"):
        assert title in html
    rows = html.split('data-table="properties"')[1].split("</table>")[0]
    assert [f'data-property="{seeded[key].pk}"' in rows for key in ("cottage", "flat", "villa", "draft")] == [
        True, True, True, False,
    ]
    assert "65,000" in html and "15.6 %" in html and "6,643" in html
    chart = response.context["chart_data"]
    assert chart == {
        "labels": ["Nov 2025", "Dec 2025"],
        "occupancy": [15.6, 7.3],
        "revenue": [65000, 29000],
        "bookings": [4, 3],
        "cancellations": [1, 1],
    }
    # The figures reach the script as a JSON data block, not as code.
    block = html.split('<script id="nexus-analytics-data" type="application/json">')[1].split("</script>")[0]
    assert json.loads(block) == chart
    results = client.get(URL + "results/", RANGE).content.decode()
    assert 'id="nexus-analytics-data"' in results and "<script>" not in results


def test_the_report_is_in_the_reports_menu_for_owners_and_staff(client, seeded):
    for user in (seeded["owner_a"], seeded["staff"]):
        client.force_login(user)
        assert "/admin/reports/analytics/" in client.get("/admin/").content.decode()
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 302


@pytest.mark.parametrize("export, reader", [("csv", csv_rows), ("xlsx", xlsx_rows)])
def test_staff_exports_hold_the_hand_counted_figures(client, seeded, export, reader):
    client.force_login(seeded["staff"])
    detail = reader(client.get(URL, {**RANGE, "export": export, "table": "detail"}))
    assert [(r["Month"], r["Property"]) for r in detail] == [
        (NOV, "Amina's cottage"), (NOV, "Amina's flat"), (NOV, "Bakari's villa"),
        (DEC, "Amina's cottage"), (DEC, "Amina's flat"), (DEC, "Bakari's villa"),
    ]
    for row in detail:
        assert as_expected(row) == EXPECTED[(row["Property"], row["Month"])]
        assert int(row["Property id"]) == seeded[{"Amina's cottage": "cottage", "Amina's flat": "flat"}.get(
            row["Property"], "villa")].pk

    months = reader(client.get(URL, {**RANGE, "export": export}))
    assert [r["Month"] for r in months] == [NOV, DEC]
    assert as_expected(months[0]) == (70, 6, 64, 10, "15.6", 73000, 8000, 65000, 67000, 6700, 4, 1)

    properties = reader(client.get(URL, {**RANGE, "export": export, "table": "properties"}))
    by_title = {r["Property"]: r for r in properties}
    assert list(by_title) == ["Amina's cottage", "Amina's flat", "Bakari's villa"]
    assert as_expected(by_title["Bakari's villa"]) == (51, 7, 44, 7, "15.9", 72000, 8000, 64000, 56000, 8000, 3, 1)


@pytest.mark.parametrize("export, reader", [("csv", csv_rows), ("xlsx", xlsx_rows)])
def test_owner_a_never_sees_owner_bs_numbers(client, seeded, export, reader):
    client.force_login(seeded["owner_a"])
    html = client.get(URL, RANGE).content.decode()
    assert "Bakari" not in html and "Amina&#x27;s cottage" in html
    assert "40,000" not in html and "24,000" not in html  # the villa's money
    for table in ("months", "properties", "detail"):
        rows = reader(client.get(URL, {**RANGE, "export": export, "table": table}))
        assert all("Bakari" not in str(row.get("Property", "")) for row in rows)
    months = reader(client.get(URL, {**RANGE, "export": export}))
    assert [as_expected(r)[3:8] for r in months] == [
        (5, "10.0", 25000, 0, 25000),
        (2, "8.0", 5000, 0, 5000),
    ]


@pytest.mark.parametrize("params", [{}, {"export": "csv"}, {"export": "xlsx", "table": "detail"}])
def test_another_owners_property_in_the_filter_is_a_404(client, seeded, params):
    client.force_login(seeded["owner_a"])
    assert client.get(URL, {**RANGE, **params, "property": seeded["villa"].pk}).status_code == 404
    assert client.get(URL, {**RANGE, **params, "property": "not-a-number"}).status_code == 404
    assert client.get(URL, {**RANGE, **params, "property": 99999999}).status_code == 404
    own = client.get(URL, {**RANGE, **params, "property": seeded["cottage"].pk})
    assert own.status_code == 200


def test_property_filter_narrows_the_figures(client, seeded):
    client.force_login(seeded["staff"])
    rows = csv_rows(client.get(URL, {**RANGE, "export": "csv", "property": seeded["villa"].pk}))
    assert [as_expected(r) for r in rows] == [EXPECTED[("Bakari's villa", NOV)], EXPECTED[("Bakari's villa", DEC)]]


def test_an_owner_with_nothing_to_count_gets_a_plain_page(client, seeded):
    client.force_login(OwnerFactory())
    response = client.get(URL, RANGE)
    assert response.status_code == 200
    assert "No property had anything to count" in response.content.decode()
    rows = csv_rows(client.get(URL, {**RANGE, "export": "csv", "table": "properties"}))
    assert rows == []
    months = csv_rows(client.get(URL, {**RANGE, "export": "csv"}))
    assert [(r["Month"], r["Revenue (KES)"], r["Occupancy (%)"]) for r in months] == [(NOV, "0", ""), (DEC, "0", "")]


def test_guests_and_visitors_get_the_admin_login(client, seeded):
    for params in ({}, {"export": "csv"}):
        response = client.get(URL, params)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(UserFactory())
    response = client.get(URL, {"export": "csv"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"month_from": "2025-13"}, "Enter a month as YYYY-MM"),
        ({"month_to": "Nov 2025"}, "Enter a month as YYYY-MM"),
        ({"month_from": "9999-12", "month_to": "9999-12"}, "between 2000-01 and 2099-12"),
        ({"month_from": "2025-12", "month_to": "2025-11"}, "must not be before"),
        ({"month_from": "2020-01", "month_to": "2023-01"}, "at most 36 months"),
    ],
)
def test_a_bad_range_is_refused_in_words(client, seeded, params, message):
    client.force_login(seeded["staff"])
    response = client.get(URL, params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "data-chart=" not in response.content.decode()
    assert client.get(URL, {**params, "export": "csv"}).status_code == 400


def test_one_month_given_makes_a_twelve_month_range(client, seeded):
    client.force_login(seeded["staff"])
    rows = csv_rows(client.get(URL, {"month_from": "2025-06", "export": "csv"}))
    assert [r["Month"] for r in rows] == [Month(2025, 6).shift(n).label for n in range(12)]
    rows = csv_rows(client.get(URL, {"month_to": "2025-06", "export": "csv"}))
    assert [r["Month"][:7] for r in rows][-1] == "2025-06" and len(rows) == 12
    widest = csv_rows(client.get(URL, {"month_from": "2023-01", "month_to": "2025-12", "export": "csv"}))
    assert len(widest) == 36 and widest[-2]["Revenue (KES)"] == "65000"
    default = csv_rows(client.get(URL, {"export": "csv"}))
    first, last = default_months()
    assert [r["Month"] for r in default] == [m.label for m in months_between(first, last)]


def test_formula_like_titles_stay_text_in_the_csv(client, seeded):
    PropertyPage.objects.filter(pk=seeded["villa"].pk).update(title='=HYPERLINK("http://x.example","a")')
    client.force_login(seeded["staff"])
    rows = csv_rows(client.get(URL, {**RANGE, "export": "csv", "table": "properties"}))
    titles = [row["Property"] for row in rows]
    assert '\'=HYPERLINK("http://x.example","a")' in titles and "Amina's cottage" in titles


def _more_bookings(seeded, count: int):
    for n in range(count):
        row = booking(
            seeded["cottage"], f"NXQ{n:03d}", (dt.date(2025, 1, 1) + dt.timedelta(days=n * 2)).isoformat(), 1,
            "CONFIRMED", booked="2024-12-20T10:00",
        )
        paid(row, 5000, "2025-01-01T10:05")


def test_the_figures_take_a_fixed_number_of_queries(seeded, django_assert_max_num_queries):
    """Five queries for the figures (listings, their last unpublish, blocked periods, one
    aggregate over bookings, one over payments), with 0 or 30 more bookings and payments."""
    months = months_between(Month(2025, 1), Month(2025, 12))
    properties = scoped(seeded["staff"])
    with django_assert_max_num_queries(5):
        before = analytics_for(properties=properties, months=months)
    _more_bookings(seeded, 30)
    with django_assert_max_num_queries(5):
        after = analytics_for(properties=properties, months=months)
    assert after.total.nights_sold == before.total.nights_sold + 30
    assert after.total.revenue == before.total.revenue + 30 * 5000
    assert after.total.bookings == before.total.bookings  # booked in December 2024


def test_the_page_and_its_export_cost_the_same_queries_however_many_bookings(client, seeded):
    client.force_login(seeded["staff"])
    params = {"month_from": "2025-01", "month_to": "2025-12"}
    client.get(URL, params)  # warm the per-process caches (site, permissions)

    def count(extra):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {**params, **extra}).status_code == 200
        return len(queries)

    page, export = count({}), count({"export": "xlsx", "table": "detail"})
    _more_bookings(seeded, 30)
    assert (count({}), count({"export": "xlsx", "table": "detail"})) == (page, export)
    assert page <= 20 and export <= 12  # 15 and 10 when written: session, user, permissions, admin menu


@pytest.mark.parametrize("field", ["month_from", "month_to", "property"])
def test_any_value_typed_into_the_filter_is_answered_never_a_500(client, seeded, field):
    from tests.backoffice.test_security_admin_filters import BAD_VALUES, BEYOND_INT64

    client.force_login(seeded["owner_a"])
    for value in BAD_VALUES:
        for export in ({}, {"export": "csv"}):
            status = client.get(URL, {field: value, **export}).status_code
            if value in BEYOND_INT64:
                expected = 400  # refused before any view (core.middleware.AdminQueryBoundsMiddleware)
            elif field == "property":
                expected = 404
            else:
                expected = 400 if export else 200  # the page says why; a download of nothing is refused
            assert status == expected, (field, value, export, status)
