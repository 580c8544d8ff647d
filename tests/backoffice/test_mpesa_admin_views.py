"""The Payments snippet in the Wagtail admin: listing, filters, search, detail and staff actions."""

import re

import pytest
from django.urls import reverse

from core.models import AuditEntry
from mpesa.models import Payment
from tests.factories import (
    DEFAULT_PASSWORD,
    UserFactory,
    future_date,
    make_booking,
    make_payment,
)

pytestmark = pytest.mark.django_db

LIST = "/admin/snippets/mpesa/payment/"


def url(name, payment):
    return reverse(f"wagtailsnippets_mpesa_payment:{name}", args=[payment.pk])


def listed_payment_ids(response) -> set[int]:
    return {int(pk) for pk in re.findall(r"/admin/snippets/mpesa/payment/inspect/(\d+)/", response.content.decode())}


@pytest.fixture
def staff_client(client, world):
    client.force_login(world["staff"])
    return client


def test_staff_list_shows_every_payment_with_its_columns(staff_client, world):
    response = staff_client.get(LIST)
    assert response.status_code == 200
    assert listed_payment_ids(response) == {world["payment_a"].pk, world["payment_b"].pk}
    html = response.content.decode()
    for text in ("NXAAAA2A", "Amina&#x27;s cottage", world["payment_a"].mpesa_receipt_number, "254711111111", "Paid"):
        assert text in html


def test_staff_filter_payments_by_status(staff_client, world):
    pending = make_payment(booking=world["booking_a"], status="PENDING", amount=500)
    response = staff_client.get(LIST, {"status": "PENDING"})
    assert listed_payment_ids(response) == {pending.pk}
    response = staff_client.get(LIST, {"status": "SUCCESS"})
    assert listed_payment_ids(response) == {world["payment_a"].pk, world["payment_b"].pk}


def test_staff_filter_payments_by_property_flag_and_date(staff_client, world):
    flagged = make_payment(
        booking=world["booking_b"], status="FAILED", amount=700, flagged=True, flag_reason="Mismatch"
    )
    assert listed_payment_ids(staff_client.get(LIST, {"property": world["stay_a"].pk})) == {world["payment_a"].pk}
    assert listed_payment_ids(staff_client.get(LIST, {"flagged": "true"})) == {flagged.pk}
    Payment.objects.filter(pk=world["payment_b"].pk).update(created_at="2025-01-10T10:00:00+03:00")
    in_january = staff_client.get(LIST, {"created_at_from": "2025-01-01", "created_at_to": "2025-01-31"})
    assert listed_payment_ids(in_january) == {world["payment_b"].pk}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("receipt", "payment_a"),
        ("NXBBBB2B", "payment_b"),
        ("0722 222 222", "payment_b"),
        ("254711111111", "payment_a"),
        ("checkout", "payment_b"),
    ],
)
def test_staff_search_payments_by_receipt_phone_reference_and_checkout_id(staff_client, world, query, expected):
    lookup = {
        "receipt": world["payment_a"].mpesa_receipt_number,
        "checkout": world["payment_b"].checkout_request_id,
    }
    response = staff_client.get(LIST, {"q": lookup.get(query, query)})
    assert listed_payment_ids(response) == {world[expected].pk}


def test_payment_detail_shows_raw_callback_and_audit_trail(staff_client, world):
    from core.services import audit_record

    payment = world["payment_a"]
    payment.raw_callback = {
        "Body": {"stkCallback": {"ResultCode": 0, "CheckoutRequestID": payment.checkout_request_id}}
    }
    payment.save(update_fields=["raw_callback"])
    audit_record(obj=payment, action="payment.callback_applied", summary="Callback applied: paid")
    response = staff_client.get(url("inspect", payment))
    html = response.content.decode()
    assert response.status_code == 200
    assert "stkCallback" in html and payment.checkout_request_id in html
    assert "payment.callback_applied" in html and "Callback applied: paid" in html
    assert "Mark refunded" in html
    # Settled: Daraja has nothing more to say about it.
    assert "Re-check with M-Pesa" not in html


def test_pending_payment_offers_recheck_but_no_refund(staff_client, world):
    pending = make_payment(booking=world["booking_a"], status="PENDING", amount=500)
    html = staff_client.get(url("inspect", pending)).content.decode()
    assert "Re-check with M-Pesa" in html and f'data-w-action-url-value="{url("recheck", pending)}"' in html
    assert "Mark refunded" not in html
    listing = staff_client.get(LIST, {"status": "PENDING"}).content.decode()
    assert "Re-check with M-Pesa" in listing


def test_detail_has_no_edit_form_for_money(staff_client, world):
    payment = world["payment_a"]
    denied = [
        staff_client.get(url("edit", payment)),
        staff_client.post(url("edit", payment), {"amount": 1}),
        staff_client.get(reverse("wagtailsnippets_mpesa_payment:add")),
        staff_client.post(url("delete", payment)),
        staff_client.get(url("history", payment)),
    ]
    # Wagtail answers PermissionDenied in the admin with a redirect to the dashboard.
    assert all(r.status_code == 302 and r["Location"] == "/admin/" for r in denied)
    payment.refresh_from_db()
    assert payment.amount == world["booking_a"].total_price
    assert Payment.objects.filter(pk=payment.pk).exists()


def test_staff_marks_refunded_from_the_admin_and_amount_paid_drops(staff_client, world):
    payment, booking = world["payment_a"], world["booking_a"]
    response = staff_client.post(
        url("refund", payment), {"amount": 4000, "mpesa_reference": "rfd123abc", "note": "Guest left a day early"}
    )
    assert response.status_code == 302 and response["Location"] == url("inspect", payment)
    refund = Payment.objects.get(kind="REFUND")
    assert (refund.amount, refund.refund_of, refund.refund_reference, refund.initiated_by) == (
        4000,
        payment,
        "RFD123ABC",
        world["staff"],
    )
    booking.refresh_from_db()
    assert booking.amount_paid == 6000
    entry = AuditEntry.objects.get(action="payment.refund_recorded", object_id=str(payment.pk))
    assert (
        entry.actor == world["staff"]
        and entry.data["amount"] == 4000
        and entry.data["note"] == "Guest left a day early"
    )
    detail = staff_client.get(url("inspect", payment)).content.decode()
    assert "RFD123ABC" in detail and "Guest left a day early" in detail


def test_refund_form_refuses_more_than_was_paid(staff_client, world):
    response = staff_client.post(
        url("refund", world["payment_a"]), {"amount": 10001, "mpesa_reference": "X1", "note": "n"}
    )
    assert response.status_code == 200
    assert "At most KES 10,000" in response.content.decode()
    assert not Payment.objects.filter(kind="REFUND").exists()


def test_staff_resolves_a_flag_with_a_note(staff_client, world):
    payment = world["payment_b"]
    Payment.objects.filter(pk=payment.pk).update(flagged=True, flag_reason="Paid after cancel")
    response = staff_client.post(url("resolve_flag", payment), {"note": "Called the guest; booking restored"})
    assert response.status_code == 302
    payment.refresh_from_db()
    assert not payment.flagged
    assert (
        payment.flag_resolved_by == world["staff"]
        and payment.flag_resolution_note == "Called the guest; booking restored"
    )
    entry = AuditEntry.objects.get(action="payment.flag_resolved", object_id=str(payment.pk))
    assert entry.actor == world["staff"] and entry.data["note"] == "Called the guest; booking restored"


def test_resolve_flag_needs_a_note(staff_client, world):
    payment = world["payment_b"]
    Payment.objects.filter(pk=payment.pk).update(flagged=True)
    response = staff_client.post(url("resolve_flag", payment), {"note": ""})
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.flagged


def test_owner_list_holds_only_their_own_payments(client, world):
    client.force_login(world["owner_a"])
    response = client.get(LIST)
    assert response.status_code == 200
    assert listed_payment_ids(response) == {world["payment_a"].pk}
    assert "NXBBBB2B" not in response.content.decode()
    # The property filter offers only their own listing.
    assert "Bakari&#x27;s villa" not in response.content.decode()
    assert listed_payment_ids(client.get(LIST, {"q": "NXBBBB2B"})) == set()


@pytest.mark.parametrize("view", ["inspect", "recheck", "refund", "resolve_flag"])
def test_owner_cannot_reach_another_owners_payment_by_url(client, world, view):
    client.force_login(world["owner_a"])
    other = world["payment_b"]
    response = client.post(url(view, other), {"note": "x"}) if view == "recheck" else client.get(url(view, other))
    assert response.status_code == 404
    assert b"NXBBBB2B" not in response.content and b"254722222222" not in response.content


@pytest.mark.parametrize("view", ["refund", "resolve_flag"])
def test_owner_cannot_run_staff_actions_on_own_payment(client, world, view):
    client.force_login(world["owner_a"])
    payment = world["payment_a"]
    Payment.objects.filter(pk=payment.pk).update(flagged=True)
    response = client.post(url(view, payment), {"amount": 1, "mpesa_reference": "R1", "note": "n"})
    assert response.status_code == 404
    assert not Payment.objects.filter(kind="REFUND").exists()
    payment.refresh_from_db()
    assert payment.flagged


def test_owner_sees_own_payment_detail_without_staff_actions(client, world):
    client.force_login(world["owner_a"])
    response = client.get(url("inspect", world["payment_a"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert world["payment_a"].mpesa_receipt_number in html
    assert "Mark refunded" not in html and "Re-check with M-Pesa" not in html


def test_chooser_and_bulk_actions_do_not_leak_other_owners_payments(client, world):
    client.force_login(world["owner_a"])
    chooser = client.get("/admin/snippets/choose/mpesa/payment/")
    assert chooser.status_code == 200
    assert f"/chosen/{world['payment_b'].pk}/" not in chooser.json()["html"]
    assert f"/chosen/{world['payment_a'].pk}/" in chooser.json()["html"]
    assert client.get(f"/admin/snippets/choose/mpesa/payment/chosen/{world['payment_b'].pk}/").status_code == 404
    bulk = client.get(f"/admin/bulk/mpesa/payment/delete/?id={world['payment_b'].pk}")
    assert bulk.status_code == 404


def test_guest_cannot_log_into_the_admin_or_open_payments(client, world):
    guest = world["guest_a"]
    client.post("/admin/login/", {"username": guest.email, "password": DEFAULT_PASSWORD})
    for target in ("/admin/", LIST, url("inspect", world["payment_a"]), "/admin/reports/payments/"):
        response = client.get(target)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_recheck_refuses_a_payment_that_never_reached_daraja(staff_client, world):
    queued = make_payment(booking=world["booking_a"], status="QUEUED", amount=300, checkout_request_id=None)
    response = staff_client.post(url("recheck", queued), follow=True)
    assert "can be re-checked" in response.content.decode()
    assert not AuditEntry.objects.filter(action="payment.recheck_requested").exists()


def test_recheck_refuses_a_settled_payment(staff_client, world):
    response = staff_client.post(url("recheck", world["payment_a"]), follow=True)
    assert "can be re-checked" in response.content.decode()
    assert not AuditEntry.objects.filter(action="payment.recheck_requested").exists()


def test_recheck_is_post_only(staff_client, world):
    assert staff_client.get(url("recheck", world["payment_a"])).status_code == 405


def test_refund_of_a_failed_payment_is_not_offered(staff_client, world):
    booking = make_booking(property=world["stay_a"], guest=UserFactory(), check_in=future_date(60))
    failed = make_payment(booking=booking, status="FAILED", amount=100)
    html = staff_client.get(url("inspect", failed)).content.decode()
    assert "Mark refunded" not in html
    response = staff_client.post(
        url("refund", failed), {"amount": 100, "mpesa_reference": "R9", "note": "n"}, follow=True
    )
    assert "Nothing to refund" in response.content.decode()
    assert not Payment.objects.filter(kind="REFUND").exists()


def test_payment_list_queries_do_not_grow_with_rows(staff_client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(LIST).status_code == 200
        return len(captured)

    few = list_queries()
    for n in range(10):
        booking = make_booking(property=world["stay_b"], check_in=future_date(100 + 3 * n))
        make_payment(booking=booking, amount=1000 + n)
    assert list_queries() == few
