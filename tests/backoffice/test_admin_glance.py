"""The admin at a glance (issue 15): real dates, Nairobi times with the offset in every
export, shillings with separators, coloured payment badges with the failure reason,
search by name, property, reference, receipt and phone (owner-scoped), the re-check
message in words and an audit trail that shows only what changed."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.staticfiles import finders
from django.urls import reverse
from openpyxl import load_workbook

from core.services import audit_record
from mpesa.models import Payment
from reservations.models import Booking, BookingGuest
from tests.factories import StaffFactory, make_booking, make_payment, make_property, start_payment

BOOKINGS_LIST = "/admin/snippets/reservations/booking/"
BOOKINGS_REPORT = "/admin/reports/bookings/"
PAYMENTS_LIST = "/admin/snippets/mpesa/payment/"
PAYMENTS_REPORT = "/admin/reports/payments/"

UTC = dt.timezone.utc
# 11:05 UTC is 14:05 in Nairobi (UTC+3, no daylight saving).
BOOKED_AT = dt.datetime(2026, 12, 10, 11, 5, tzinfo=UTC)
UPDATED_AT = dt.datetime(2026, 12, 10, 11, 6, 30, tzinfo=UTC)
ISO_NAIROBI = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00")
LOOKS_LIKE_A_MOMENT = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d")


@pytest.fixture
def glance(world):
    """The two-owner world with known dates, a 10,800 shilling stay and phones on record.

    booking_a: Amina's cottage, Thu 10 Dec 2026 to Sun 13 Dec 2026, booked 14:05 Nairobi,
    KES 10,800 of which 10,000 paid; payment_a created 14:05 and updated 14:06:30.
    booking_b has a co-guest with a phone; guest_a has a phone on their account.
    """
    Booking.objects.filter(pk=world["booking_a"].pk).update(
        check_in=dt.date(2026, 12, 10),
        check_out=dt.date(2026, 12, 13),
        nights=3,
        price_per_night=3600,
        total_price=10800,
        amount_paid=10000,
        balance_due=800,
        booking_date=BOOKED_AT,
    )
    Payment.objects.filter(pk=world["payment_a"].pk).update(created_at=BOOKED_AT, updated_at=UPDATED_AT)
    world["guest_a"].phone_number = "+254733000111"
    world["guest_a"].save(update_fields=["phone_number"])
    BookingGuest.objects.create(booking=world["booking_b"], name="Zawadi Cousin", phone_number="+254744000222")
    for key in ("booking_a", "payment_a"):
        world[key].refresh_from_db()
    return world


def listing_rows(response) -> list[str]:
    """The HTML of each row of the list's table (the listing or report results)."""
    assert response.status_code == 200
    html = response.content.decode()
    tbody = re.search(r"<tbody>(.*?)</tbody>", html, re.S)
    return re.findall(r"<tr.*?</tr>", tbody.group(1), re.S) if tbody else []


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ,", ",").strip()


def row_with(response, marker: str) -> str:
    [row] = [r for r in listing_rows(response) if marker in r]
    return row


def payment_marker(payment) -> str:
    return f"/admin/snippets/mpesa/payment/inspect/{payment.pk}/"


def listed_ids(response, model: str) -> list[int]:
    """One id per row, in order: a row listed twice shows up twice."""
    ids = []
    for row in listing_rows(response):
        ids.append(int(re.search(rf"/admin/snippets/{model}/inspect/(\d+)/", row).group(1)))
    return ids


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_rows(response) -> list[dict]:
    assert response.status_code == 200 and "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row)) for row in rows]


def as_csv_text(row: dict) -> dict:
    return {key: "" if value is None else str(value) for key, value in row.items()}


# -- real dates and amounts in the lists and reports ------------------------------------------


@pytest.mark.parametrize("url", [BOOKINGS_LIST, BOOKINGS_REPORT])
def test_bookings_list_and_report_show_real_dates_and_shillings(client, glance, url):
    client.force_login(glance["staff"])
    response = client.get(url)
    row = text_of(row_with(response, "NXAAAA2A"))

    assert "Thu 10 Dec 2026 to Sun 13 Dec 2026 3 nights" in row
    assert "Thu 10 Dec 2026, 14:05" in row  # booked, Nairobi time
    assert "KES 10,800" in row and "KES 800 due" in row
    table = text_of("".join(listing_rows(response)))
    assert " ago" not in table and "Just now" not in table


@pytest.mark.parametrize("url", [PAYMENTS_LIST, PAYMENTS_REPORT])
def test_payments_list_and_report_show_nairobi_times_and_shillings(client, glance, url):
    client.force_login(glance["staff"])
    response = client.get(url)
    row = text_of(row_with(response, payment_marker(glance["payment_a"])))

    assert "Thu 10 Dec 2026, 14:05" in row
    assert "KES 10,000" in row
    assert "NXAAAA2A Amina's cottage" in row.replace("&#x27;", "'")
    assert " ago" not in text_of("".join(listing_rows(response)))


def test_booking_and_payment_detail_pages_show_shillings_and_nairobi_times(client, glance):
    client.force_login(glance["staff"])
    booking = text_of(client.get(f"{BOOKINGS_LIST}inspect/{glance['booking_a'].pk}/").content.decode())
    assert "Stay Thu 10 Dec 2026 to Sun 13 Dec 2026" in booking
    assert "KES 3,600 × 3 = KES 10,800" in booking and "Balance KES 800" in booking
    assert "Booked Thu 10 Dec 2026, 14:05" in booking
    payment = text_of(client.get(f"{PAYMENTS_LIST}inspect/{glance['payment_a'].pk}/").content.decode())
    assert "Amount requested KES 10,000" in payment and "Created Thu 10 Dec 2026, 14:05" in payment


# -- exports: Nairobi time with the offset, the same in CSV and XLSX ------------------------------


@pytest.mark.parametrize("url", [BOOKINGS_LIST, BOOKINGS_REPORT])
def test_booking_exports_write_nairobi_times_with_the_offset_alike_in_csv_and_xlsx(client, glance, url):
    Booking.objects.filter(pk=glance["booking_b"].pk).update(
        status="CANCELED", canceled_at=dt.datetime(2026, 12, 1, 21, 30, tzinfo=UTC), cancel_reason="Plans changed"
    )
    client.force_login(glance["staff"])
    from_csv = {r["Reference"]: r for r in csv_rows(client.get(url, {"export": "csv"}))}
    from_xlsx = {r["Reference"]: r for r in xlsx_rows(client.get(url, {"export": "xlsx"}))}

    a, b = from_csv["NXAAAA2A"], from_csv["NXBBBB2B"]
    assert a["Booked (Nairobi)"] == "2026-12-10T14:05:00+03:00"
    assert b["Cancelled (Nairobi)"] == "2026-12-02T00:30:00+03:00"  # the next day in Nairobi
    assert (a["Check in"], a["Check out"]) == ("2026-12-10", "2026-12-13")  # dates stay dates
    assert (a["Total (KES)"], a["Paid (KES)"], a["Balance (KES)"]) == ("10800", "10000", "800")
    assert from_xlsx["NXAAAA2A"]["Total (KES)"] == 10800  # a number a spreadsheet can add up
    assert {ref: as_csv_text(row) for ref, row in from_xlsx.items()} == from_csv
    assert_every_moment_is_nairobi_iso(from_csv.values())


@pytest.mark.parametrize("url", [PAYMENTS_LIST, PAYMENTS_REPORT])
def test_payment_exports_write_nairobi_times_with_the_offset_alike_in_csv_and_xlsx(client, glance, url):
    Payment.objects.filter(pk=glance["payment_a"].pk).update(
        transaction_date=dt.datetime(2026, 12, 10, 11, 5, 42, tzinfo=UTC)
    )
    client.force_login(glance["staff"])
    from_csv = {r["Payment id"]: r for r in csv_rows(client.get(url, {"export": "csv"}))}
    from_xlsx = {str(r["Payment id"]): r for r in xlsx_rows(client.get(url, {"export": "xlsx"}))}

    row = from_csv[str(glance["payment_a"].pk)]
    assert row["Created (Nairobi)"] == "2026-12-10T14:05:00+03:00"
    assert row["Updated (Nairobi)"] == "2026-12-10T14:06:30+03:00"
    assert row["Amount (KES)"] == "10000" and from_xlsx[str(glance["payment_a"].pk)]["Amount (KES)"] == 10000
    assert {pk: as_csv_text(r) for pk, r in from_xlsx.items()} == from_csv
    assert_every_moment_is_nairobi_iso(from_csv.values())


def assert_every_moment_is_nairobi_iso(rows) -> None:
    """No datetime column anywhere escapes the shared formatter (UTC, no offset, microseconds)."""
    moments = [v for row in rows for v in row.values() if LOOKS_LIKE_A_MOMENT.match(v or "")]
    assert moments and all(ISO_NAIROBI.fullmatch(v) for v in moments), moments


def test_owner_exports_stay_scoped_and_use_the_same_times(client, glance):
    client.force_login(glance["owner_a"])
    rows = csv_rows(client.get(BOOKINGS_LIST, {"export": "csv"}))
    assert [r["Reference"] for r in rows] == ["NXAAAA2A"]
    assert rows[0]["Booked (Nairobi)"] == "2026-12-10T14:05:00+03:00"
    rows = xlsx_rows(client.get(PAYMENTS_REPORT, {"export": "xlsx"}))
    assert [r["Payment id"] for r in rows] == [glance["payment_a"].pk]


# -- badges and the failure reason ---------------------------------------------------------


def badge_tone(row_html: str) -> str:
    return re.search(r'class="w-status nexus-badge nexus-badge--(\w+)"', row_html).group(1)


@pytest.mark.parametrize("url", [PAYMENTS_LIST, PAYMENTS_REPORT])
def test_payment_badges_have_a_colour_per_outcome_and_a_failed_one_says_why(client, glance, url):
    booking = glance["booking_b"]
    reason = "Request cancelled by user on the phone's M-Pesa menu, twice"
    failed = make_payment(booking=booking, status="FAILED", amount=2500, failure_reason=reason)
    pending = make_payment(booking=booking, status="PENDING", amount=2500)
    queued = make_payment(booking=booking, status="QUEUED", amount=2500)
    client.force_login(glance["staff"])
    response = client.get(url)
    rows = {p: row_with(response, payment_marker(p)) for p in (glance["payment_a"], failed, pending, queued)}

    tones = {p.status: badge_tone(row) for p, row in rows.items()}
    assert tones == {"SUCCESS": "positive", "FAILED": "critical", "PENDING": "pending", "QUEUED": "pending"}
    # The reason sits beside the FAILED badge: cut short in the list, whole in its title.
    assert f'title="{reason}"'.replace("'", "&#x27;") in rows[failed]
    assert "Request cancelled by user on the phone" in text_of(rows[failed]).replace("&#x27;", "'")
    assert all("nexus-badge-note" not in rows[p] for p in (glance["payment_a"], pending, queued))


def test_badge_colours_are_styled_differently_and_loaded_on_every_admin_page(client, glance):
    client.force_login(glance["staff"])
    assert "backoffice/admin.css" in client.get("/admin/").content.decode()
    css = open(finders.find("backoffice/admin.css")).read()
    backgrounds = {
        tone: re.search(rf"\.nexus-badge--{tone}\s*{{[^}}]*background:\s*([^;]+);", css).group(1)
        for tone in ("positive", "critical", "pending")
    }
    assert len(set(backgrounds.values())) == 3, backgrounds


def test_booking_status_badges_are_coloured_too(client, glance):
    pending = make_booking(property=glance["stay_a"], check_in=dt.date(2027, 1, 5), reference="NXAAAA4A")
    client.force_login(glance["staff"])
    response = client.get(BOOKINGS_LIST)
    assert badge_tone(row_with(response, "NXAAAA2A")) == "positive"
    assert badge_tone(row_with(response, pending.reference)) == "pending"


# -- search by name, property, reference, receipt and phone -------------------------------------


PHONE_FORMS_A = ["0711111111", "0711 111 111", "+254711111111", "+254 711 111 111", "254711111111"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Achieng", "payment_a"),  # guest name
        ("cottage", "payment_a"),  # property title
        ("nxbbbb2b", "payment_b"),  # booking reference, any case
        ("receipt_b", "payment_b"),  # M-Pesa receipt
        ("0733000111", "payment_a"),  # the guest's account phone, typed the Kenyan way
        *[(phone, "payment_a") for phone in PHONE_FORMS_A],  # the phone that paid
    ],
)
def test_staff_search_payments(client, glance, query, expected):
    query = glance["payment_b"].mpesa_receipt_number if query == "receipt_b" else query
    client.force_login(glance["staff"])
    assert listed_ids(client.get(PAYMENTS_LIST, {"q": query}), "mpesa/payment") == [glance[expected].pk]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Baraka", "booking_b"),  # primary guest's name
        ("Zawadi", "booking_b"),  # a co-guest's name
        ("villa", "booking_b"),  # property title
        ("NXAAAA2A", "booking_a"),  # reference
        ("receipt_a", "booking_a"),  # M-Pesa receipt of one of its payments
        ("0733000111", "booking_a"),  # primary guest's account phone
        ("+254 744 000 222", "booking_b"),  # co-guest's phone
        *[(phone, "booking_a") for phone in PHONE_FORMS_A],  # the phone that paid
    ],
)
def test_staff_search_bookings(client, glance, query, expected):
    query = glance["payment_a"].mpesa_receipt_number if query == "receipt_a" else query
    client.force_login(glance["staff"])
    assert listed_ids(client.get(BOOKINGS_LIST, {"q": query}), "reservations/booking") == [glance[expected].pk]


def test_a_booking_found_through_several_payments_is_listed_once(client, glance):
    make_payment(booking=glance["booking_a"], status="FAILED", amount=800, phone_number="254711111111")
    make_payment(booking=glance["booking_a"], status="PENDING", amount=800, phone_number="254711111111")
    client.force_login(glance["staff"])
    assert listed_ids(client.get(BOOKINGS_LIST, {"q": "0711111111"}), "reservations/booking") == [
        glance["booking_a"].pk
    ]


def test_owner_search_stays_within_their_own_properties(client, glance):
    # The same phone paid on both owners' bookings; both guests are named "... Guest".
    on_b = make_payment(booking=glance["booking_b"], status="FAILED", amount=500, phone_number="254711111111")

    client.force_login(glance["owner_b"])
    assert listed_ids(client.get(PAYMENTS_LIST, {"q": "0711111111"}), "mpesa/payment") == [on_b.pk]
    assert listed_ids(client.get(BOOKINGS_LIST, {"q": "+254711111111"}), "reservations/booking") == [
        glance["booking_b"].pk
    ]
    assert listed_ids(client.get(BOOKINGS_LIST, {"q": "Guest"}), "reservations/booking") == [glance["booking_b"].pk]
    for query in ("Achieng", "cottage", "NXAAAA2A", glance["payment_a"].mpesa_receipt_number, "0733000111"):
        assert listed_ids(client.get(PAYMENTS_LIST, {"q": query}), "mpesa/payment") == [], query
        assert listed_ids(client.get(BOOKINGS_LIST, {"q": query}), "reservations/booking") == [], query

    client.force_login(glance["staff"])
    assert sorted(listed_ids(client.get(PAYMENTS_LIST, {"q": "0711111111"}), "mpesa/payment")) == sorted(
        [glance["payment_a"].pk, on_b.pk]
    )


def test_owner_search_export_is_scoped_too(client, glance):
    client.force_login(glance["owner_a"])
    rows = csv_rows(client.get(PAYMENTS_LIST, {"q": "Guest", "export": "csv"}))
    assert [int(r["Payment id"]) for r in rows] == [glance["payment_a"].pk]


def test_search_queries_do_not_grow_with_rows(client, glance, django_assert_max_num_queries):
    for n in range(6):
        make_payment(booking=glance["booking_a"], status="FAILED", amount=100 + n, phone_number="254711111111")
    client.force_login(glance["staff"])
    with django_assert_max_num_queries(30):
        response = client.get(PAYMENTS_LIST, {"q": "0711111111"})
    assert len(listed_ids(response, "mpesa/payment")) == 7


# -- re-check with M-Pesa: the message says what happened, at the right level ---------------------


@pytest.mark.django_db(transaction=True)
def test_recheck_of_a_payment_with_no_final_answer_is_an_info_message_in_words(client, simulator):
    booking = make_booking(property=make_property(price_per_night=3000), nights=1)
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number="0712345678", amount=3000)
    client.force_login(StaffFactory())

    response = client.post(reverse("wagtailsnippets_mpesa_payment:recheck", args=[payment.pk]), follow=True)

    [message] = list(response.context["messages"])
    assert message.level_tag == "info"
    assert str(message).strip() == "Safaricom has no final answer for this payment yet; we will check again automatically."
    assert "Safaricom has no final answer for this payment yet" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == "PENDING" and payment.query_attempts == 1


@pytest.mark.django_db(transaction=True)
def test_recheck_that_finds_the_payment_failed_is_a_warning_with_the_reason(client, simulator):
    booking = make_booking(property=make_property(price_per_night=3000), nights=1)
    simulator.directive("254712345678", callback_mode="never")
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number="0712345678", amount=3000)
    payment.refresh_from_db()
    simulator.respond(payment.checkout_request_id, "cancel")
    client.force_login(StaffFactory())

    response = client.post(reverse("wagtailsnippets_mpesa_payment:recheck", args=[payment.pk]))

    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "warning"
    assert str(message).strip() == f"Re-check with M-Pesa: payment #{payment.pk} is now Failed: Request cancelled by user"
    payment.refresh_from_db()
    assert payment.status == "FAILED"


# -- the audit trail shows what changed ---------------------------------------------------------


def audit_cell(html: str, action: str) -> str:
    [row] = [r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if f"<code>{action}</code>" in r]
    return re.search(r"<td data-audit-changes>(.*?)</td>", row, re.S).group(1)


def test_audit_trail_shows_only_the_fields_that_changed(client, glance):
    payment = glance["payment_a"]
    unchanged = {"checkout_request_id": payment.checkout_request_id, "received_amount": None, "flagged": False}
    audit_record(
        obj=payment,
        action="payment.succeeded",
        before={"status": "PENDING", "mpesa_receipt_number": None, **unchanged},
        after={"status": "SUCCESS", "mpesa_receipt_number": "TLK3XYZ12", **unchanged},
    )
    audit_record(obj=payment, action="payment.created", after={"status": "QUEUED", "amount": 10000})
    client.force_login(glance["staff"])
    html = client.get(f"{PAYMENTS_LIST}inspect/{payment.pk}/").content.decode()

    changed = audit_cell(html, "payment.succeeded")
    # (PostgreSQL's jsonb keeps keys in its own order, so compare as sets.)
    assert set(re.findall(r'data-field="(\w+)"', changed)) == {"status", "mpesa_receipt_number"}
    assert "PENDING" in changed and "SUCCESS" in changed and "TLK3XYZ12" in changed
    assert payment.checkout_request_id not in changed
    # A creation has no "before": its values are shown.
    created = audit_cell(html, "payment.created")
    assert set(re.findall(r'data-field="(\w+)"', created)) == {"status", "amount"}
    assert "QUEUED" in created and "10000" in created


def test_staff_cancel_audit_shows_the_status_change_only(client, glance):
    booking = glance["booking_b"]
    client.force_login(glance["staff"])
    response = client.post(reverse("wagtailsnippets_reservations_booking:cancel", args=[booking.pk]), {"reason": "Flood"})
    assert response.status_code == 302
    html = client.get(f"{BOOKINGS_LIST}inspect/{booking.pk}/").content.decode()

    changed = audit_cell(html, "booking.canceled_by_staff")
    assert re.findall(r'data-field="(\w+)"', changed) == ["status"]
    assert "CONFIRMED" in changed and "CANCELED" in changed and "10000" not in changed
