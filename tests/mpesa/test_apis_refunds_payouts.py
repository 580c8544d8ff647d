"""GET /api/bookings/{id}/refunds/ and GET /api/owner/payouts/ (docs/api.md): the objects
of the contract, and who sees what. Rows are written directly; sending them is
tests/mpesa/test_refunds_out.py's and test_payouts.py's."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mpesa.models import Payout, Refund
from reservations.models import BookingGuest
from tests.factories import OwnerFactory, UserFactory, future_date, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db

REFUND_FIELDS = {
    "id", "booking", "payment", "amount", "phone_number", "method", "status", "mpesa_transaction_id",
    "result_code", "result_desc", "created_at", "updated_at",
}
PAYOUT_FIELDS = {
    "id", "booking", "amount", "commission", "gross", "phone_number", "status", "due_at", "mpesa_transaction_id",
    "created_at", "updated_at",
}
_ids = itertools.count(1)


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def make_refund(*, booking, payment, amount: int, status="QUEUED", method="b2c", **fields) -> Refund:
    return Refund.objects.create(
        booking=booking,
        payment=payment,
        amount=amount,
        method=method,
        status=status,
        phone_number=payment.phone_number,
        reason="test",
        originator_conversation_id=f"test-refund-{next(_ids)}",
        **fields,
    )


def make_payout(*, booking, gross: int, status="SCHEDULED", **fields) -> Payout:
    commission = gross // 10
    return Payout.objects.create(
        booking=booking,
        owner=booking.property.owner,
        gross=gross,
        commission=commission,
        amount=gross - commission,
        status=status,
        method="b2c",
        phone_number="254700111222",
        due_at=timezone.now() + dt.timedelta(days=3),
        originator_conversation_id=f"test-payout-{next(_ids)}",
        **fields,
    )


@pytest.fixture
def refunded():
    """A cancelled booking with a settled reversal and a part refund still on its way."""
    booking = make_booking(status="CANCELED", nights=2)
    first = make_payment(booking=booking, amount=4000, phone_number="254712345678")
    second = make_payment(booking=booking, amount=6000, phone_number="254722000333")
    done = make_refund(
        booking=booking, payment=first, amount=4000, method="reversal", status="SUCCESS",
        mpesa_transaction_id="RVS1234567", result_code="0", result_desc="Reversal accepted",
    )
    sending = make_refund(booking=booking, payment=second, amount=3000, status="PENDING")
    return booking, done, sending


# --- A booking's refunds -------------------------------------------------------------------------------


def test_the_refunds_of_a_booking_as_the_contract_lists_them(refunded):
    booking, done, sending = refunded
    response = client_for(booking.primary_guest).get(f"/api/bookings/{booking.pk}/refunds/")
    assert response.status_code == 200
    page = response.json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 2
    first, second = page["results"]
    assert set(first) == REFUND_FIELDS
    assert (first["id"], first["booking"], first["payment"], first["amount"]) == (done.pk, booking.pk, done.payment_id, 4000)
    assert (first["method"], first["status"], first["mpesa_transaction_id"], first["result_code"]) == (
        "reversal", "SUCCESS", "RVS1234567", "0"
    )
    assert (second["phone_number"], second["method"], second["status"]) == ("254722000333", "b2c", "PENDING")
    assert second["mpesa_transaction_id"] is None


def test_a_co_guest_sees_the_refunds_and_others_get_404(refunded):
    booking, *_ = refunded
    co_guest = UserFactory()
    BookingGuest.objects.create(booking=booking, name=co_guest.name, email=co_guest.email, user=co_guest)
    assert client_for(co_guest).get(f"/api/bookings/{booking.pk}/refunds/").json()["count"] == 2

    other_guest = client_for(UserFactory()).get(f"/api/bookings/{booking.pk}/refunds/")
    assert (other_guest.status_code, other_guest.json()["code"]) == (404, "not_found")
    # The booking's owner is no guest of it either: owners see refunds in the admin.
    assert client_for(booking.property.owner).get(f"/api/bookings/{booking.pk}/refunds/").status_code == 404
    assert client_for().get(f"/api/bookings/{booking.pk}/refunds/").status_code == 401


# --- An owner's payouts ---------------------------------------------------------------------------------


def test_an_owner_sees_their_own_payouts_only():
    owner, other_owner = OwnerFactory(), OwnerFactory()
    mine = make_booking(property=make_property(owner=owner), status="CONFIRMED")
    theirs = make_booking(property=make_property(owner=other_owner), status="CONFIRMED")
    paid = make_payout(
        booking=mine, gross=10000, status="SUCCESS", mpesa_transaction_id="PYT1234567",
        completed_at=timezone.now(),
    )
    make_payout(booking=theirs, gross=20000)

    response = client_for(owner).get("/api/owner/payouts/")

    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 1
    (item,) = page["results"]
    assert PAYOUT_FIELDS <= set(item)
    assert (item["id"], item["booking"], item["gross"], item["commission"], item["amount"]) == (
        paid.pk, mine.pk, 10000, 1000, 9000
    )
    assert (item["status"], item["mpesa_transaction_id"], item["phone_number"]) == (
        "SUCCESS", "PYT1234567", "254700111222"
    )
    assert item["booking_reference"] == mine.reference

    nothing = client_for(OwnerFactory()).get("/api/owner/payouts/").json()
    assert (nothing["count"], nothing["results"]) == (0, [])


def test_payouts_are_paginated_latest_due_first():
    owner = OwnerFactory()
    place = make_property(owner=owner)
    payouts = [
        make_payout(booking=make_booking(property=place, status="CONFIRMED", check_in=future_date(10 + 5 * n)), gross=1000 * (n + 1))
        for n in range(3)
    ]
    Payout.objects.filter(pk=payouts[0].pk).update(due_at=timezone.now() + dt.timedelta(days=30))

    page = client_for(owner).get("/api/owner/payouts/", {"page_size": 2}).json()

    assert page["count"] == 3 and page["next"]
    assert [p["id"] for p in page["results"]] == [payouts[0].pk, payouts[2].pk]


def test_a_guest_is_refused_and_anonymous_is_401():
    response = client_for(UserFactory()).get("/api/owner/payouts/")
    assert response.status_code == 403
    assert response.json()["detail"]
    assert client_for().get("/api/owner/payouts/").status_code == 401


def test_the_schema_documents_refunds_and_payouts():
    paths = client_for().get("/api/schema/", {"format": "json"}).json()["paths"]
    assert "get" in paths["/api/bookings/{booking_id}/refunds/"]
    assert {"200", "401", "403"} <= set(paths["/api/owner/payouts/"]["get"]["responses"])
