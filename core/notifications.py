"""Email notifications, sent by a django-q2 worker once the triggering transaction commits.

Services call `notify(event, booking_id=..., payment_id=...)` inside their transaction.
The SentNotification row makes each (event, object) pair send at most once however
often it is triggered, so a task that runs twice sends nothing twice.

How the task reaches the worker:
- ORM broker (the default: the queue is a table in our own database): the task row is
  inserted inside the caller's transaction. The worker sees it exactly when the booking or
  payment change commits and never if it rolls back, and the request pays for no second
  commit (the difference between ~2 and ~3 round trips per event on a callback).
- Redis broker, synchronous mode (tests), or no transaction: the task is enqueued on commit.

`collected()` gathers the events of a block into one task: a callback that confirms a
booking and records a payment enqueues one task for both emails.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, transaction

EVENTS = {
    "booking_created",  # to the owner: a new booking of their property
    "booking_confirmed",  # to every guest with an email
    "booking_canceled",  # to the primary guest (cancel or hold expiry)
    "payment_received",  # to the payer
}
TASK = "core.tasks.notifications_send"

_collecting = threading.local()


def notify(event: str, *, booking_id: int, payment_id: int | None = None) -> None:
    if event not in EVENTS:
        raise ValueError(f"Unknown notification event {event!r}")
    pending = getattr(_collecting, "events", None)
    if pending is not None:
        pending.append((event, booking_id, payment_id))
        return
    _enqueue([(event, booking_id, payment_id)])


@contextmanager
def collected() -> Iterator[None]:
    """Send the notify() calls made inside this block as one task, enqueued when the block ends.

    Use it inside the transaction (so the task joins it). Nested blocks add to the outer one.
    An exception drops the gathered events: the transaction they belong to is rolling back.
    """
    if getattr(_collecting, "events", None) is not None:
        yield
        return
    _collecting.events = []
    try:
        yield
        events = _collecting.events
    finally:
        _collecting.events = None
    if events:
        _enqueue(events)


def _enqueue(events: list[tuple[str, int, int | None]]) -> None:
    from django_q.tasks import async_task

    name = "notify-" + "+".join(event for event, _, _ in events)
    if _joins_transaction():
        async_task(TASK, events, task_name=name[:100])
    else:
        transaction.on_commit(lambda: async_task(TASK, events, task_name=name[:100]))


def _joins_transaction() -> bool:
    """True when the task row can be written in the current transaction (see the module doc)."""
    from django_q.conf import Conf

    if Conf.SYNC or Conf.ORM != DEFAULT_DB_ALIAS:
        return False
    return transaction.get_connection(DEFAULT_DB_ALIAS).in_atomic_block
