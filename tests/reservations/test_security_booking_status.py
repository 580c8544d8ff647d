"""Issue 11 item 15: a booking's status is a function of its payments, refunds and cancellation
(reservations.status.booking_status_derive), so a refund can never leave an impossible state
such as CONFIRMED with nothing paid."""

import pytest
from rest_framework.test import APIClient

from core.exceptions import ApplicationError
from mpesa.refunds import payment_record_refund, payment_resolve_flag
from reservations.status import booking_status_derive
from tests.factories import StaffFactory, make_booking, make_payment, make_property, recompute_booking_money

TOTAL = 10_000
PAID = {"none": 0, "part": 4_000, "all": TOTAL}
REFUND_SHARE = {"none": 0, "part": 0.5, "all": 1}

EXPECTED_ACTIVE = {
    ("none", "none"): "PENDING",
    ("none", "part"): "PENDING",  # half of nothing
    ("none", "all"): "PENDING",
    ("part", "none"): "PROCESSING",
    ("part", "part"): "PROCESSING",
    ("part", "all"): "CANCELED",  # every shilling sent back: the stay is off
    ("all", "none"): "CONFIRMED",
    ("all", "part"): "PROCESSING",  # the balance reopens and the guest may pay it
    ("all", "all"): "CANCELED",
}


@pytest.mark.parametrize("canceled", [False, True], ids=["active", "cancelled"])
@pytest.mark.parametrize("refund", list(REFUND_SHARE))
@pytest.mark.parametrize("paid", list(PAID))
def test_status_is_derived_from_payments_refunds_and_cancellation(paid, refund, canceled):
    paid_amount = PAID[paid]
    refunded = int(paid_amount * REFUND_SHARE[refund])
    status = booking_status_derive(total_price=TOTAL, paid=paid_amount, refunded=refunded, canceled=canceled)
    assert status == ("CANCELED" if canceled else EXPECTED_ACTIVE[(paid, refund)])
    # The impossible states never come out.
    held = paid_amount - refunded
    assert not (status == "CONFIRMED" and held < TOTAL)
    assert not (status == "PROCESSING" and held <= 0)


def test_a_disputed_amount_never_confirms_until_staff_resolve_it():
    assert booking_status_derive(total_price=TOTAL, paid=TOTAL, refunded=0, canceled=False, amount_disputed=True) == (
        "PROCESSING"
    )
    assert booking_status_derive(total_price=TOTAL, paid=TOTAL, refunded=0, canceled=False) == "CONFIRMED"


# --- End to end through the staff "mark refunded" action -----------------------------------------------


@pytest.fixture
def confirmed(site_tree):
    booking = make_booking(
        property=make_property(price_per_night=5000), nights=2, status="CONFIRMED", amount_paid=TOTAL,
        hold_expires_at=None,
    )
    payment = make_payment(booking=booking, status="SUCCESS", amount=TOTAL)
    return booking, payment


@pytest.mark.django_db
def test_a_full_refund_of_a_confirmed_booking_cancels_it_instead_of_leaving_it_confirmed_unpaid(confirmed):
    booking, payment = confirmed
    payment_record_refund(payment_id=payment.pk, actor=StaffFactory(), amount=TOTAL, mpesa_reference="RF1", note="Gone")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("CANCELED", 0)
    assert booking.cancel_kind == "staff"
    response = _guest_client(booking).post(
        f"/api/bookings/{booking.pk}/payments/", {"phone_number": "0712345678", "amount": TOTAL}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "booking_not_payable")


@pytest.mark.django_db
def test_a_part_refund_of_a_confirmed_booking_reopens_the_balance_and_the_guest_can_pay_it(confirmed):
    booking, payment = confirmed
    payment_record_refund(payment_id=payment.pk, actor=StaffFactory(), amount=3000, mpesa_reference="RF2", note="Disc")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 7000, 3000)
    response = _guest_client(booking).post(
        f"/api/bookings/{booking.pk}/payments/", {"phone_number": "0712345678", "amount": 3000}, format="json"
    )
    assert response.status_code == 202, response.content


@pytest.mark.django_db
def test_a_full_refund_of_a_deposit_cancels_a_processing_booking(site_tree):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2, status="PROCESSING", amount_paid=4000)
    payment = make_payment(booking=booking, status="SUCCESS", amount=4000)
    payment_record_refund(payment_id=payment.pk, actor=StaffFactory(), amount=1000, mpesa_reference="RF3", note="x")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("PROCESSING", 3000)
    payment_record_refund(payment_id=payment.pk, actor=StaffFactory(), amount=3000, mpesa_reference="RF4", note="x")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("CANCELED", 0, TOTAL)


@pytest.mark.django_db
def test_a_refund_on_a_cancelled_booking_keeps_it_cancelled(confirmed):
    from reservations.staff_services import booking_staff_cancel

    booking, payment = confirmed
    staff = StaffFactory()
    booking_staff_cancel(booking_id=booking.pk, actor=staff, reason="Owner sold the house")
    # The cancellation queued a Reversal of everything: nothing is left to record by hand
    # until it fails (then staff may send part of it from the M-Pesa portal and record it).
    with pytest.raises(ApplicationError):
        payment_record_refund(payment_id=payment.pk, actor=staff, amount=2000, mpesa_reference="RF5", note="part")
    payment.daraja_refunds.update(status="FAILED", failure_reason="test")
    payment_record_refund(payment_id=payment.pk, actor=staff, amount=2000, mpesa_reference="RF5", note="part")
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid) == ("CANCELED", 8000)


@pytest.mark.django_db
def test_resolving_an_amount_flag_lets_the_booking_confirm(site_tree):
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    payment = make_payment(
        booking=booking, status="SUCCESS", amount=TOTAL, received_amount=250_000, flagged=True,
        flag_reason="KES 250,000 paid but KES 10,000 was asked",
    )
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", TOTAL, 0)
    payment_resolve_flag(payment_id=payment.pk, actor=StaffFactory(), note="Checked the statement: surplus refunded")
    booking.refresh_from_db()
    assert booking.status == "CONFIRMED"


def _guest_client(booking) -> APIClient:
    client = APIClient()
    client.force_authenticate(booking.primary_guest)
    return client
