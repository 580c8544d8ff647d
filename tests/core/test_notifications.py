"""core.notifications: each event's email comes from the app that registered it."""

import pytest
from django.core import mail

from core import notifications
from core.models import SentNotification
from core.notifications import Letter, notify
from core.tasks import notification_send


def test_the_apps_registered_the_booking_and_payment_events():
    assert set(notifications._loaders) == {
        "booking_created",
        "booking_confirmed",
        "booking_canceled",
        "balance_due_reminder",
        "payment_received",
        "refund_sent",
        "payout_sent",
    }


def test_an_event_nobody_registered_is_refused_in_the_caller():
    with pytest.raises(ValueError, match="booking_exploded"):
        notify("booking_exploded", booking_id=1)


@pytest.mark.django_db
def test_a_letter_to_nobody_is_not_sent_and_claims_nothing(monkeypatch):
    asked = []

    def nobody(booking_id, payment_id):
        asked.append((booking_id, payment_id))
        return Letter(context={}, recipients=[])

    monkeypatch.setitem(notifications._loaders, "booking_created", nobody)
    assert notification_send("booking_created", 7, None) == 0
    assert asked == [(7, None)]
    assert mail.outbox == [] and not SentNotification.objects.exists()
