"""Unmatched M-Pesa payments: the staff queue (dashboard panel, "M-Pesa callbacks" list,
attach to a booking, mark for refund). Owners never see any of it."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from wagtail.permissions import policy_registry

from core.exceptions import ApplicationError
from core.models import AuditEntry
from mpesa.models import CallbackRecord, Payment
from mpesa.unmatched import callback_attach_to_booking, callback_mark_for_refund
from mpesa.unmatched_views import StaffOnlyPermissionPolicy, nairobi_time
from reservations.models import Booking
from tests.callbacks import stk_success_body
from tests.processes import run_together
from tests.factories import StaffFactory, future_date, make_booking, make_payment, make_property

TOKEN = "unmatched-test-token-5b8e2f1c9d7a3e6b"
LIST = "/admin/snippets/mpesa/callbackrecord/"
PHONE = 254799000111


def url(name: str, record_id: int) -> str:
    return reverse(f"wagtailsnippets_mpesa_callbackrecord:{name}", args=[record_id])


def success_body(checkout_request_id: str, *, amount=4000, receipt="SUN1MA7CH2", phone=PHONE) -> dict:
    return stk_success_body(checkout_request_id, amount=amount, receipt=receipt, phone=phone)


def failure_body(checkout_request_id: str) -> dict:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-2",
                "CheckoutRequestID": checkout_request_id,
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }


@pytest.fixture
def post_callback(settings):
    """POST to the real callback URL; the apply task runs inline (Q_CLUSTER sync in tests)."""
    settings.MPESA_CALLBACK_TOKEN = TOKEN
    daraja = Client(raise_request_exception=False)

    def post(body: dict):
        response = daraja.post(f"/payments/callback/{TOKEN}/", data=json.dumps(body), content_type="application/json")
        assert (response.status_code, response.json()) == (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
        return response

    return post


@pytest.fixture
def unmatched(post_callback, world):
    """A success for a CheckoutRequestID we never issued, from a phone and amount no push has."""
    post_callback(success_body("ws_CO_never_issued_0001", amount=4000, receipt="SUN1MA7CH2"))
    record = CallbackRecord.objects.get(checkout_request_id="ws_CO_never_issued_0001")
    assert record.state == CallbackRecord.State.UNMATCHED
    return record


@pytest.fixture
def booking(world):
    """PENDING, nothing paid, total 10,000 (2 nights at 5,000), on owner A's property."""
    return make_booking(
        property=make_property(owner=world["owner_a"], price_per_night=5000, title="Amina's flat"),
        nights=2,
        reference="NX7F3K2Q",
    )


def client_for(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def listed_record_ids(response) -> set[int]:
    html = response.content.decode()
    return {int(pk) for pk in re.findall(r"/admin/snippets/mpesa/callbackrecord/inspect/(\d+)/", html)}


# --- Seen by staff, never by owners ---------------------------------------------------------------


@pytest.mark.django_db
def test_an_unmatched_success_posted_to_the_callback_url_is_on_the_staff_dashboard(unmatched, world):
    html = client_for(world["staff"]).get("/admin/").content.decode()
    assert "Unmatched M-Pesa payments" in html
    assert 'data-unmatched-count="1"' in html
    row = re.search(r"<tr data-unmatched-row>(.*?)</tr>", html, re.S).group(1)
    assert url("inspect", unmatched.pk) in row
    for text in ("SUN1MA7CH2", "254799000111", "4000", nairobi_time(unmatched.received_at)):
        assert text in row, text
    assert nairobi_time(unmatched.received_at).endswith("EAT")


@pytest.mark.django_db
def test_it_is_in_the_staff_list_by_default_and_its_inspect_page_shows_the_raw_body(unmatched, world, post_callback):
    post_callback(failure_body("ws_CO_never_issued_0002"))  # IGNORED: not on the default (UNMATCHED) list
    ignored = CallbackRecord.objects.get(checkout_request_id="ws_CO_never_issued_0002")
    staff = client_for(world["staff"])
    response = staff.get(LIST)
    assert response.status_code == 200
    assert listed_record_ids(response) == {unmatched.pk}
    assert listed_record_ids(staff.get(LIST, {"state": ""})) == {unmatched.pk, ignored.pk}
    assert listed_record_ids(staff.get(LIST, {"state": "IGNORED"})) == {ignored.pk}
    assert listed_record_ids(staff.get(LIST, {"state": "", "q": "0799 000 111"})) == {unmatched.pk}

    detail = staff.get(url("inspect", unmatched.pk))
    assert detail.status_code == 200
    html = detail.content.decode()
    raw = re.search(r"<pre[^>]*data-raw-body>(.*?)</pre>", html, re.S).group(1)
    assert "ws_CO_never_issued_0001" in raw and "MpesaReceiptNumber" in raw and "SUN1MA7CH2" in raw
    assert "Attach to a booking" in html and "Mark for refund" in html


@pytest.mark.django_db
def test_owners_never_see_it_not_on_the_dashboard_nor_by_url(unmatched, world, booking):
    owner = client_for(world["owner_a"])
    home = owner.get("/admin/")
    assert home.status_code == 200
    html = home.content.decode()
    assert "Unmatched M-Pesa payments" not in html and "SUN1MA7CH2" not in html
    assert "M-Pesa callbacks" not in html  # not in the menu either

    # Wagtail answers PermissionDenied in the admin with a redirect to the dashboard.
    listing = owner.get(LIST)
    assert listing.status_code == 302 and listing["Location"] == "/admin/"
    assert "SUN1MA7CH2" not in owner.get("/admin/snippets/").content.decode()
    for name in ("inspect", "attach", "mark_for_refund"):
        response = owner.get(url(name, unmatched.pk))
        assert response.status_code in (302, 404), name
        assert "SUN1MA7CH2" not in response.content.decode()
    refused = owner.post(url("attach", unmatched.pk), {"booking": booking.reference, "note": "mine"})
    assert refused.status_code == 404
    unmatched.refresh_from_db()
    assert unmatched.state == CallbackRecord.State.UNMATCHED
    assert not Payment.objects.filter(booking=booking).exists()


@pytest.mark.django_db
def test_wagtail_hands_out_the_staff_only_policy(world):
    policy = policy_registry.get_by_type(CallbackRecord)
    assert isinstance(policy, StaffOnlyPermissionPolicy)
    assert policy.user_has_permission(world["staff"], "view")
    assert policy.user_has_permission(world["staff"], "attach")
    for user in (world["owner_a"], world["guest_a"]):
        assert not policy.user_has_any_permission(user, {"view", "attach", "mark_for_refund"})
    for action in ("add", "change", "delete"):
        assert not policy.user_has_permission(world["staff"], action)
    assert set(policy.users_with_permission("view")) == {world["staff"]}


@pytest.mark.django_db
def test_the_list_is_read_only_even_for_staff(unmatched, world):
    staff = client_for(world["staff"])
    denied = [
        staff.get(reverse("wagtailsnippets_mpesa_callbackrecord:add")),
        staff.get(url("edit", unmatched.pk)),
        staff.post(url("edit", unmatched.pk), {"state": "IGNORED"}),
        staff.post(url("delete", unmatched.pk)),
    ]
    assert all(r.status_code == 302 and r["Location"] == "/admin/" for r in denied)
    unmatched.refresh_from_db()
    assert unmatched.state == CallbackRecord.State.UNMATCHED


@pytest.mark.django_db
def test_a_failure_callback_for_an_unknown_checkout_request_id_never_reaches_the_queue(post_callback, world):
    post_callback(failure_body("ws_CO_never_issued_0003"))
    record = CallbackRecord.objects.get(checkout_request_id="ws_CO_never_issued_0003")
    assert record.state == CallbackRecord.State.IGNORED
    html = client_for(world["staff"]).get("/admin/").content.decode()
    assert 'data-unmatched-count="0"' in html and "data-unmatched-row" not in html
    assert listed_record_ids(client_for(world["staff"]).get(LIST)) == set()


# --- Attach to a booking -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("amount, status, balance", [(4000, "PROCESSING", 6000), (10000, "CONFIRMED", 0)])
def test_staff_attach_it_to_a_booking_and_the_money_and_status_follow(
    post_callback, world, booking, amount, status, balance
):
    post_callback(success_body("ws_CO_never_issued_0004", amount=amount, receipt="SATT4CH3D1"))
    record = CallbackRecord.objects.get(checkout_request_id="ws_CO_never_issued_0004")
    assert booking.status == Booking.Status.PENDING

    response = client_for(world["staff"]).post(
        url("attach", record.pk), {"booking": " nx7f3k2q ", "note": "Guest called: paid from her husband's phone"}
    )

    assert response.status_code == 302 and response["Location"] == url("inspect", record.pk)
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == (status, amount, balance)
    payment = Payment.objects.get(booking=booking)
    assert (payment.status, payment.amount, payment.received_amount, payment.mpesa_receipt_number) == (
        "SUCCESS",
        amount,
        amount,
        "SATT4CH3D1",
    )
    assert payment.checkout_request_id == "ws_CO_never_issued_0004" and payment.initiated_by is None
    assert payment.phone_number == "254799000111" and not payment.flagged
    record.refresh_from_db()
    assert (record.state, record.payment, record.resolved_by) == ("ATTACHED", payment, world["staff"])
    assert record.resolution_note == "Guest called: paid from her husband's phone" and record.resolved_at
    entry = AuditEntry.objects.get(action="callback.attached", object_id=str(record.pk))
    assert entry.actor == world["staff"]
    assert entry.data["reference"] == "NX7F3K2Q" and entry.data["payment"] == payment.pk
    assert entry.before["state"] == "UNMATCHED" and entry.after["state"] == "ATTACHED"
    assert AuditEntry.objects.filter(
        action="payment.attached_by_staff", object_id=str(payment.pk), actor=world["staff"]
    ).exists()
    assert AuditEntry.objects.filter(action="payment.succeeded", object_id=str(payment.pk)).exists()

    staff = client_for(world["staff"])
    assert listed_record_ids(staff.get(LIST)) == set()
    assert 'data-unmatched-count="0"' in staff.get("/admin/").content.decode()
    detail = staff.get(url("inspect", record.pk)).content.decode()
    assert f"Payment #{payment.pk}</a> · booking NX7F3K2Q" in detail and "Guest called: paid from her" in detail
    assert "Attach to a booking" not in detail and "Mark for refund" not in detail


@pytest.mark.django_db
def test_attaching_twice_is_refused_with_a_message(unmatched, world, booking):
    other = make_booking(property=world["stay_b"], check_in=future_date(60), reference="NXSEC2ND")
    first, second = client_for(world["staff"]), client_for(StaffFactory(name="Otieno Staff"))
    form = second.get(url("attach", unmatched.pk))  # both staff members open the form
    assert form.status_code == 200 and "Attach to this booking" in form.content.decode()

    assert first.post(url("attach", unmatched.pk), {"booking": "NX7F3K2Q", "note": "First"}).status_code == 302
    late = second.post(url("attach", unmatched.pk), {"booking": "NXSEC2ND", "note": "Second"})

    assert late.status_code == 200
    assert "no longer unmatched" in late.content.decode()
    assert Payment.objects.filter(mpesa_receipt_number="SUN1MA7CH2").count() == 1
    assert not Payment.objects.filter(booking=other).exists()
    other.refresh_from_db()
    assert other.amount_paid == 0
    again = second.get(url("attach", unmatched.pk), follow=True)
    assert again.redirect_chain[0] == (url("inspect", unmatched.pk), 302)
    assert "no longer unmatched" in again.content.decode()
    assert AuditEntry.objects.filter(action="callback.attached").count() == 1


@pytest.mark.django_db
def test_an_unknown_booking_reference_is_a_form_error(unmatched, world):
    response = client_for(world["staff"]).post(url("attach", unmatched.pk), {"booking": "NXNOPE22", "note": "n"})
    assert response.status_code == 200
    assert "No booking has the reference NXNOPE22." in response.content.decode()
    unmatched.refresh_from_db()
    assert unmatched.state == "UNMATCHED"
    assert not Payment.objects.filter(checkout_request_id__startswith="ws_CO_never").exists()


@pytest.mark.django_db
def test_a_note_is_required(unmatched, world, booking):
    staff = client_for(world["staff"])
    for name, data in (("attach", {"booking": "NX7F3K2Q", "note": "  "}), ("mark_for_refund", {"note": ""})):
        response = staff.post(url(name, unmatched.pk), data)
        assert response.status_code == 200, name
    with pytest.raises(ApplicationError) as refused:
        callback_mark_for_refund(record_id=unmatched.pk, actor=world["staff"], note="   ")
    assert refused.value.code == "note_required"
    unmatched.refresh_from_db()
    assert unmatched.state == "UNMATCHED"


@pytest.mark.django_db
def test_attached_to_a_booking_cancelled_for_good_the_payment_is_refunded(unmatched, world, booking):
    Booking.objects.filter(pk=booking.pk).update(status="CANCELED", cancel_kind="guest", hold_expires_at=None)
    payment = callback_attach_to_booking(
        record_id=unmatched.pk, booking_reference_or_id="NX7F3K2Q", actor=world["staff"], note="Guest says so"
    )
    assert payment.status == "SUCCESS" and payment.flagged and "refund" in payment.flag_reason
    # Its money goes back whole, by a Reversal of its receipt (mpesa.refunds_out).
    refund = payment.daraja_refunds.get()
    assert (refund.method, refund.amount, refund.status) == ("reversal", 4000, "QUEUED")
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.amount_paid == 4000
    unmatched.refresh_from_db()
    assert unmatched.state == "ATTACHED"


@pytest.mark.django_db
def test_attached_to_a_booking_whose_payment_failed_it_is_restored_while_its_dates_are_free(
    unmatched, world, booking
):
    Booking.objects.filter(pk=booking.pk).update(status="CANCELED", cancel_kind="payment_failed")
    callback_attach_to_booking(
        record_id=unmatched.pk, booking_reference_or_id=booking.pk, actor=world["staff"], note="Paid late"
    )
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 4000, 6000)


@pytest.mark.django_db
def test_a_receipt_already_on_another_payment_is_not_credited_twice(unmatched, world, booking):
    make_payment(booking=world["booking_b"], mpesa_receipt_number="SUN1MA7CH2", amount=4000)
    with pytest.raises(ApplicationError) as refused:
        callback_attach_to_booking(
            record_id=unmatched.pk, booking_reference_or_id="NX7F3K2Q", actor=world["staff"], note="n"
        )
    assert refused.value.code == "receipt_already_recorded"
    assert not Payment.objects.filter(booking=booking).exists()
    unmatched.refresh_from_db()
    assert unmatched.state == "UNMATCHED"


# --- Mark for refund -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_mark_for_refund_takes_it_off_the_queue(unmatched, world):
    staff = client_for(world["staff"])
    response = staff.post(url("mark_for_refund", unmatched.pk), {"note": "Reversed by hand, ref RVS123"})
    assert response.status_code == 302 and response["Location"] == url("inspect", unmatched.pk)
    unmatched.refresh_from_db()
    assert (unmatched.state, unmatched.resolved_by, unmatched.resolution_note) == (
        "REFUND_MARKED",
        world["staff"],
        "Reversed by hand, ref RVS123",
    )
    entry = AuditEntry.objects.get(action="callback.refund_marked", object_id=str(unmatched.pk))
    assert entry.actor == world["staff"] and entry.data["note"] == "Reversed by hand, ref RVS123"
    assert listed_record_ids(staff.get(LIST)) == set()
    assert listed_record_ids(staff.get(LIST, {"state": "REFUND_MARKED"})) == {unmatched.pk}
    assert 'data-unmatched-count="0"' in staff.get("/admin/").content.decode()
    assert not Payment.objects.filter(mpesa_receipt_number="SUN1MA7CH2").exists()
    refused = staff.post(url("attach", unmatched.pk), {"booking": "NXAAAA2A", "note": "too late"})
    assert refused.status_code == 200 and "no longer unmatched" in refused.content.decode()


# --- Races ------------------------------------------------------------------------------------------



@pytest.mark.django_db(transaction=True)
def test_two_staff_members_acting_at_once_only_one_wins(post_callback, world, booking):
    post_callback(success_body("ws_CO_never_issued_0005", amount=4000, receipt="SRACE00001"))
    record = CallbackRecord.objects.get(checkout_request_id="ws_CO_never_issued_0005")
    other = make_booking(property=world["stay_b"], check_in=future_date(60), reference="NXRACE22")
    second_staff = StaffFactory()

    results = run_together(
        [
            lambda: callback_attach_to_booking(
                record_id=record.pk, booking_reference_or_id="NX7F3K2Q", actor=world["staff"], note="a"
            ),
            lambda: callback_attach_to_booking(
                record_id=record.pk, booking_reference_or_id="NXRACE22", actor=second_staff, note="b"
            ),
            lambda: callback_mark_for_refund(record_id=record.pk, actor=second_staff, note="c"),
        ]
    )

    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1, results
    assert all(isinstance(r, ApplicationError) and r.code == "callback_not_unmatched" for r in lost), results
    assert Payment.objects.filter(mpesa_receipt_number="SRACE00001").count() <= 1
    record.refresh_from_db()
    assert record.state in ("ATTACHED", "REFUND_MARKED")
    paid = sorted(Booking.objects.filter(pk__in=[booking.pk, other.pk]).values_list("amount_paid", flat=True))
    assert paid == ([0, 4000] if record.state == "ATTACHED" else [0, 0])
