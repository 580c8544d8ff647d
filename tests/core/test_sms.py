"""SMS notifications end to end: each event's SMS through a local server that plays Africa's
Talking, the simulator's virtual phone, opt-out, once per event, failures retried by the task."""

import pytest
from django.core import mail
from django.db import transaction
from rest_framework.test import APIClient

from core.models import SentNotification
from core.notifications import notify
from core.sms import AfricasTalkingBackend, SmsDeliveryError, sms_fold, sms_segments
from core.tasks import notification_send, notifications_send
from mpesa.simulator.models import SimulatedSms
from reservations.models import Booking, BookingGuest
from tests.africastalking_server import serve_africastalking
from tests.factories import OwnerFactory, UserFactory, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db


@pytest.fixture
def africastalking(settings):
    yield from serve_africastalking(settings)


@pytest.fixture
def people():
    owner = OwnerFactory(name="Wanjiru Owner", phone_number="+254722000111")
    guest = UserFactory(name="Achieng Guest", phone_number="+254711000222")
    home = make_property(owner=owner, title="Riverside Cottage")
    booking = make_booking(property=home, guest=guest, reference="NXSMS2A7")
    return {"owner": owner, "guest": guest, "booking": booking}


def send(event, django_capture_on_commit_callbacks, **ids):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notify(event, **ids)


def assert_africastalking_request(request, *, to):
    assert request.method == "POST"
    assert request.path == "/version1/messaging"
    assert request.headers["apiKey"] == "test-at-key"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form["username"] == "nexus-test"
    assert request.form["to"] == to
    assert request.form["from"] == "NEXUS"
    assert sms_segments(request.form["message"]) <= 2


# --- Each event through the Africa's Talking stand-in -----------------------------------------------


def test_booking_created_texts_the_guest_the_hold_and_the_owner_the_booking(
    people, africastalking, django_capture_on_commit_callbacks
):
    send("booking_created", django_capture_on_commit_callbacks, booking_id=people["booking"].pk)
    guest_request, owner_request = africastalking.requests
    assert_africastalking_request(guest_request, to="+254711000222")
    assert_africastalking_request(owner_request, to="+254722000111")
    assert "NXSMS2A7" in guest_request.form["message"] and "held for you until" in guest_request.form["message"]
    assert "KES 10,000" in guest_request.form["message"]
    assert "new booking NXSMS2A7" in owner_request.form["message"] and "Achieng Guest" in owner_request.form["message"]
    # The owner's email, then the guest's own "booking created" email (what to pay, and where).
    assert [m.to for m in mail.outbox] == [[people["owner"].email], [people["booking"].primary_guest.email]]


def test_booking_confirmed_texts_guests_with_accounts_and_the_owner(
    people, africastalking, django_capture_on_commit_callbacks
):
    booking = people["booking"]
    co_guest = UserFactory(phone_number="+254733000333")
    BookingGuest.objects.create(booking=booking, name="Baraka", email="typed@example.com", user=co_guest)
    # Typed in by the booker, never accepted: a number nobody proved is never texted.
    BookingGuest.objects.create(booking=booking, name="Stranger", phone_number="+254744000444")
    send("booking_confirmed", django_capture_on_commit_callbacks, booking_id=booking.pk)
    assert [r.form["to"] for r in africastalking.requests] == ["+254711000222", "+254733000333", "+254722000111"]
    for request in africastalking.requests:
        assert_africastalking_request(request, to=request.form["to"])
    guest_text = africastalking.messages_to("+254711000222")[0]
    assert "NXSMS2A7" in guest_text and "is confirmed" in guest_text and f"/bookings/{booking.pk}/" in guest_text
    assert "confirmed and paid" in africastalking.messages_to("+254722000111")[0]
    assert africastalking.messages_to("+254744000444") == []


def test_booking_canceled_texts_the_guest_and_the_owner(people, africastalking, django_capture_on_commit_callbacks):
    Booking.objects.filter(pk=people["booking"].pk).update(status="CANCELED", amount_paid=3000)
    send("booking_canceled", django_capture_on_commit_callbacks, booking_id=people["booking"].pk)
    guest_request, owner_request = africastalking.requests
    assert_africastalking_request(guest_request, to="+254711000222")
    assert_africastalking_request(owner_request, to="+254722000111")
    assert "is cancelled" in guest_request.form["message"] and "KES 3,000" in guest_request.form["message"]
    assert "dates are free again" in owner_request.form["message"]


def test_payment_received_texts_the_payer_with_the_receipt(people, africastalking, django_capture_on_commit_callbacks):
    payer = UserFactory(phone_number="+254755000555")
    payment = make_payment(booking=people["booking"], amount=4000, initiated_by=payer)
    Booking.objects.filter(pk=people["booking"].pk).update(amount_paid=4000, balance_due=6000)
    send("payment_received", django_capture_on_commit_callbacks, booking_id=people["booking"].pk, payment_id=payment.pk)
    [request] = africastalking.requests
    assert_africastalking_request(request, to="+254755000555")
    text = request.form["message"]
    assert "KES 4,000" in text and payment.mpesa_receipt_number in text and "Balance due: KES 6,000" in text
    assert mail.outbox[0].to == [payer.email]


def test_no_sender_id_sends_no_from_field(people, africastalking, settings):
    settings.AFRICASTALKING_SENDER_ID = ""
    payment = make_payment(booking=people["booking"])
    notification_send("payment_received", people["booking"].pk, payment.pk)
    [request] = africastalking.requests
    assert "from" not in request.form and request.form["to"] == "+254711000222"


# --- Once, opt-out, failures ------------------------------------------------------------------------------


def test_each_sms_is_sent_once_per_event_and_recipient(people, africastalking, django_capture_on_commit_callbacks):
    booking_id = people["booking"].pk
    send("booking_canceled", django_capture_on_commit_callbacks, booking_id=booking_id)
    send("booking_canceled", django_capture_on_commit_callbacks, booking_id=booking_id)
    assert notification_send("booking_canceled", booking_id) == 0
    assert len(africastalking.requests) == 2 and len(mail.outbox) == 1
    assert sorted(SentNotification.objects.values_list("key", flat=True)) == [
        f"booking_canceled:booking={booking_id}:payment=-",
        f"sms:booking_canceled:booking={booking_id}:payment=-:to=+254711000222",
        f"sms:booking_canceled:booking={booking_id}:payment=-:to=+254722000111",
    ]


def test_a_user_who_turned_sms_off_gets_the_email_only(people, africastalking, django_capture_on_commit_callbacks):
    people["guest"].sms_notifications = False
    people["guest"].save()
    send("booking_canceled", django_capture_on_commit_callbacks, booking_id=people["booking"].pk)
    assert [r.form["to"] for r in africastalking.requests] == ["+254722000111"]  # the owner still hears
    assert [m.to for m in mail.outbox] == [[people["guest"].email]]


def test_a_user_without_a_phone_gets_the_email_only(people, africastalking):
    people["guest"].phone_number = ""
    people["guest"].save()
    payment = make_payment(booking=people["booking"])
    assert notification_send("payment_received", people["booking"].pk, payment.pk) == 1
    assert africastalking.requests == [] and len(mail.outbox) == 1


@pytest.mark.parametrize("mode", ["rejected", "http_500"])
def test_a_refused_sms_raises_so_the_task_is_retried_and_the_retry_sends_it_once(people, africastalking, mode):
    booking_id = people["booking"].pk
    africastalking.mode = mode
    with pytest.raises(SmsDeliveryError):
        notifications_send([("booking_canceled", booking_id, None)])
    # The email went; neither SMS is marked sent.
    assert len(mail.outbox) == 1
    assert not SentNotification.objects.filter(key__startswith="sms:").exists()
    africastalking.mode = "ok"
    assert notifications_send([("booking_canceled", booking_id, None)]) == 2
    assert len(mail.outbox) == 1
    assert [r.form["to"] for r in africastalking.requests[-2:]] == ["+254711000222", "+254722000111"]
    assert notifications_send([("booking_canceled", booking_id, None)]) == 0


def test_an_unreachable_gateway_raises(people, settings):
    settings.SMS_BACKEND = "africastalking"
    settings.AFRICASTALKING_API_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.SMS_HTTP_TIMEOUT = 2
    with pytest.raises(SmsDeliveryError, match="unreachable"):
        notification_send("booking_canceled", people["booking"].pk)


def test_a_failing_gateway_never_breaks_the_request_that_caused_the_sms(
    people, africastalking, django_capture_on_commit_callbacks
):
    africastalking.mode = "rejected"
    client = APIClient()
    client.force_authenticate(people["guest"])
    # The task runs after the request's transaction committed and its answer was made (tests run
    # django-q2 in sync mode, which re-raises what a worker would log and retry).
    with pytest.raises(SmsDeliveryError):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/api/bookings/{people['booking'].pk}/cancel/", {}, format="json")
    assert response.status_code == 200, response.content
    assert Booking.objects.get(pk=people["booking"].pk).status == "CANCELED"
    assert [r.form["to"] for r in africastalking.requests] == ["+254711000222", "+254722000111"]
    assert not SentNotification.objects.filter(key__startswith="sms:").exists()
    assert len(mail.outbox) == 1  # the email went regardless


def test_the_base_url_follows_the_username_unless_overridden(settings):
    settings.AFRICASTALKING_API_URL = ""
    settings.AFRICASTALKING_USERNAME = "sandbox"
    assert AfricasTalkingBackend().url() == "https://api.sandbox.africastalking.com/version1/messaging"
    settings.AFRICASTALKING_USERNAME = "nexus"
    assert AfricasTalkingBackend().url() == "https://api.africastalking.com/version1/messaging"
    settings.AFRICASTALKING_API_URL = "http://127.0.0.1:8123/"
    assert AfricasTalkingBackend().url() == "http://127.0.0.1:8123/version1/messaging"


# --- The simulator: the SMS on the virtual phone ------------------------------------------------------------


def test_the_simulator_shows_the_sms_on_the_virtual_phone_page(people, client, settings):
    settings.SMS_BACKEND = "simulator"
    payment = make_payment(booking=people["booking"], amount=2500)
    notification_send("payment_received", people["booking"].pk, payment.pk)
    [sms] = SimulatedSms.objects.all()
    assert sms.phone_number == "254711000222"
    page = client.get("/simulator/phone/254711000222/")
    assert page.status_code == 200
    assert f"Nexus: payment received, KES 2,500 (M-Pesa {payment.mpesa_receipt_number})" in page.content.decode()
    # Another phone's page shows none of it.
    assert payment.mpesa_receipt_number not in client.get("/simulator/phone/254799999999/").content.decode()
    listed = client.get("/simulator/api/sms/?phone_number=0711000222").json()["results"]
    assert [m["message"] for m in listed] == [sms.message]


def test_the_console_backend_logs_the_sms(people, settings, caplog):
    settings.SMS_BACKEND = "console"
    with caplog.at_level("INFO", logger="core.sms"):
        notification_send("booking_canceled", people["booking"].pk)
    assert "to=+254711000222" in caplog.text and "NXSMS2A7" in caplog.text


# --- Turning SMS off -------------------------------------------------------------------------------------


def test_the_account_page_turns_sms_off_and_on(people, client):
    guest = people["guest"]
    client.force_login(guest)
    page = client.get("/accounts/account/").content.decode()
    assert 'name="sms_notifications"' in page and "checked" in page
    assert client.post("/accounts/account/sms/", {}).status_code == 302  # unticked box: absent
    guest.refresh_from_db()
    assert guest.sms_notifications is False
    client.post("/accounts/account/sms/", {"sms_notifications": "on"})
    guest.refresh_from_db()
    assert guest.sms_notifications is True


def test_the_account_sms_switch_needs_a_login_and_a_post(people, client):
    assert client.post("/accounts/account/sms/", {}).status_code == 302  # to the login page
    people["guest"].refresh_from_db()
    assert people["guest"].sms_notifications is True
    client.force_login(people["guest"])
    assert client.get("/accounts/account/sms/").status_code == 405


def test_the_api_turns_sms_off(people):
    client = APIClient()
    client.force_authenticate(people["guest"])
    assert client.get("/api/me/").json()["sms_notifications"] is True
    response = client.patch("/api/me/", {"sms_notifications": False}, format="json")
    assert response.status_code == 200 and response.json()["sms_notifications"] is False
    people["guest"].refresh_from_db()
    assert people["guest"].sms_notifications is False
    assert client.patch("/api/me/", {"sms_notifications": "maybe"}, format="json").status_code == 400
    assert client.patch("/api/me/", {}, format="json").status_code == 400
    assert APIClient().patch("/api/me/", {"sms_notifications": False}, format="json").status_code in (401, 403)


# --- Segments -----------------------------------------------------------------------------------------


def test_sms_segments_counts_gsm7_and_ucs2():
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("€" * 80) == 1  # an extension character takes two septets
    assert sms_segments("€" * 81) == 2
    assert sms_segments("ş" * 70) == 1  # not GSM: UCS-2
    assert sms_segments("ş" * 71) == 2
    assert sms_segments("ş" * 134) == 2
    assert sms_segments("ş" * 135) == 3


def test_sms_fold_keeps_texts_in_the_gsm_alphabet():
    assert sms_fold("Wanjiru’s “Café” – Naïrobi…") == "Wanjiru's \"Café\" - Nairobi..."
    assert sms_fold("Ünïcode 🏠 stay") == "Ünicode ? stay"
    assert sms_segments(sms_fold("’" * 100)) == 1


# --- The balance reminder ------------------------------------------------------------------------------


def test_the_balance_reminder_is_sent_once_a_day_before_the_deadline(
    people, africastalking, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    from reservations.deadlines import booking_balance_due_by
    from reservations.reminders import booking_balance_reminders_send

    booking = people["booking"]
    Booking.objects.filter(pk=booking.pk).update(status="PROCESSING", amount_paid=3000, balance_due=7000)
    booking.refresh_from_db()
    due_by = booking_balance_due_by(check_in=booking.check_in, booking_date=booking.booking_date)
    # Two days before the deadline: too early.
    assert booking_balance_reminders_send(now=due_by - dt.timedelta(hours=48)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_balance_reminders_send(now=due_by - dt.timedelta(hours=20)) == 1
    [request] = africastalking.requests
    assert_africastalking_request(request, to="+254711000222")
    text = request.form["message"]
    assert "KES 7,000 is still due on booking NXSMS2A7" in text
    assert f"Pay by {timezone.localtime(due_by):%-d %b %H:%M}" in text and f"/bookings/{booking.pk}/" in text
    [email] = mail.outbox
    assert email.to == [people["guest"].email] and "KES 7,000 due by" in email.subject
    # The next sweeps find it reminded and enqueue nothing; a paid or past-due booking is never reminded.
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_balance_reminders_send(now=due_by - dt.timedelta(hours=10)) == 0
    assert booking_balance_reminders_send(now=due_by + dt.timedelta(minutes=1)) == 0
    Booking.objects.filter(pk=booking.pk).update(balance_due=0, status="CONFIRMED")
    SentNotification.objects.all().delete()
    assert booking_balance_reminders_send(now=due_by - dt.timedelta(hours=20)) == 0
    assert len(africastalking.requests) == 1


def test_the_balance_reminder_runs_on_a_schedule():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="booking_balance_reminders_send")
    assert schedule.func == "reservations.tasks.booking_balance_reminders_send" and schedule.minutes == 15


# --- The co-guest invitation ----------------------------------------------------------------------------


def _invite(booking, django_capture_on_commit_callbacks, **fields):
    from reservations.invitations import booking_guest_invitation_request, booking_guest_invitations_enqueue

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            row = BookingGuest(booking=booking, name="Baraka Otieno", **fields)
            booking_guest_invitation_request(guest=row)
            row.save()
            booking_guest_invitations_enqueue(guest_ids=[row.pk])
    return row


def test_a_phone_only_co_guest_gets_the_invitation_link_by_sms(people, africastalking, django_capture_on_commit_callbacks, client):
    import re

    row = _invite(people["booking"], django_capture_on_commit_callbacks, phone_number="+254733000333")
    [request] = africastalking.requests
    assert_africastalking_request(request, to="+254733000333")
    text = request.form["message"]
    assert "Achieng Guest added you to booking NXSMS2A7 at Riverside Cottage" in text
    token = re.search(r"/invitations/([\w-]+)/", text).group(1)
    invitee = UserFactory()
    client.force_login(invitee)
    assert client.post(f"/invitations/{token}/").status_code in (200, 302)
    row.refresh_from_db()
    assert row.user == invitee


def test_an_invitation_sms_that_fails_is_retried_with_a_link_that_works(
    people, africastalking, django_capture_on_commit_callbacks
):
    from reservations.invitations import booking_guest_invitations_send

    africastalking.mode = "rejected"
    with pytest.raises(SmsDeliveryError):
        _invite(people["booking"], django_capture_on_commit_callbacks, phone_number="+254733000333")
    row = BookingGuest.objects.get(booking=people["booking"], is_primary=False)
    assert row.invitation_token_hash == ""  # nothing stored: the retry mints and sends a link
    africastalking.mode = "ok"
    assert booking_guest_invitations_send(guest_ids=[row.pk]) == 1
    assert booking_guest_invitations_send(guest_ids=[row.pk]) == 0  # once
    assert len(africastalking.requests) == 2
    row.refresh_from_db()
    assert row.invitation_token_hash


def test_a_co_guest_with_email_and_phone_gets_the_same_link_both_ways(
    people, africastalking, django_capture_on_commit_callbacks
):
    import re

    _invite(people["booking"], django_capture_on_commit_callbacks, email="baraka@example.com", phone_number="+254733000333")
    [email] = [m for m in mail.outbox if m.to == ["baraka@example.com"]]
    [request] = africastalking.requests
    link = re.compile(r"/invitations/([\w-]+)/")
    assert link.search(request.form["message"]).group(1) == link.search(email.body).group(1)
