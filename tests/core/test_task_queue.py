"""The real background path: commit -> on_commit enqueue -> django-q2 -> effect."""

import pytest
from django.core import mail
from django.db import transaction
from django_q.conf import Conf

from core.models import SentNotification
from core.notifications import notify
from tests.factories import make_booking
from tests.processes import start_manage, stop, wait_until


@pytest.mark.django_db
def test_notification_runs_after_commit_in_sync_mode(django_capture_on_commit_callbacks):
    booking = make_booking()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify("booking_created", booking_id=booking.id)
        assert not mail.outbox  # nothing is sent before the transaction commits
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [booking.property.owner.email]
    assert booking.reference in mail.outbox[0].subject


@pytest.mark.django_db
def test_same_event_twice_sends_once(django_capture_on_commit_callbacks):
    booking = make_booking()
    with django_capture_on_commit_callbacks(execute=True):
        notify("booking_canceled", booking_id=booking.id)
        notify("booking_canceled", booking_id=booking.id)
    assert len(mail.outbox) == 1
    assert SentNotification.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_worker_runs_an_enqueued_task(monkeypatch, tmp_path):
    """Enqueue through the ORM broker on the test database; a separate qcluster process runs it."""
    monkeypatch.setattr(Conf, "SYNC", False)
    booking = make_booking()
    with transaction.atomic():
        notify("booking_created", booking_id=booking.id)
        # Enqueued only on commit: the broker table is still empty inside the transaction.
        from django_q.models import OrmQ

        assert OrmQ.objects.count() == 0
    assert OrmQ.objects.count() == 1

    from django_q.models import Success

    worker = start_manage("qcluster", log_path=tmp_path / "qcluster.log")
    try:
        # The worker records the task's success after the task itself has run.
        wait_until(
            lambda: Success.objects.filter(func="core.tasks.notification_send").exists(),
            timeout=60,
            message="the worker to run the notification task",
        )
    finally:
        stop(worker)
    assert SentNotification.objects.filter(key__startswith=f"booking_created:booking={booking.id}:").count() == 1
    assert Success.objects.filter(func="core.tasks.notification_send").count() == 1
    assert OrmQ.objects.count() == 0
