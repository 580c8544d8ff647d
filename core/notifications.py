"""Email notifications, sent by django-q2 after the triggering transaction commits.

Services call `notify(event, booking_id=..., payment_id=...)` inside their
transaction; the send happens on commit, and the SentNotification row makes
each (event, object) pair send at most once however often it is triggered.
"""

from django.db import transaction

EVENTS = {
    "booking_created",  # to the owner: a new booking of their property
    "booking_confirmed",  # to every guest with an email
    "booking_canceled",  # to the primary guest (cancel or hold expiry)
    "payment_received",  # to the payer
}


def notify(event: str, *, booking_id: int, payment_id: int | None = None) -> None:
    if event not in EVENTS:
        raise ValueError(f"Unknown notification event {event!r}")
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task("core.tasks.notification_send", event, booking_id, payment_id, task_name=f"notify-{event}")
    )
