"""Owner payouts (mpesa/payouts.py; docs/money-out.md): commission, planning, release after check-in,
holds, a missing payout number, concurrency, and the payout reaching the owner's phone on the simulator."""

import datetime as dt
import threading

import pytest
import requests
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from core.exceptions import ApplicationError
from core.models import AuditEntry
from listings.site_setup import ensure_site_tree
from mpesa import payouts
from mpesa.ledger import ledger_check
from mpesa.models import Payout, Refund
from mpesa.payouts import (
    NOTE_NO_DESTINATION,
    NOTE_REFUND_OPEN,
    payout_commission,
    payout_due_at,
    payout_hold,
    payout_list_for_owner,
    payout_release,
    payout_retry,
    payouts_plan,
    payouts_release_due,
)
from reservations.cancellation import cancellation_terms
from reservations.deadlines import check_in_at
from reservations.models import Booking
from tests.factories import (
    OwnerFactory,
    StaffFactory,
    make_booking,
    make_payment,
    make_property,
    recompute_booking_money,
)
from tests.processes import run_together, wait_until

OWNER_PHONE = "254711000111"


def paid_booking(*, owner=None, check_in=None, nights=2, price=5000, policy="moderate", status="CONFIRMED"):
    """A booking paid in full by one successful STK payment, its money reported as the services do."""
    owner = owner or OwnerFactory(payout_phone_number=OWNER_PHONE)
    prop = make_property(owner=owner, price_per_night=price, cancellation_policy=policy)
    booking = make_booking(property=prop, check_in=check_in or timezone.localdate() - dt.timedelta(days=2),
                           nights=nights, status=status)
    payment = make_payment(booking=booking, amount=booking.total_price)
    recompute_booking_money(booking.pk)
    booking.refresh_from_db()
    return booking, payment


def cancel(booking, kind: str) -> None:
    Booking.objects.filter(pk=booking.pk).update(status="CANCELED", cancel_kind=kind, canceled_at=timezone.now())


def refund_row(*, booking, payment, amount, status="QUEUED", **fields) -> Refund:
    from mpesa.transfers import new_originator_conversation_id

    return Refund.objects.create(
        booking=booking, payment=payment, amount=amount, status=status, phone_number=payment.phone_number,
        method=Refund.Method.REVERSAL if amount == payment.amount else Refund.Method.B2C,
        reason="Cancelled by the guest", originator_conversation_id=new_originator_conversation_id("refund"), **fields,
    )


@pytest.fixture
def sent(monkeypatch):
    """What was handed to mpesa.transfers for sending (no Daraja here)."""
    calls, lock = [], threading.Lock()

    def record(transfer):
        with lock:
            calls.append(transfer.pk)

    monkeypatch.setattr(payouts, "transfer_enqueue_on_commit", record)
    return calls


# --- Commission -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "percent, gross, commission",
    [(10, 10000, 1000), (10, 1005, 101), (10, 1004, 100), (10, 15, 2), (10, 14, 1), (7, 1050, 74), (7, 1049, 73),
     (0, 999, 0), (15, 1, 0), (15, 10, 2)],
)
def test_commission_is_the_percent_rounded_half_up_to_the_shilling(settings, percent, gross, commission):
    settings.PLATFORM_COMMISSION_PERCENT = percent
    assert payout_commission(gross) == commission
    assert isinstance(payout_commission(gross), int)


def test_schedules_are_installed_by_the_migration(db):
    release = Schedule.objects.get(name="payouts_release_due")
    assert (release.func, release.schedule_type, release.minutes, release.repeats) == (
        "mpesa.tasks.payouts_release_due", Schedule.MINUTES, 5, -1,
    )
    reconcile = Schedule.objects.get(name="transfers_reconcile")
    assert (reconcile.func, reconcile.schedule_type, reconcile.minutes) == (
        "mpesa.tasks.transfers_reconcile", Schedule.MINUTES, 1,
    )


# --- Planning and release -----------------------------------------------------------------------------------


def test_a_confirmed_stay_is_planned_and_released_only_after_check_in_plus_the_delay(db, settings, sent):
    settings.PAYOUT_DELAY_HOURS = 24
    booking, _ = paid_booking(check_in=timezone.localdate() + dt.timedelta(days=10))
    assert payouts_plan() == 1
    payout = Payout.objects.get(booking=booking)
    assert payout.status == Payout.Status.SCHEDULED
    assert payout.due_at == check_in_at(booking.check_in) + dt.timedelta(hours=24)
    assert (payout.gross, payout.commission, payout.amount) == (10000, 1000, 9000)
    assert payout.owner == booking.property.owner and payout.phone_number == OWNER_PHONE
    assert payouts_plan() == 0, "a second plan changes nothing"

    assert payouts_release_due(now=payout.due_at - dt.timedelta(minutes=1)) == 0
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.SCHEDULED and sent == []

    assert payouts_release_due(now=payout.due_at) == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.QUEUED and payout.released_at == payout.due_at
    assert (payout.method, payout.phone_number) == (Payout.Method.B2C, OWNER_PHONE)
    assert sent == [payout.pk]
    assert payouts_release_due(now=payout.due_at + dt.timedelta(hours=1)) == 0, "released once"
    assert sent == [payout.pk]
    assert AuditEntry.objects.filter(action="payout.released", object_id=str(payout.pk)).count() == 1


def test_a_booking_not_paid_or_cancelled_by_the_owner_pays_no_one(db, sent):
    unpaid = make_booking(property=make_property(), check_in=timezone.localdate() - dt.timedelta(days=3))
    owner_cancelled, _ = paid_booking()
    cancel(owner_cancelled, "owner")
    hold_expired, _ = paid_booking()
    cancel(hold_expired, "hold_expired")
    assert payouts_release_due() == 0
    assert not Payout.objects.filter(booking__in=[unpaid, owner_cancelled, hold_expired]).exists()


def test_never_a_payout_for_a_fully_refunded_cancellation(db, sent):
    booking, payment = paid_booking(check_in=timezone.localdate() + dt.timedelta(days=20))
    payouts_plan()
    planned = Payout.objects.get(booking=booking)
    # The guest cancels early: everything goes back (moderate, > 5 days before check-in).
    terms = cancellation_terms(policy="moderate", check_in=booking.check_in, paid=booking.amount_paid)
    assert terms.refund_amount == booking.amount_paid
    cancel(booking, "guest")
    refund = refund_row(booking=booking, payment=payment, amount=terms.refund_amount)
    payouts_plan()
    assert not Payout.objects.filter(pk=planned.pk).exists(), "the planned payout is dropped"
    assert AuditEntry.objects.filter(action="payout.dropped", object_id=str(planned.pk)).exists()
    # The refund lands: still nothing, at any time after check-in.
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.SUCCESS)
    recompute_booking_money(booking.pk)
    assert payouts_release_due(now=payout_due_at(booking.check_in) + dt.timedelta(days=3)) == 0
    assert not Payout.objects.filter(booking=booking).exists() and sent == []
    # A refund that failed and is not retried yet is still the guest's money: no payout either.
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.FAILED)
    recompute_booking_money(booking.pk)
    assert payouts_release_due(now=payout_due_at(booking.check_in) + dt.timedelta(days=3)) == 0
    assert not Payout.objects.filter(booking=booking).exists()


def test_a_late_guest_cancellation_pays_the_owner_their_share_of_what_was_kept_at_the_original_check_in(
    db, settings, sent
):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    check_in = timezone.localdate() + dt.timedelta(days=3)
    booking, payment = paid_booking(check_in=check_in, nights=3, price=3335)  # 10005 paid
    # Cancelled 3 days before check-in under "moderate": half back (rounded up for the guest).
    terms = cancellation_terms(policy="moderate", check_in=check_in, paid=booking.amount_paid)
    assert (terms.refund_amount, terms.kept) == (5003, 5002)
    cancel(booking, "guest")
    refund = refund_row(booking=booking, payment=payment, amount=terms.refund_amount)

    payouts_plan()
    payout = Payout.objects.get(booking=booking)
    assert payout.due_at == check_in_at(check_in) + dt.timedelta(hours=settings.PAYOUT_DELAY_HOURS)
    assert (payout.gross, payout.commission, payout.amount) == (5002, 500, 4502)

    # Due, but the guest's refund is not settled yet: it waits, saying why.
    assert payouts_release_due(now=payout.due_at) == 0
    payout.refresh_from_db()
    assert payout.status == Payout.Status.SCHEDULED and payout.note == NOTE_REFUND_OPEN

    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.SUCCESS)
    recompute_booking_money(booking.pk)
    assert payouts_release_due(now=payout.due_at) == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.QUEUED and payout.note == ""
    assert (payout.gross, payout.commission, payout.amount) == (5002, 500, 4502)
    assert sent == [payout.pk]


def test_a_held_payout_is_not_released_until_staff_release_it(db, sent):
    staff = StaffFactory()
    booking, _ = paid_booking()
    payouts_plan()
    payout = Payout.objects.get(booking=booking)

    with pytest.raises(ApplicationError) as error:
        payout_hold(payout_id=payout.pk, actor=booking.property.owner, reason="mine")
    assert (error.value.status, error.value.code) == (403, "staff_only")
    with pytest.raises(ApplicationError) as error:
        payout_hold(payout_id=payout.pk, actor=staff, reason=" ")
    assert (error.value.status, error.value.code) == (400, "reason_required")

    held = payout_hold(payout_id=payout.pk, actor=staff, reason="Guest reported damage")
    assert (held.status, held.held_by, held.hold_reason) == (Payout.Status.HELD, staff, "Guest reported damage")
    assert payouts_release_due(now=timezone.now() + dt.timedelta(days=30)) == 0
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.HELD and sent == []
    with pytest.raises(ApplicationError) as error:
        payout_hold(payout_id=payout.pk, actor=staff, reason="again")
    assert error.value.code == "not_holdable"

    released = payout_release(payout_id=payout.pk, actor=staff)
    assert released.status == Payout.Status.QUEUED, "due already: it goes out at once"
    assert sent == [payout.pk]
    with pytest.raises(ApplicationError) as error:
        payout_release(payout_id=payout.pk, actor=staff)
    assert error.value.code == "not_held"
    actions = list(AuditEntry.objects.filter(object_id=str(payout.pk), action__startswith="payout.").order_by(
        "pk").values_list("action", flat=True))
    assert actions == ["payout.scheduled", "payout.held", "payout.hold_lifted", "payout.released"]


def test_a_payout_released_before_it_is_due_waits_for_its_time(db, sent):
    staff = StaffFactory()
    booking, _ = paid_booking(check_in=timezone.localdate() + dt.timedelta(days=5))
    payouts_plan()
    payout = Payout.objects.get(booking=booking)
    payout_hold(payout_id=payout.pk, actor=staff, reason="check")
    assert payout_release(payout_id=payout.pk, actor=staff).status == Payout.Status.SCHEDULED
    assert sent == []


def test_an_owner_without_a_payout_number_waits_with_a_note(db, sent):
    owner = OwnerFactory(payout_phone_number="")
    booking, _ = paid_booking(owner=owner)
    assert payouts_release_due() == 0
    payout = Payout.objects.get(booking=booking)
    assert payout.status == Payout.Status.SCHEDULED and payout.note == NOTE_NO_DESTINATION
    assert sent == []
    owner.payout_phone_number = "254722333444"
    owner.save(update_fields=["payout_phone_number"])
    assert payouts_release_due() == 1
    payout.refresh_from_db()
    assert (payout.status, payout.phone_number, payout.note) == (Payout.Status.QUEUED, "254722333444", "")


def test_a_paybill_owner_is_paid_by_b2b(db, sent):
    owner = OwnerFactory(payout_method="paybill", payout_business_number="600100", payout_account_reference="NEXUS")
    booking, _ = paid_booking(owner=owner)
    assert payouts_release_due() == 1
    payout = Payout.objects.get(booking=booking)
    assert (payout.method, payout.business_number, payout.account_reference, payout.phone_number) == (
        Payout.Method.PAYBILL, "600100", "NEXUS", "",
    )


def test_a_failed_payout_is_retried_by_staff_as_a_new_row(db, sent):
    staff = StaffFactory()
    booking, _ = paid_booking()
    payouts_release_due()
    failed = Payout.objects.get(booking=booking)
    Payout.objects.filter(pk=failed.pk).update(status=Payout.Status.FAILED, failure_reason="M-Pesa result 1")
    assert payouts_release_due() == 0, "a failed payout is not planned again by itself"
    assert Payout.objects.filter(booking=booking).count() == 1

    retry = payout_retry(payout_id=failed.pk, actor=staff)
    assert retry.pk != failed.pk and retry.retry_of_id == failed.pk
    assert retry.status == Payout.Status.QUEUED and retry.amount == failed.amount
    assert retry.originator_conversation_id != failed.originator_conversation_id
    assert sent == [failed.pk, retry.pk]
    with pytest.raises(ApplicationError) as error:
        payout_retry(payout_id=failed.pk, actor=staff)
    assert error.value.code == "not_retryable"


def test_payout_list_for_owner_shows_only_their_own(db, sent):
    mine, _ = paid_booking()
    theirs, _ = paid_booking()
    payouts_plan()
    owner = mine.property.owner
    assert list(payout_list_for_owner(user=owner).values_list("booking_id", flat=True)) == [mine.pk]
    assert list(payout_list_for_owner(user=StaffFactory())) == []
    assert theirs.pk in Payout.objects.values_list("booking_id", flat=True)


def test_release_payouts_command_prints_what_it_did(db, sent, capsys):
    booking, _ = paid_booking()
    waiting, _ = paid_booking(owner=OwnerFactory(payout_phone_number=""))
    call_command("release_payouts")
    out = capsys.readouterr().out
    released = Payout.objects.get(booking=booking)
    assert f"payout {released.pk} (booking {booking.pk}, KES 9,000): released" in out
    assert NOTE_NO_DESTINATION in out
    assert "Released 1 payout(s); 1 due and not released." in out


@pytest.mark.django_db(transaction=True)
def test_release_payouts_run_twice_at_once_releases_each_payout_once(sent):
    ensure_site_tree()
    bookings = [paid_booking()[0] for _ in range(6)]
    results = run_together([lambda: call_command("release_payouts") for _ in range(2)])
    assert results == [None, None], results
    payouts_by_booking = {p.booking_id: p for p in Payout.objects.all()}
    assert sorted(payouts_by_booking) == sorted(b.pk for b in bookings)
    assert all(p.status == Payout.Status.QUEUED for p in payouts_by_booking.values())
    assert sorted(sent) == sorted(p.pk for p in payouts_by_booking.values()), "each handed to the sender once"
    released = AuditEntry.objects.filter(action="payout.released").values_list("object_id", flat=True)
    assert sorted(released) == sorted(str(p.pk) for p in payouts_by_booking.values())


# --- Over the simulator (real HTTP: B2C out, the result back to /payments/result/<token>/) --------------------


def wait_for_payout(payout_id: int, *statuses: str, timeout: float = 30) -> Payout:
    return wait_until(
        lambda: (p := Payout.objects.get(pk=payout_id)).status in statuses and p,
        timeout=timeout, message=f"payout {payout_id} to become {'/'.join(statuses)}",
    )


@pytest.mark.django_db(transaction=True)
def test_a_due_payout_reaches_the_owners_phone_and_the_owner_is_told(simulator, capsys):
    ensure_site_tree()  # a transactional test starts from an empty database
    mail.outbox.clear()
    booking, _ = paid_booking()  # checked in two days ago
    call_command("release_payouts")
    payout = wait_for_payout(Payout.objects.get(booking=booking).pk, "SUCCESS", "FAILED")
    assert payout.status == Payout.Status.SUCCESS, (payout.result_code, payout.failure_reason)
    assert payout.mpesa_transaction_id and payout.raw_result["Result"]["ResultCode"] == 0

    sent = simulator.transfers(party=OWNER_PHONE)
    assert [(t["kind"], t["amount"], t["succeeded"], t["originator_conversation_id"]) for t in sent] == [
        ("b2c", 9000, True, payout.originator_conversation_id)
    ]
    phone = requests.get(f"{simulator.base}/phone/{OWNER_PHONE}/", timeout=10)
    assert "You have received KES 9,000 from NEXUS" in phone.text
    assert payout.mpesa_transaction_id in phone.text

    wait_until(lambda: any("Payout of KES 9,000 sent" in m.subject for m in mail.outbox), timeout=10,
               message="the owner's payout email")
    email = next(m for m in mail.outbox if "Payout of KES 9,000 sent" in m.subject)
    assert email.to == [booking.property.owner.email] and "Nexus commission: KES 1,000" in email.body
    actions = wait_until(
        lambda: "payout.owner_notified" in (found := list(
            AuditEntry.objects.filter(object_id=str(payout.pk), action__startswith="payout.")
            .order_by("pk").values_list("action", flat=True)
        )) and found,
        timeout=10, message="the owner_notified audit entry",
    )
    assert actions[:3] == ["payout.scheduled", "payout.released", "payout.sending"]
    assert "payout.succeeded" in actions

    capsys.readouterr()
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_release_payouts_run_twice_at_once_sends_one_b2c_per_payout(simulator):
    ensure_site_tree()
    owners = [OwnerFactory(payout_phone_number=f"25471100{n:04d}") for n in range(4)]
    bookings = [paid_booking(owner=owner)[0] for owner in owners]
    results = run_together([lambda: call_command("release_payouts") for _ in range(2)])
    assert results == [None, None], results
    payouts_made = list(Payout.objects.filter(booking__in=bookings))
    assert len(payouts_made) == 4
    for payout in payouts_made:
        assert wait_for_payout(payout.pk, "SUCCESS", "FAILED").status == Payout.Status.SUCCESS
    for owner in owners:
        sent = simulator.transfers(party=owner.payout_phone_number)
        assert [(t["kind"], t["amount"]) for t in sent] == [("b2c", 9000)], sent
    assert AuditEntry.objects.filter(action="payout.released").count() == 4
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_a_payout_m_pesa_fails_is_failed_with_its_reason_and_staff_retry_sends_it_once_more(simulator):
    ensure_site_tree()
    booking, _ = paid_booking()
    simulator.transfer_directive(OWNER_PHONE, result="failure")
    assert payouts_release_due() == 1
    failed = wait_for_payout(Payout.objects.get(booking=booking).pk, "SUCCESS", "FAILED")
    assert failed.status == Payout.Status.FAILED and failed.result_code not in (None, "", "0")
    assert failed.failure_reason.startswith(f"M-Pesa result {failed.result_code}")
    assert payouts_release_due() == 0, "nothing sends a failed payout again by itself"

    retry = payout_retry(payout_id=failed.pk, actor=StaffFactory())
    retry = wait_for_payout(retry.pk, "SUCCESS", "FAILED")
    assert retry.status == Payout.Status.SUCCESS and retry.amount == failed.amount == 9000
    sent = simulator.transfers(party=OWNER_PHONE)
    assert sorted((t["originator_conversation_id"], t["succeeded"]) for t in sent) == sorted(
        [(failed.originator_conversation_id, False), (retry.originator_conversation_id, True)]
    )
    assert ledger_check() == []
