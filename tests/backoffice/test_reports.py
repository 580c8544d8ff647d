"""Payments and bookings reports: date filters, CSV and XLSX holding exactly the user's rows."""

import csv
import io

import pytest
from openpyxl import load_workbook

from mpesa.models import Payment
from reservations.models import Booking
from tests.factories import make_booking, make_payment

pytestmark = pytest.mark.django_db

PAYMENTS = "/admin/reports/payments/"
BOOKINGS = "/admin/reports/bookings/"


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def xlsx_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row)) for row in rows]


@pytest.fixture
def more_payments(world):
    """A second payment on owner B's listing and a refund on owner A's."""
    extra_b = make_payment(booking=world["booking_b"], status="FAILED", amount=2500, phone_number="254733333333")
    refund_a = make_payment(
        booking=world["booking_a"],
        kind="REFUND",
        status="SUCCESS",
        amount=1000,
        refund_of=world["payment_a"],
        refund_reference="RFDAAA111",
        note="Partial refund",
    )
    return extra_b, refund_a


@pytest.mark.parametrize("export, reader", [("csv", csv_rows), ("xlsx", xlsx_rows)])
def test_staff_payments_export_holds_every_payment(client, world, more_payments, export, reader):
    client.force_login(world["staff"])
    rows = reader(client.get(PAYMENTS, {"export": export}))
    assert sorted(int(r["Payment id"]) for r in rows) == sorted(Payment.objects.values_list("pk", flat=True))
    by_id = {int(r["Payment id"]): r for r in rows}
    settled = by_id[world["payment_a"].pk]
    assert settled["Booking"] == "NXAAAA2A" and settled["Property"] == "Amina's cottage"
    assert (
        int(settled["Received (KES)"]) == 10000 and settled["M-Pesa receipt"] == world["payment_a"].mpesa_receipt_number
    )


@pytest.mark.parametrize("export, reader", [("csv", csv_rows), ("xlsx", xlsx_rows)])
def test_owner_payments_export_holds_only_their_rows(client, world, more_payments, export, reader):
    client.force_login(world["owner_a"])
    rows = reader(client.get(PAYMENTS, {"export": export}))
    _extra_b, refund_a = more_payments
    assert sorted(int(r["Payment id"]) for r in rows) == sorted([world["payment_a"].pk, refund_a.pk])
    assert {r["Booking"] for r in rows} == {"NXAAAA2A"}


@pytest.mark.parametrize("export, reader", [("csv", csv_rows), ("xlsx", xlsx_rows)])
def test_owner_bookings_export_holds_only_their_rows(client, world, export, reader):
    extra_a = make_booking(
        property=world["stay_a"], guest=world["guest_b"], check_in=world["booking_a"].check_out, reference="NXAAAA3A"
    )
    client.force_login(world["owner_a"])
    rows = reader(client.get(BOOKINGS, {"export": export}))
    assert sorted(r["Reference"] for r in rows) == sorted(["NXAAAA2A", extra_a.reference])
    first = next(r for r in rows if r["Reference"] == "NXAAAA2A")
    assert first["Property"] == "Amina's cottage" and int(first["Total (KES)"]) == 10000


def test_payments_report_date_filter_applies_to_the_export(client, world):
    Payment.objects.filter(pk=world["payment_b"].pk).update(created_at="2025-03-15T09:30:00+03:00")
    client.force_login(world["staff"])
    rows = csv_rows(
        client.get(PAYMENTS, {"export": "csv", "created_at_from": "2025-03-01", "created_at_to": "2025-03-31"})
    )
    assert [int(r["Payment id"]) for r in rows] == [world["payment_b"].pk]
    # Nairobi time with its offset, not UTC.
    assert rows[0]["Created (Nairobi)"] == "2025-03-15T09:30:00+03:00"


def test_bookings_report_filters_by_booking_date_and_check_in(client, world):
    Booking.objects.filter(pk=world["booking_b"].pk).update(booking_date="2025-02-02T12:00:00+03:00")
    client.force_login(world["staff"])
    rows = csv_rows(
        client.get(BOOKINGS, {"export": "csv", "booking_date_from": "2025-02-01", "booking_date_to": "2025-02-28"})
    )
    assert [r["Reference"] for r in rows] == ["NXBBBB2B"]
    check_in = world["booking_a"].check_in.isoformat()
    rows = csv_rows(
        client.get(
            BOOKINGS,
            {"export": "csv", "check_in_from": check_in, "check_in_to": check_in, "property": world["stay_a"].pk},
        )
    )
    assert [r["Reference"] for r in rows] == ["NXAAAA2A"]


def test_report_pages_list_only_scoped_rows(client, world):
    client.force_login(world["owner_b"])
    payments = client.get(PAYMENTS).content.decode()
    bookings = client.get(BOOKINGS).content.decode()
    assert "NXBBBB2B" in payments and "NXAAAA2A" not in payments
    assert "NXBBBB2B" in bookings and "NXAAAA2A" not in bookings
    assert "Download CSV" in payments and "Download XLSX" in bookings


def test_payments_snippet_listing_export_is_scoped_too(client, world):
    client.force_login(world["owner_b"])
    rows = xlsx_rows(client.get("/admin/snippets/mpesa/payment/", {"export": "xlsx"}))
    assert [int(r["Payment id"]) for r in rows] == [world["payment_b"].pk]
    rows = csv_rows(client.get("/admin/snippets/reservations/booking/", {"export": "csv"}))
    assert [r["Reference"] for r in rows] == ["NXBBBB2B"]


def test_guest_gets_no_report(client, world):
    client.force_login(world["guest_a"])
    response = client.get(PAYMENTS, {"export": "csv"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
