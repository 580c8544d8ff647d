"""Against the Daraja simulator over real HTTP: staff re-check settles a stuck payment;
a repeated callback sends each email once."""

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django_q.models import Task

from core.models import AuditEntry
from mpesa.models import Payment
from tests.factories import start_payment
from tests.factories import StaffFactory, make_booking, make_property
from tests.processes import wait_until

PHONE = "0712345678"
MSISDN = "254712345678"


def stuck_paid_payment(simulator, *, amount: int) -> Payment:
    """A payment the customer approved whose callback Daraja never sent: PENDING on our side."""
    booking = make_booking(property=make_property(price_per_night=5000), nights=2)
    simulator.directive(MSISDN, callback_mode="never")
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=amount)
    payment.refresh_from_db()
    assert payment.status == "PENDING" and payment.checkout_request_id
    simulator.respond(payment.checkout_request_id, "pay")
    assert simulator.prompt(payment.checkout_request_id)["callbacks_sent"] == 0
    return payment


@pytest.mark.django_db(transaction=True)
def test_staff_recheck_settles_a_pending_payment_through_the_simulator(client, simulator):
    payment = stuck_paid_payment(simulator, amount=4000)
    staff = StaffFactory()
    client.force_login(staff)
    inspect = reverse("wagtailsnippets_mpesa_payment:inspect", args=[payment.pk])

    response = client.post(reverse("wagtailsnippets_mpesa_payment:recheck", args=[payment.pk]))

    assert response.status_code == 302 and response["Location"] == inspect
    shown = [str(m).strip() for m in get_messages(response.wsgi_request)]
    expected = (
        f"Re-check with M-Pesa: payment #{payment.pk} is now Paid. "
        "M-Pesa answered: 0 The service request is processed successfully."
    )
    assert shown == [expected]
    payment.refresh_from_db()
    assert payment.status == "SUCCESS" and payment.received_amount == 4000 and payment.query_attempts == 1
    assert payment.last_query_result["ResultCode"] in ("0", 0)
    booking = payment.booking
    booking.refresh_from_db()
    assert (booking.status, booking.amount_paid, booking.balance_due) == ("PROCESSING", 4000, 6000)
    task = Task.objects.get(name__startswith=f"recheck-payment-{payment.pk}-")
    assert task.success and task.func == "mpesa.refunds.payment_recheck_run"
    requested = AuditEntry.objects.get(action="payment.recheck_requested", object_id=str(payment.pk))
    done = AuditEntry.objects.get(action="payment.rechecked", object_id=str(payment.pk))
    assert requested.actor == staff and done.actor == staff
    assert (done.before, done.after) == ({"status": "PENDING"}, {"status": "SUCCESS"})
    detail = client.get(inspect).content.decode()
    assert "Last STK query answer" in detail and "payment.rechecked" in detail


@pytest.mark.django_db(transaction=True)
def test_recheck_of_a_payment_still_waiting_on_the_phone_reports_it_pending(client, simulator):
    booking = make_booking(property=make_property(price_per_night=3000), nights=1)
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=3000)
    client.force_login(StaffFactory())
    response = client.post(reverse("wagtailsnippets_mpesa_payment:recheck", args=[payment.pk]))
    [message] = list(get_messages(response.wsgi_request))
    # In words, at info level: nothing went wrong and there is nothing for staff to do.
    assert message.level_tag == "info"
    assert str(message).strip() == (
        "Safaricom has no final answer for this payment yet; we will check again automatically."
    )
    payment.refresh_from_db()
    assert payment.status == "PENDING" and payment.query_attempts == 1 and payment.next_query_at is not None


@pytest.mark.django_db(transaction=True)
def test_callback_sent_twice_sends_each_email_once(simulator):
    booking = make_booking(property=make_property(price_per_night=2500), nights=2)
    simulator.directive(MSISDN, callback_mode="twice")
    payment = start_payment(booking_id=booking.pk, user=booking.primary_guest, phone_number=PHONE, amount=5000)
    payment.refresh_from_db()
    simulator.respond(payment.checkout_request_id, "pay")
    wait_until(
        lambda: simulator.prompt(payment.checkout_request_id)["callbacks_sent"] >= 2,
        timeout=20,
        message="two callbacks",
    )
    from mpesa.simulator.services import deliveries_join

    deliveries_join()
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == "SUCCESS" and booking.status == "CONFIRMED" and booking.amount_paid == 5000
    assert AuditEntry.objects.filter(object_id=str(payment.pk), action__startswith="payment.").exists()
    received = [m for m in mail.outbox if "We received" in m.subject]
    confirmed = [m for m in mail.outbox if "confirmed" in m.subject.lower()]
    assert len(received) == 1 and received[0].to == [booking.primary_guest.email]
    assert len(confirmed) == 1 and confirmed[0].to == [booking.primary_guest.email]
    assert payment.mpesa_receipt_number in received[0].body


@pytest.mark.django_db(transaction=True)
def test_recheck_says_so_when_no_worker_answers_in_time(client, settings, monkeypatch):
    from django_q.conf import Conf
    from django_q.models import OrmQ

    from tests.factories import make_payment

    # A real queue with no worker running: the task waits in django-q2's ORM broker.
    monkeypatch.setattr(Conf, "SYNC", False)
    settings.MPESA_RECHECK_WAIT_SECONDS = 0.5
    payment = make_payment(booking=make_booking(property=make_property()), status="PENDING", amount=700)
    client.force_login(StaffFactory())
    response = client.post(reverse("wagtailsnippets_mpesa_payment:recheck", args=[payment.pk]))
    [message] = [str(m).strip() for m in get_messages(response.wsgi_request)]
    assert message.startswith("Re-check with M-Pesa is queued")
    assert OrmQ.objects.count() == 1
    payment.refresh_from_db()
    assert payment.status == "PENDING" and payment.query_attempts == 0
