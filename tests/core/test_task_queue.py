"""The real background path: the task row commits with the change -> django-q2 -> effect."""

import threading

import pytest
from django.core import mail
from django.db import transaction
from django_q.conf import Conf

from core.models import SentNotification
from core.notifications import collected, notify
from tests.factories import make_booking
from tests.processes import start_manage, stop, wait_until


@pytest.mark.django_db
def test_notification_runs_after_commit_in_sync_mode(django_capture_on_commit_callbacks):
    booking = make_booking()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify("booking_created", booking_id=booking.id)
        assert not mail.outbox  # nothing is sent before the transaction commits
    assert len(callbacks) == 1
    # The owner's email, and the guest's own (what to pay, and where).
    assert [m.to for m in mail.outbox] == [[booking.property.owner.email], [booking.primary_guest.email]]
    assert all(booking.reference in m.subject for m in mail.outbox)


@pytest.mark.django_db
def test_same_event_twice_sends_once(django_capture_on_commit_callbacks):
    booking = make_booking()
    with django_capture_on_commit_callbacks(execute=True):
        notify("booking_canceled", booking_id=booking.id)
        notify("booking_canceled", booking_id=booking.id)
    assert len(mail.outbox) == 1
    # One email and one SMS each to the guest and the owner (the factories give them phones).
    assert SentNotification.objects.filter(key__startswith="booking_canceled:").count() == 1
    assert SentNotification.objects.filter(key__startswith="sms:booking_canceled:").count() == 2


def _queued_rows_seen_by_another_connection() -> int:
    """Count broker rows from a fresh connection in another thread: what a worker would see."""
    from django.db import connection
    from django_q.models import OrmQ

    seen = []

    def count():
        try:
            seen.append(OrmQ.objects.count())
        finally:
            connection.close()

    thread = threading.Thread(target=count)
    thread.start()
    thread.join()
    return seen[0]


@pytest.mark.django_db(transaction=True)
def test_orm_broker_task_joins_the_transaction_and_vanishes_on_rollback(monkeypatch):
    from django_q.models import OrmQ

    monkeypatch.setattr(Conf, "SYNC", False)
    booking = make_booking()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        notify("booking_created", booking_id=booking.id)
        assert OrmQ.objects.count() == 1  # written in this transaction...
        assert _queued_rows_seen_by_another_connection() == 0  # ...and invisible to workers until commit
        raise Abort
    assert OrmQ.objects.count() == 0  # rolled back with the change it announced

    with transaction.atomic():
        with collected():
            notify("booking_confirmed", booking_id=booking.id)
            notify("payment_received", booking_id=booking.id)
        assert _queued_rows_seen_by_another_connection() == 0
    assert _queued_rows_seen_by_another_connection() == 1  # one task for both events
    (task,) = OrmQ.objects.all()
    assert task.task["args"] == ([("booking_confirmed", booking.id, None), ("payment_received", booking.id, None)],)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_worker_runs_an_enqueued_task(monkeypatch, tmp_path):
    """Enqueue through the ORM broker on the test database; a separate qcluster process runs it."""
    monkeypatch.setattr(Conf, "SYNC", False)
    booking = make_booking()
    from django_q.models import OrmQ, Success

    with transaction.atomic(), collected():
        notify("booking_created", booking_id=booking.id)
        notify("booking_canceled", booking_id=booking.id)
    assert OrmQ.objects.count() == 1

    worker = start_manage("qcluster", log_path=tmp_path / "qcluster.log")
    try:
        # The worker records the task's success after the task itself has run.
        wait_until(
            lambda: Success.objects.filter(func="core.tasks.notifications_send").exists(),
            timeout=60,
            message="the worker to run the notification task",
        )
    finally:
        stop(worker)
    assert SentNotification.objects.filter(key__startswith=f"booking_created:booking={booking.id}:").count() == 1
    assert SentNotification.objects.filter(key__startswith=f"booking_canceled:booking={booking.id}:").count() == 1
    assert Success.objects.filter(func="core.tasks.notifications_send").count() == 1
    # Nothing of ours is left in the queue (the worker's scheduler may have queued the
    # migrations' schedules meanwhile: those are not this test's).
    assert [row for row in OrmQ.objects.all() if row.task["func"] == "core.tasks.notifications_send"] == []
