"""Emails: one per event, to the right people, plain text and HTML, sent after commit by django-q2."""

import pytest
from django.core import mail
from django.db import transaction

from core.models import SentNotification
from core.notifications import notify
from core.tasks import notification_send
from reservations.models import BookingGuest
from tests.factories import make_payment

pytestmark = pytest.mark.django_db


def send(event, **ids):
    with transaction.atomic():
        notify(event, **ids)


@pytest.fixture
def booking(world):
    booking = world["booking_a"]
    BookingGuest.objects.create(booking=booking, name="Co Guest", email="co.guest@example.com")
    BookingGuest.objects.create(booking=booking, name="No Email Guest")
    return booking


def test_booking_created_goes_to_the_owner(booking, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send("booking_created", booking_id=booking.pk)
    [message] = mail.outbox
    assert message.to == [world["owner_a"].email]
    assert "NXAAAA2A" in message.subject
    assert f"/admin/snippets/reservations/booking/inspect/{booking.pk}/" in message.body
    assert message.alternatives[0][1] == "text/html" and "Achieng Guest" in message.alternatives[0][0]


def test_booking_confirmed_goes_to_the_booker_and_co_guests_who_accepted(
    booking, world, django_capture_on_commit_callbacks
):
    # guest_b accepted an invitation (linked); "co.guest@example.com" was only typed in.
    BookingGuest.objects.create(booking=booking, name="Baraka", email="typed@example.com", user=world["guest_b"])
    with django_capture_on_commit_callbacks(execute=True):
        send("booking_confirmed", booking_id=booking.pk)
    [message] = mail.outbox
    assert sorted(message.to) == sorted([world["guest_a"].email, world["guest_b"].email])
    assert "co.guest@example.com" not in message.to and "typed@example.com" not in message.to
    assert "confirmed" in message.subject.lower()


def test_payment_received_goes_to_the_payer_with_the_receipt(booking, world, django_capture_on_commit_callbacks):
    payment = make_payment(booking=booking, amount=3000, initiated_by=world["guest_b"])
    with django_capture_on_commit_callbacks(execute=True):
        send("payment_received", booking_id=booking.pk, payment_id=payment.pk)
    [message] = mail.outbox
    assert message.to == [world["guest_b"].email]
    assert payment.mpesa_receipt_number in message.body and "KES 3,000" in message.body
    assert payment.mpesa_receipt_number in message.alternatives[0][0]


def test_booking_canceled_goes_to_the_primary_guest(booking, world, django_capture_on_commit_callbacks):
    booking.status, booking.cancel_reason, booking.amount_paid = "CANCELED", "Hold expired before payment", 0
    booking.save()
    with django_capture_on_commit_callbacks(execute=True):
        send("booking_canceled", booking_id=booking.pk)
    [message] = mail.outbox
    assert message.to == [world["guest_a"].email]
    assert "Hold expired before payment" in message.body and "Nothing was charged" in message.body


def test_plain_text_is_not_html_escaped(booking, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send("booking_created", booking_id=booking.pk)
    [message] = mail.outbox
    assert "Amina's cottage" in message.subject and "Amina's cottage" in message.body
    assert "&#x27;" not in message.body
    assert "Amina&#x27;s cottage" in message.alternatives[0][0]


def test_same_event_triggered_twice_sends_one_email(booking, django_capture_on_commit_callbacks):
    payment = make_payment(booking=booking, amount=500)
    with django_capture_on_commit_callbacks(execute=True):
        send("payment_received", booking_id=booking.pk, payment_id=payment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        send("payment_received", booking_id=booking.pk, payment_id=payment.pk)
    assert len(mail.outbox) == 1
    assert notification_send("payment_received", booking.pk, payment.pk) == 0
    assert len(mail.outbox) == 1
    assert (
        SentNotification.objects.filter(key=f"payment_received:booking={booking.pk}:payment={payment.pk}").count() == 1
    )


def test_nothing_is_sent_when_the_transaction_rolls_back(booking, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        notify("booking_created", booking_id=booking.pk)
        raise RuntimeError("service failed after notify")
    assert mail.outbox == []


def test_unknown_event_is_refused(booking):
    with pytest.raises(ValueError):
        notify("booking_exploded", booking_id=booking.pk)


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_event_at_once_send_one_email(world):
    """A retried task racing the original: the SentNotification claim lets exactly one send."""
    import threading

    from django.db import connection

    booking = world["booking_a"]
    barrier = threading.Barrier(2)
    sent, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            sent.append(notification_send("booking_created", booking.pk, None))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    # The email and the SMS to the owner (the booking is already paid, so the booker is not
    # asked to pay): each message is sent by exactly one of the two workers (which one sends
    # what depends on who claims it first).
    assert booking.status == "CONFIRMED"
    assert sum(sent) == 2
    from mpesa.simulator.models import SimulatedSms

    assert SimulatedSms.objects.count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [world["owner_a"].email]
