"""django-q2 entry points: the reconcile schedule exists, and tasks are safe to run twice."""

import pytest
from django_q.models import Schedule

from mpesa.models import CallbackRecord, Payment
from mpesa.simulator.models import SimulatedStkPush
from mpesa.tasks import payment_reconcile_pending, payment_send_stk_push
from tests.factories import make_booking, make_payment


@pytest.mark.django_db
def test_reconciliation_runs_every_minute_from_a_schedule_made_by_a_migration():
    schedule = Schedule.objects.get(name="payment_reconcile_pending")
    assert schedule.func == "mpesa.tasks.payment_reconcile_pending"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


@pytest.mark.django_db(transaction=True)
def test_the_stk_push_task_run_twice_prompts_the_phone_once(simulator):
    booking = make_booking()
    payment = make_payment(booking=booking, status="QUEUED", amount=500, checkout_request_id=None)
    assert payment_send_stk_push(payment.pk) == "PENDING"
    assert payment_send_stk_push(payment.pk) == "PENDING"
    assert SimulatedStkPush.objects.count() == 1
    payment.refresh_from_db()
    assert payment.checkout_request_id == SimulatedStkPush.objects.get().checkout_request_id


@pytest.mark.django_db(transaction=True)
def test_the_stk_push_task_for_a_cancelled_booking_fails_the_payment_without_prompting(simulator):
    booking = make_booking(status="CANCELED")
    payment = make_payment(booking=booking, status="QUEUED", amount=500, checkout_request_id=None)
    assert payment_send_stk_push(payment.pk) == "FAILED"
    assert not SimulatedStkPush.objects.exists()
    assert "no longer take payments" in Payment.objects.get(pk=payment.pk).failure_reason


@pytest.mark.django_db
def test_the_reconcile_task_with_nothing_to_do_does_nothing():
    booking = make_booking()
    make_payment(booking=booking, status="SUCCESS")
    assert payment_reconcile_pending() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_worker_sends_the_push_and_the_callback_settles_it(
    simulator, live_server, monkeypatch, tmp_path
):
    """The production path: commit -> ORM broker -> a separate worker process -> Daraja (the
    simulator) -> the customer pays -> the callback over HTTP -> the ledger -> the worker applies it."""
    from django.core.management import call_command
    from django.db import transaction
    from django.test import override_settings
    from django_q.conf import Conf
    from django_q.models import OrmQ

    from tests.factories import start_payment
    from tests.mpesa.conftest import wait_for_status
    from tests.processes import database_env, start_manage, stop

    monkeypatch.setattr(Conf, "SYNC", False)
    booking = make_booking()
    with transaction.atomic():
        payment = start_payment(
            booking_id=booking.pk, user=booking.primary_guest, phone_number="0712345678", amount=2000
        )
        assert OrmQ.objects.count() == 0  # enqueued only once the payment is committed
    assert Payment.objects.get(pk=payment.pk).status == "QUEUED"

    # The worker runs the dev settings, whose cache (shared OAuth token) is a database table.
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "nexus_cache"}}
    ):
        call_command("createcachetable")
    env = database_env()
    env.update(MPESA_BASE_URL=live_server.url + "/simulator", MPESA_CALLBACK_BASE_URL=live_server.url)
    worker = start_manage("qcluster", env=env, log_path=tmp_path / "qcluster.log")
    try:
        payment = wait_for_status(payment.pk, "PENDING", timeout=60)
        assert payment.checkout_request_id
        simulator.respond(payment.checkout_request_id, "pay")
        # The callback request only stores it in the ledger; the worker applies it.
        wait_for_status(payment.pk, "SUCCESS")
    finally:
        stop(worker)
    assert CallbackRecord.objects.get(checkout_request_id=payment.checkout_request_id).state == "APPLIED"
    booking.refresh_from_db()
    assert booking.amount_paid == 2000
