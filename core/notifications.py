"""Email and SMS notifications, sent by a django-q2 worker once the triggering transaction commits.

Services call `notify(event, booking_id=..., payment_id=...)` inside their transaction.
The loader registered for the event returns a Letter: one email (its context and
addresses) and any number of SMS, one per phone number, each with its own template
(a guest and the owner are told different things). A SentNotification row per channel
and recipient makes each send at most once however often the event is triggered, so a
task that runs twice sends nothing twice (core/tasks.py). SMS go through core/sms.py.

How the task reaches the worker:
- ORM broker (the default: the queue is a table in our own database): the task row is
  inserted inside the caller's transaction. The worker sees it exactly when the booking or
  payment change commits and never if it rolls back, and the request pays for no second
  commit (the difference between ~2 and ~3 round trips per event on a callback).
- Redis broker, synchronous mode (tests), or no transaction: the task is enqueued on commit.

`collected()` gathers the events of a block into one task: a callback that confirms a
booking and records a payment enqueues one task for both emails.

Each event is registered by the app that owns what it is about (notification_register,
from its AppConfig.ready()): how to load the objects the email shows and who gets it.
core knows no app's model, and renders every message inside translation.override() of the
language the loader gives for its recipient (User.language). The events today: booking_created
(to the owner, and the guest's own email),
booking_confirmed (to every guest with an account), booking_canceled (to the primary
guest): reservations/notifications.py; payment_received (to the payer):
mpesa/notifications.py. Templates: templates/emails/<event>*, templates/sms/<name>.txt.
Which events send what to whom: docs/notifications.md.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, transaction
from django_q.conf import Conf
from django_q.tasks import async_task

TASK = "core.tasks.notifications_send"


@dataclass(frozen=True)
class Sms:
    """One SMS of an event: to an E.164 number, from templates/sms/<template>.txt rendered
    with the letter's context plus `context`, in `language` (the recipient's User.language;
    "" = settings.LANGUAGE_CODE). The loader leaves out people who turned SMS off."""

    to: str
    template: str
    context: dict = field(default_factory=dict)
    language: str = ""


@dataclass(frozen=True)
class Email:
    """An email of an event to one address from its own templates (emails/<template>*), for
    a recipient told something other than the event's email says (the guest and the owner
    of a new booking), in the recipient's language."""

    to: str
    template: str
    context: dict = field(default_factory=dict)
    language: str = ""


@dataclass(frozen=True)
class Letter:
    """One event's messages, ready to render: the templates' context, who gets the event's
    email (emails/<event>*) and in which language (`languages`: address -> language code;
    an address not in it gets settings.LANGUAGE_CODE), other emails, and the SMS (each to
    one number). Recipients of one language share one email."""

    context: dict
    recipients: list[str]
    texts: list[Sms] = field(default_factory=list)
    languages: dict[str, str] = field(default_factory=dict)
    emails: list[Email] = field(default_factory=list)


# event -> load(booking_id, payment_id) -> Letter. Run by the worker (core/tasks.py).
LetterLoader = Callable[[int, int | None], Letter]
_loaders: dict[str, LetterLoader] = {}


def notification_register(event: str, load: LetterLoader) -> None:
    _loaders[event] = load


def notification_loader(event: str) -> LetterLoader:
    try:
        return _loaders[event]
    except KeyError:
        raise ValueError(f"Unknown notification event {event!r}") from None


_collecting = threading.local()


def notify(event: str, *, booking_id: int, payment_id: int | None = None) -> None:
    notification_loader(event)  # an unknown event fails here, in the caller, not in the worker
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
    name = "notify-" + "+".join(event for event, _, _ in events)
    if _joins_transaction():
        async_task(TASK, events, task_name=name[:100])
    else:
        transaction.on_commit(lambda: async_task(TASK, events, task_name=name[:100]))


def _joins_transaction() -> bool:
    """True when the task row can be written in the current transaction (see the module doc)."""
    if Conf.SYNC or Conf.ORM != DEFAULT_DB_ALIAS:
        return False
    return transaction.get_connection(DEFAULT_DB_ALIAS).in_atomic_block
