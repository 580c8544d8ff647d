"""Refunds and payouts in the Wagtail admin (mpesa/money_out_admin.py, mpesa/money_out_admin_views.py):
lists, filters, search, inspect with Daraja's raw bodies, the staff actions, owner scoping, the
dashboard panels, and the owner's cancel of a booking (reservations/admin_views.py)."""

import datetime as dt
import json
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from core.services import audit_record
from mpesa.models import CallbackRecord, Payout, Refund
from reservations.models import Booking
from tests.factories import DEFAULT_PASSWORD, StaffFactory, UserFactory, future_date, make_booking, make_payment

pytestmark = pytest.mark.django_db

REFUNDS = "/admin/snippets/mpesa/refund/"
PAYOUTS = "/admin/snippets/mpesa/payout/"


def refund_url(name, refund):
    return reverse(f"wagtailsnippets_mpesa_refund:{name}", args=[refund.pk])


def payout_url(name, payout):
    return reverse(f"wagtailsnippets_mpesa_payout:{name}", args=[payout.pk])


def booking_url(name, booking):
    return reverse(f"wagtailsnippets_reservations_booking:{name}", args=[booking.pk])


def listed(response, model: str) -> set[int]:
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(rf"/admin/snippets/mpesa/{model}/inspect/(\d+)/", response.content.decode())}


def make_refund(*, payment, status="QUEUED", amount=None, method="b2c", requested_by=None, **fields):
    return Refund.objects.create(
        booking=payment.booking,
        payment=payment,
        amount=amount or payment.amount,
        method=method,
        status=status,
        phone_number=payment.phone_number,
        reason=fields.pop("reason", f"Booking {payment.booking.reference}: cancelled by the guest"),
        requested_by=requested_by,
        originator_conversation_id=f"test-refund-{uuid.uuid4().hex}",
        **fields,
    )


def make_payout(*, booking, owner=None, status="SCHEDULED", gross=10000, commission=1000, due_at=None, **fields):
    return Payout.objects.create(
        booking=booking,
        owner=owner or booking.property.owner,
        status=status,
        gross=gross,
        commission=commission,
        amount=gross - commission,
        method=fields.pop("method", "b2c"),
        phone_number=fields.pop("phone_number", "254700111222"),
        due_at=due_at or timezone.now() + dt.timedelta(days=30),
        originator_conversation_id=f"test-payout-{uuid.uuid4().hex}",
        **fields,
    )


@pytest.fixture
def money(world):
    """A refund and a payout on each owner's booking."""
    refund_a = make_refund(payment=world["payment_a"], amount=4000, mpesa_transaction_id="TKA1111AAA")
    refund_b = make_refund(payment=world["payment_b"], amount=5000, method="reversal", status="FAILED",
                           failure_reason="The OriginalTransactionID is invalid.", result_code="R000002")
    payout_a = make_payout(booking=world["booking_a"])
    payout_b = make_payout(booking=world["booking_b"], phone_number="254700333444")
    return {"refund_a": refund_a, "refund_b": refund_b, "payout_a": payout_a, "payout_b": payout_b}


@pytest.fixture
def staff_client(client, world):
    client.force_login(world["staff"])
    return client


@pytest.fixture
def owner_client(client, world):
    client.force_login(world["owner_a"])
    return client


# -- permissions ---------------------------------------------------------------------------------


def test_wagtail_registry_hands_out_the_owner_scoped_money_out_policies():
    from wagtail.permissions import policy_registry

    from mpesa.permissions import payout_permission_policy, refund_permission_policy

    assert policy_registry.get_by_type(Refund) is refund_permission_policy
    assert policy_registry.get_by_type(Payout) is payout_permission_policy


@pytest.mark.parametrize("action", ["approve", "retry", "hold", "release"])
def test_money_out_actions_are_for_staff_only(world, money, action):
    from mpesa.permissions import payout_permission_policy, refund_permission_policy

    for policy, row in ((refund_permission_policy, money["refund_a"]), (payout_permission_policy, money["payout_a"])):
        assert policy.user_has_permission(world["staff"], action)
        assert not policy.user_has_permission(world["owner_a"], action)
        assert not policy.user_has_permission_for_instance(world["owner_a"], action, row)
        assert not policy.user_has_permission(world["guest_a"], "view")
        assert world["staff"] in set(policy.users_with_any_permission([action]))
        assert world["owner_a"] not in set(policy.users_with_any_permission([action]))


# -- lists, filters, search ---------------------------------------------------------------------


def test_staff_list_refunds_with_filters_and_search(staff_client, world, money):
    a, b = money["refund_a"].pk, money["refund_b"].pk
    response = staff_client.get(REFUNDS)
    assert listed(response, "refund") == {a, b}
    html = response.content.decode()
    for text in ("NXAAAA2A", "KES 4,000", "254722222222", "Failed", "The OriginalTransactionID is invalid."):
        assert text in html
    assert listed(staff_client.get(REFUNDS, {"status": "FAILED"}), "refund") == {b}
    assert listed(staff_client.get(REFUNDS, {"method": "b2c"}), "refund") == {a}
    assert listed(staff_client.get(REFUNDS, {"property": world["stay_b"].pk}), "refund") == {b}
    Refund.objects.filter(pk=b).update(created_at="2025-01-10T10:00:00+03:00")
    january = {"created_at_from": "2025-01-01", "created_at_to": "2025-01-31"}
    assert listed(staff_client.get(REFUNDS, january), "refund") == {b}
    # By booking reference, by the phone however it is typed, by the M-Pesa id.
    for query, expected in (("NXBBBB2B", b), ("0711 111 111", a), ("+254722222222", b), ("TKA1111AAA", a)):
        assert listed(staff_client.get(REFUNDS, {"q": query}), "refund") == {expected}, query


def test_staff_list_payouts_with_filters_and_search(staff_client, world, money):
    a, b = money["payout_a"].pk, money["payout_b"].pk
    response = staff_client.get(PAYOUTS)
    assert listed(response, "payout") == {a, b}
    assert "KES 9,000" in response.content.decode() and "Amina Owner" in response.content.decode()
    Payout.objects.filter(pk=a).update(status="HELD", hold_reason="Guest dispute")
    assert listed(staff_client.get(PAYOUTS, {"status": "HELD"}), "payout") == {a}
    Payout.objects.filter(pk=b).update(due_at="2025-02-10T10:00:00+03:00")
    assert listed(staff_client.get(PAYOUTS, {"due_at_from": "2025-02-01", "due_at_to": "2025-02-28"}), "payout") == {b}
    for query, expected in (("NXAAAA2A", a), ("0700 333 444", b), ("Bakari", b)):
        assert listed(staff_client.get(PAYOUTS, {"q": query}), "payout") == {expected}, query


def test_owner_lists_only_their_properties_refunds_and_their_own_payouts(owner_client, world, money):
    refunds = owner_client.get(REFUNDS)
    assert listed(refunds, "refund") == {money["refund_a"].pk}
    html = refunds.content.decode()
    assert "NXBBBB2B" not in html and "Bakari&#x27;s villa" not in html
    assert listed(owner_client.get(REFUNDS, {"q": "NXBBBB2B"}), "refund") == set()
    assert listed(owner_client.get(PAYOUTS), "payout") == {money["payout_a"].pk}
    assert listed(owner_client.get(PAYOUTS, {"q": "254700333444"}), "payout") == set()
    # Another owner's property as a filter is refused, never used to widen the list.
    response = owner_client.get(REFUNDS, {"property": world["stay_b"].pk})
    assert "Select a valid choice" in response.content.decode() and listed(response, "refund") <= {money["refund_a"].pk}
    # No action buttons for owners, even on their own rows.
    assert "Approve refund" not in html and "Hold payout" not in owner_client.get(PAYOUTS).content.decode()


@pytest.mark.parametrize("role", ["staff", "owner_a"])
@pytest.mark.parametrize(
    "url, fields",
    [
        (REFUNDS, ["property", "status", "method", "created_at_after", "created_at_before", "completed_at_after"]),
        (PAYOUTS, ["property", "status", "method", "due_at_after", "due_at_before", "completed_at_before"]),
        (REFUNDS + "results/", ["property"]),
        (PAYOUTS + "results/", ["property"]),
    ],
)
def test_security_money_out_filters_never_answer_500(client, world, money, role, url, fields):
    client.force_login(world[role])
    for field in fields:
        for value in ("9" * 12, "abc", "-1", "1.5", "\x00"):
            assert client.get(url, {field: value}).status_code == 200, (field, value)
        assert client.get(url, {field: "9" * 40}).status_code == 400


# -- inspect ---------------------------------------------------------------------------------------


def test_staff_inspect_refund_shows_raw_answer_results_callbacks_and_audit(staff_client, world, money):
    refund = money["refund_a"]
    body = {"Result": {"ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
                       "OriginatorConversationID": refund.originator_conversation_id,
                       "ConversationID": "AG_20261130_0000abc", "TransactionID": "TKA1111AAA"}}
    Refund.objects.filter(pk=refund.pk).update(
        status="SUCCESS",
        raw_response={"ConversationID": "AG_20261130_0000abc", "ResponseCode": "0",
                      "ResponseDescription": "Accept the service request successfully."},
        raw_result=body,
    )
    CallbackRecord.objects.create(
        kind="RESULT", dedupe_key=f"RESULT:{refund.pk}", raw_body=json.dumps(body), result_code="0",
        conversation_id="AG_20261130_0000abc", originator_conversation_id=refund.originator_conversation_id,
        deliveries=2, state="APPLIED", refund=refund, outcome_note="Refund settled: success",
    )
    audit_record(obj=refund, action="refund.settled", summary="Refund of KES 4,000 sent")
    response = staff_client.get(refund_url("inspect", refund))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Accept the service request successfully." in html  # the synchronous answer
    assert "AG_20261130_0000abc" in html and "processed successfully" in html  # the result
    assert "delivered 2 times" in html and "Refund settled: success" in html  # the stored callback
    assert "refund.settled" in html and "Refund of KES 4,000 sent" in html  # the audit trail
    assert f"/admin/snippets/mpesa/payment/inspect/{world['payment_a'].pk}/" in html


def test_owner_inspects_own_refund_and_payout_without_raw_bodies_or_actions(owner_client, world, money):
    refund, payout = money["refund_a"], money["payout_a"]
    Refund.objects.filter(pk=refund.pk).update(status="AWAITING_APPROVAL", raw_response={"ConversationID": "AG_secret"})
    html = owner_client.get(refund_url("inspect", refund)).content.decode()
    assert "KES 4,000" in html and "NXAAAA2A" in html
    assert "AG_secret" not in html and "Approve refund" not in html
    html = owner_client.get(payout_url("inspect", payout)).content.decode()
    assert "KES 9,000" in html and "KES 1,000" in html and "Hold payout" not in html


@pytest.mark.parametrize(
    "name, method",
    [("inspect", "get"), ("approve", "get"), ("approve", "post"), ("retry", "post")],
)
def test_owner_gets_404_for_another_owners_refund(owner_client, money, name, method):
    other = money["refund_b"]
    response = getattr(owner_client, method)(refund_url(name, other))
    assert response.status_code == 404
    assert b"NXBBBB2B" not in response.content and b"254722222222" not in response.content


@pytest.mark.parametrize("name", ["inspect", "hold", "release", "retry"])
def test_owner_gets_404_for_another_owners_payout(owner_client, money, name):
    response = owner_client.get(payout_url(name, money["payout_b"]))
    assert response.status_code == 404
    assert b"254700333444" not in response.content


def test_owner_cannot_act_on_their_own_refund_or_payout(owner_client, money):
    refund, payout = money["refund_a"], money["payout_a"]
    Refund.objects.filter(pk=refund.pk).update(status="AWAITING_APPROVAL")
    assert owner_client.post(refund_url("approve", refund)).status_code == 404
    assert owner_client.post(payout_url("hold", payout), {"reason": "mine"}).status_code == 404
    refund.refresh_from_db()
    payout.refresh_from_db()
    assert (refund.status, payout.status) == ("AWAITING_APPROVAL", "SCHEDULED")


def test_chooser_and_bulk_actions_do_not_leak_other_owners_rows(owner_client, money):
    for model, own, other in (("refund", money["refund_a"], money["refund_b"]),
                              ("payout", money["payout_a"], money["payout_b"])):
        chooser = owner_client.get(f"/admin/snippets/choose/mpesa/{model}/")
        assert chooser.status_code == 200
        assert f"/chosen/{other.pk}/" not in chooser.json()["html"] and f"/chosen/{own.pk}/" in chooser.json()["html"]
        assert owner_client.get(f"/admin/snippets/choose/mpesa/{model}/chosen/{other.pk}/").status_code == 404
        assert owner_client.get(f"/admin/bulk/mpesa/{model}/delete/?id={other.pk}").status_code == 404


def test_money_rows_have_no_add_edit_or_delete(staff_client, money):
    refund, payout = money["refund_a"], money["payout_a"]
    denied = [
        staff_client.get(refund_url("edit", refund)),
        staff_client.post(refund_url("edit", refund), {"amount": 1}),
        staff_client.get(reverse("wagtailsnippets_mpesa_refund:add")),
        staff_client.post(refund_url("delete", refund)),
        staff_client.post(payout_url("edit", payout), {"amount": 1}),
        staff_client.post(payout_url("delete", payout)),
    ]
    assert all(r.status_code == 302 and r["Location"] == "/admin/" for r in denied)
    refund.refresh_from_db()
    payout.refresh_from_db()
    assert (refund.amount, payout.amount) == (4000, 9000)


def test_guest_has_no_admin_at_all(client, world, money):
    client.post("/admin/login/", {"username": world["guest_a"].email, "password": DEFAULT_PASSWORD})
    for target in (REFUNDS, PAYOUTS, refund_url("inspect", money["refund_a"]), payout_url("hold", money["payout_a"])):
        response = client.get(target)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


# -- refund actions --------------------------------------------------------------------------------


def test_the_staff_member_who_asked_cannot_approve_and_another_can(client, world, money):
    asker, second = world["staff"], StaffFactory(name="Otieno Staff")
    refund = make_refund(payment=world["payment_a"], amount=25000, status="AWAITING_APPROVAL", requested_by=asker)
    client.force_login(asker)
    page = client.get(refund_url("approve", refund)).content.decode()
    assert "You asked for this refund" in page and "KES 25,000" in page
    response = client.post(refund_url("approve", refund))
    assert response.status_code == 200
    assert "another staff member" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == "AWAITING_APPROVAL" and refund.approved_by is None

    client.force_login(second)
    assert "Approve refund" in client.get(refund_url("inspect", refund)).content.decode()
    response = client.post(refund_url("approve", refund))
    assert response.status_code == 302 and response["Location"] == refund_url("inspect", refund)
    refund.refresh_from_db()
    assert refund.status == "QUEUED" and refund.approved_by == second and refund.approved_at is not None
    assert AuditEntry.objects.filter(action="refund.approved", object_id=str(refund.pk), actor=second).exists()
    html = client.get(refund_url("inspect", refund)).content.decode()
    assert "Otieno Staff" in html and "Approve refund" not in html
    # Approving again: the page says it does not apply.
    follow = client.get(refund_url("approve", refund), follow=True)
    assert "does not apply" in follow.content.decode()


def test_approve_needs_csrf(world):
    refund = make_refund(payment=world["payment_a"], status="AWAITING_APPROVAL")
    client = Client(enforce_csrf_checks=True)
    client.force_login(StaffFactory())
    assert client.post(refund_url("approve", refund)).status_code == 403
    refund.refresh_from_db()
    assert refund.status == "AWAITING_APPROVAL"


def test_staff_retry_a_failed_refund_makes_a_new_attempt(staff_client, world, money):
    failed = money["refund_b"]
    page = staff_client.get(refund_url("retry", failed)).content.decode()
    assert "The OriginalTransactionID is invalid." in page and "KES 5,000" in page
    response = staff_client.post(refund_url("retry", failed))
    retry = Refund.objects.get(retry_of=failed)
    assert response.status_code == 302 and response["Location"] == refund_url("inspect", retry)
    assert (retry.amount, retry.payment_id, retry.status, retry.requested_by) == (
        5000, failed.payment_id, "QUEUED", world["staff"],
    )
    # The reversal cannot work on that receipt: the new attempt is a B2C.
    assert retry.method == "b2c"
    html = staff_client.get(refund_url("inspect", failed)).content.decode()
    assert f"Refund #{retry.pk}" in html and "Retry refund" not in html
    assert "was already retried" in staff_client.get(refund_url("retry", failed), follow=True).content.decode()
    again = staff_client.post(refund_url("retry", failed))
    assert again.status_code == 200 and Refund.objects.filter(retry_of=failed).count() == 1


def test_retry_of_a_refund_that_did_not_fail_is_refused(staff_client, money):
    response = staff_client.post(refund_url("retry", money["refund_a"]))
    assert response.status_code == 200 and "Only a failed refund" in response.content.decode()
    assert not Refund.objects.filter(retry_of=money["refund_a"]).exists()


# -- payout actions --------------------------------------------------------------------------------


def test_staff_hold_then_release_a_payout(staff_client, world, money):
    payout = money["payout_a"]
    assert "Hold payout" in staff_client.get(payout_url("inspect", payout)).content.decode()
    missing = staff_client.post(payout_url("hold", payout), {"reason": ""})
    assert missing.status_code == 200 and "This field is required" in missing.content.decode()
    response = staff_client.post(payout_url("hold", payout), {"reason": "Guest reported a broken water heater"})
    assert response.status_code == 302
    payout.refresh_from_db()
    assert payout.status == "HELD" and payout.held_by == world["staff"]
    assert payout.hold_reason == "Guest reported a broken water heater"
    html = staff_client.get(payout_url("inspect", payout)).content.decode()
    assert "Release payout" in html and "broken water heater" in html and "Hold payout" not in html
    assert listed(staff_client.get(PAYOUTS, {"status": "HELD"}), "payout") == {payout.pk}

    response = staff_client.post(payout_url("release", payout))
    assert response.status_code == 302
    payout.refresh_from_db()
    # Not due yet: back to SCHEDULED, it goes when due.
    assert payout.status == "SCHEDULED"
    assert AuditEntry.objects.filter(action="payout.held", object_id=str(payout.pk)).exists()
    assert AuditEntry.objects.filter(action="payout.hold_lifted", object_id=str(payout.pk)).exists()
    follow = staff_client.get(payout_url("release", payout), follow=True)
    assert "does not apply" in follow.content.decode()


def test_a_sent_payout_cannot_be_held(staff_client, money):
    payout = money["payout_a"]
    Payout.objects.filter(pk=payout.pk).update(status="PENDING", sent_at=timezone.now())
    assert "does not apply" in staff_client.get(payout_url("hold", payout), follow=True).content.decode()
    response = staff_client.post(payout_url("hold", payout), {"reason": "too late"})
    assert response.status_code == 200 and "cannot be held" in response.content.decode()
    payout.refresh_from_db()
    assert payout.status == "PENDING"


def test_staff_retry_a_failed_payout(staff_client, world, money):
    owner = world["owner_a"]
    owner.payout_phone_number = "254700111222"
    owner.save(update_fields=["payout_phone_number"])
    payout = money["payout_a"]
    Payout.objects.filter(pk=payout.pk).update(status="FAILED", failure_reason="Initiator information is invalid")
    response = staff_client.post(payout_url("retry", payout))
    retry = Payout.objects.get(retry_of=payout)
    assert response.status_code == 302 and response["Location"] == payout_url("inspect", retry)
    assert retry.owner == owner and retry.status in ("SCHEDULED", "QUEUED")
    assert "Retry payout" not in staff_client.get(payout_url("inspect", payout)).content.decode()


# -- dashboard -------------------------------------------------------------------------------------


def test_staff_dashboard_counts_refunds_awaiting_failed_and_payouts_due(staff_client, world, money):
    make_refund(payment=world["payment_a"], amount=30000, status="AWAITING_APPROVAL", requested_by=world["staff"])
    Payout.objects.filter(pk=money["payout_a"].pk).update(due_at=timezone.now() - dt.timedelta(hours=1))
    html = staff_client.get("/admin/").content.decode()
    assert 'data-refunds-awaiting="1"' in html and "KES 30,000" in html
    assert 'data-refunds-failed="1"' in html and "The OriginalTransactionID is invalid." in html
    assert 'data-payouts-due="1"' in html
    # A failed refund that was retried is no longer waiting for anyone.
    make_refund(payment=world["payment_b"], amount=5000, retry_of=money["refund_b"])
    assert 'data-refunds-failed="0"' in staff_client.get("/admin/").content.decode()


def test_owner_dashboard_shows_their_upcoming_payouts_only(owner_client, world, money):
    make_payout(booking=make_booking(property=world["stay_a"], status="CONFIRMED", check_in=future_date(50)),
                gross=20000, commission=2000)
    html = owner_client.get("/admin/").content.decode()
    assert 'data-payouts-upcoming="2"' in html and "KES 27,000" in html  # 9,000 + 18,000
    assert "Refunds awaiting approval" not in html and "Failed refunds" not in html
    assert "NXBBBB2B" not in html


# -- owner cancel ------------------------------------------------------------------------------------


def test_owner_cancels_their_booking_and_everything_paid_is_refunded(owner_client, world):
    booking = make_booking(property=world["stay_a"], guest=UserFactory(), status="CONFIRMED",
                           check_in=future_date(3), amount_paid=10000)
    make_payment(booking=booking, amount=6000, phone_number="254711000001")
    make_payment(booking=booking, amount=4000, phone_number="254711000002")
    page = owner_client.get(booking_url("cancel", booking)).content.decode()
    assert "KES 10,000 (everything paid) goes back" in page
    response = owner_client.post(booking_url("cancel", booking), {"reason": "Roof repairs"})
    assert response.status_code == 302 and response["Location"] == booking_url("inspect", booking)
    booking.refresh_from_db()
    assert booking.status == "CANCELED" and booking.cancel_kind == "owner"
    refunds = Refund.objects.filter(booking=booking)
    assert sum(r.amount for r in refunds) == 10000
    assert {r.method for r in refunds} == {"reversal"}  # each payment given back whole
    entry = AuditEntry.objects.get(action="booking.canceled_by_owner", object_id=str(booking.pk))
    assert entry.actor == world["owner_a"] and entry.data["reason"] == "Roof repairs"
    follow = owner_client.get(booking_url("inspect", booking)).content.decode()
    assert "Cancel booking" not in follow
    # The owner now sees those refunds in their list.
    assert listed(owner_client.get(REFUNDS), "refund") == set(refunds.values_list("pk", flat=True))


def test_owner_cancel_of_a_large_booking_waits_for_staff_approval(owner_client, world, settings):
    settings.REFUND_APPROVAL_THRESHOLD = 5000
    booking = make_booking(property=world["stay_a"], status="CONFIRMED", check_in=future_date(9), amount_paid=10000)
    make_payment(booking=booking, amount=10000)
    assert "a Nexus staff member approves" in owner_client.get(booking_url("cancel", booking)).content.decode()
    owner_client.post(booking_url("cancel", booking), {"reason": "Sold the house"})
    assert list(Refund.objects.filter(booking=booking).values_list("status", "requested_by")) == [
        ("AWAITING_APPROVAL", world["owner_a"].pk)
    ]


def test_owner_cannot_cancel_another_owners_booking_or_with_a_payment_in_flight(owner_client, world):
    assert owner_client.get(booking_url("cancel", world["booking_b"])).status_code == 404
    assert owner_client.post(booking_url("cancel", world["booking_b"]), {"reason": "x"}).status_code == 404
    booking = world["booking_a"]
    make_payment(booking=booking, status="PENDING", amount=500)
    response = owner_client.post(booking_url("cancel", booking), {"reason": "Double-let"})
    assert response.status_code == 200 and "still in progress" in response.content.decode()
    assert Booking.objects.get(pk=booking.pk).status == "CONFIRMED"
    assert not Refund.objects.filter(booking=booking).exists()


def test_booking_owner_cancel_service_checks_who_and_why(world):
    from core.exceptions import ApplicationError
    from reservations.staff_services import booking_owner_cancel

    booking = world["booking_a"]
    with pytest.raises(ApplicationError) as error:
        booking_owner_cancel(booking_id=booking.pk, actor=world["owner_b"], reason="not mine")
    assert error.value.status == 404
    with pytest.raises(ApplicationError) as error:
        booking_owner_cancel(booking_id=booking.pk, actor=world["owner_a"], reason=" ")
    assert error.value.code == "reason_required"
    canceled, refunds = booking_owner_cancel(booking_id=booking.pk, actor=world["owner_a"], reason="Flooded")
    assert canceled.status == "CANCELED" and sum(r["amount"] for r in refunds) == 10000
    with pytest.raises(ApplicationError) as error:
        booking_owner_cancel(booking_id=booking.pk, actor=world["owner_a"], reason="again")
    assert error.value.code == "already_canceled"


# -- owner's payout destination on the admin account page ------------------------------------------


def test_owner_sets_their_payout_number_on_the_admin_account_page(owner_client, world):
    owner = world["owner_a"]
    page = owner_client.get("/admin/account/").content.decode()
    assert "Payouts" in page and "payout_destination-payout_phone_number" in page
    # Wagtail's other account panels are saved with it: their current values.
    form = {
        "name_email-first_name": "Amina",
        "name_email-last_name": "Owner",
        "name_email-email": owner.email,
        "locale-preferred_language": "",
        "locale-current_time_zone": "",
        "theme-theme": "system",
        "theme-density": "default",
        "theme-contrast": "system",
        "payout_destination-payout_method": "mpesa",
        "payout_destination-payout_phone_number": "0712 345 678",
    }
    response = owner_client.post("/admin/account/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    owner.refresh_from_db()
    assert (owner.payout_method, owner.payout_phone_number) == ("mpesa", "254712345678")
    assert AuditEntry.objects.filter(action="user.payout_destination", object_id=str(owner.pk)).exists()

    bad = {**form, "payout_destination-payout_method": "paybill", "payout_destination-payout_business_number": "12"}
    response = owner_client.post("/admin/account/", bad)
    assert response.status_code == 200 and "5 to 7 digits" in response.content.decode()
    owner.refresh_from_db()
    assert owner.payout_method == "mpesa"


def test_guest_account_has_no_payout_panel_and_staff_may_set_one(client, world):
    from mpesa.money_out_admin import PayoutDestinationSettingsPanel

    assert not PayoutDestinationSettingsPanel(None, world["guest_a"], None).is_active()
    assert PayoutDestinationSettingsPanel(None, world["staff"], None).is_active()


@pytest.mark.parametrize("url", [REFUNDS, PAYOUTS])
def test_money_out_list_queries_do_not_grow_with_rows(staff_client, world, money, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def list_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get(url).status_code == 200
        return len(captured)

    few = list_queries()
    for n in range(6):
        booking = make_booking(property=world["stay_b"], status="CONFIRMED", check_in=future_date(100 + 3 * n))
        payment = make_payment(booking=booking, amount=1000 + n)
        make_refund(payment=payment, status="FAILED" if n % 2 else "AWAITING_APPROVAL")
        make_payout(booking=booking, status="FAILED" if n % 2 else "HELD")
    assert list_queries() == few
