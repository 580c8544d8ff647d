"""The Bookings snippet: listing, filters, detail (guests, payments, balance, history), staff cancel."""

import io
import re

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from core.models import AuditEntry
from core.services import audit_record
from mpesa.models import Payment, Refund
from reservations.models import Booking, BookingGuest
from tests.factories import UserFactory, future_date, make_booking, make_payment

pytestmark = pytest.mark.django_db

LIST = "/admin/snippets/reservations/booking/"


def url(name, booking):
    return reverse(f"wagtailsnippets_reservations_booking:{name}", args=[booking.pk])


def listed_booking_ids(response) -> set[int]:
    return {
        int(pk) for pk in re.findall(r"/admin/snippets/reservations/booking/inspect/(\d+)/", response.content.decode())
    }


def give_id_photo(user):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    user.id_photo.save("id.png", SimpleUploadedFile("id.png", buffer.getvalue()), save=True)
    return user


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path


def test_staff_list_and_filters(client, world):
    client.force_login(world["staff"])
    pending = make_booking(property=world["stay_b"], status="PENDING", check_in=future_date(90))
    assert listed_booking_ids(client.get(LIST)) == {world["booking_a"].pk, world["booking_b"].pk, pending.pk}
    assert listed_booking_ids(client.get(LIST, {"status": "PENDING"})) == {pending.pk}
    assert listed_booking_ids(client.get(LIST, {"property": world["stay_a"].pk})) == {world["booking_a"].pk}
    in_range = client.get(
        LIST, {"check_in_from": future_date(80).isoformat(), "check_in_to": future_date(100).isoformat()}
    )
    assert listed_booking_ids(in_range) == {pending.pk}
    assert listed_booking_ids(client.get(LIST, {"q": "NXBBBB2B"})) == {world["booking_b"].pk}


def test_booking_detail_shows_guests_payments_balance_and_status_history(client, world):
    booking = world["booking_a"]
    BookingGuest.objects.create(booking=booking, name="Co Guest Wambui", email="wambui@example.com")
    audit_record(obj=booking, action="booking.totals_recomputed", summary="NXAAAA2A paid 10000 of 10000")
    client.force_login(world["staff"])
    response = client.get(url("inspect", booking))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Achieng Guest" in html and "Co Guest Wambui" in html
    assert world["payment_a"].mpesa_receipt_number in html
    assert reverse("wagtailsnippets_mpesa_payment:inspect", args=[world["payment_a"].pk]) in html
    assert re.search(r"data-balance-due>\s*KES 0<", html) and re.search(r"data-amount-paid>\s*KES 10,000<", html)
    assert "booking.totals_recomputed" in html and "Status history" in html
    assert "Cancel booking" in html


def test_owner_sees_only_their_bookings_and_gets_404_for_others(client, world):
    client.force_login(world["owner_a"])
    assert listed_booking_ids(client.get(LIST)) == {world["booking_a"].pk}
    for view in ("inspect", "cancel"):
        response = client.get(url(view, world["booking_b"]))
        assert response.status_code == 404
        assert b"Baraka Guest" not in response.content
    assert client.get(url("inspect", world["booking_a"])).status_code == 200
    assert client.get(f"/admin/snippets/choose/reservations/booking/chosen/{world['booking_b'].pk}/").status_code == 404


def test_owner_cannot_cancel_their_own_booking_once_the_stay_has_begun(client, world):
    """Owners cancel their own properties' bookings before check-in (tests/backoffice/
    test_money_out_admin.py); after it, only staff can."""
    booking = make_booking(property=world["stay_a"], status="CONFIRMED", check_in=future_date(0), amount_paid=0)
    Booking.objects.filter(pk=booking.pk).update(check_in=future_date(-1))
    client.force_login(world["owner_a"])
    html = client.get(url("inspect", booking)).content.decode()
    assert "Cancel booking" not in html
    response = client.post(url("cancel", booking), {"reason": "x"})
    assert response.status_code == 200 and "already begun" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "CONFIRMED"


def test_owner_sees_id_photo_link_only_for_guests_of_their_property(client, world):
    give_id_photo(world["guest_a"])
    give_id_photo(world["guest_b"])
    client.force_login(world["owner_a"])
    html = client.get(url("inspect", world["booking_a"])).content.decode()
    own_photo = reverse("accounts:id_photo", args=[world["guest_a"].pk])
    assert own_photo in html
    photo = client.get(own_photo)
    assert photo.status_code == 200 and photo["Content-Type"] == "image/png"
    other_photo = client.get(reverse("accounts:id_photo", args=[world["guest_b"].pk]))
    assert other_photo.status_code == 404


def test_staff_cancel_refunds_paid_payments_audits_and_emails_once(
    client, world, django_capture_on_commit_callbacks
):
    booking, payment = world["booking_a"], world["payment_a"]
    client.force_login(world["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("cancel", booking), {"reason": "Water outage at the property"})
    assert response.status_code == 302
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == "CANCELED" and "Water outage" in booking.cancel_reason
    # Everything paid goes back through Daraja (mpesa.refunds_out): one Reversal of the payment.
    refund = Refund.objects.get(booking=booking)
    assert (refund.payment, refund.amount, refund.method, refund.requested_by) == (
        payment, 10000, "reversal", world["staff"]
    )
    entry = AuditEntry.objects.get(action="booking.canceled_by_staff", object_id=str(booking.pk))
    assert (
        entry.actor == world["staff"] and entry.before["status"] == "CONFIRMED" and entry.after["status"] == "CANCELED"
    )
    assert AuditEntry.objects.filter(action="refund.created", object_id=str(refund.pk)).exists()
    assert [m.to for m in mail.outbox] == [[world["guest_a"].email]]
    assert "cancelled" in mail.outbox[0].subject.lower()
    # Cancelling again is refused and sends nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url("cancel", booking), {"reason": "again"})
    assert again.status_code == 200 and "already cancelled" in again.content.decode()
    assert len(mail.outbox) == 1


def test_staff_cancel_is_refused_while_a_payment_is_in_flight(client, world):
    booking = world["booking_b"]
    make_payment(booking=booking, status="PENDING", amount=1000)
    client.force_login(world["staff"])
    response = client.post(url("cancel", booking), {"reason": "Overbooked"})
    assert response.status_code == 200 and "still in progress" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == "CONFIRMED"


def test_refund_after_staff_cancel_reduces_amount_paid_and_clears_refund_due(
    client, world, django_capture_on_commit_callbacks
):
    booking, payment = world["booking_a"], world["payment_a"]
    client.force_login(world["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("cancel", booking), {"reason": "Owner double-let the house"})
    # The cancel queued a Reversal (no Daraja here, so it waits unsent). Staff may record a
    # refund made outside Nexus only once M-Pesa has refused that one: never both.
    refund = Refund.objects.get(booking=booking)
    assert refund.status == "QUEUED" and refund.sent_at is None
    Refund.objects.filter(pk=refund.pk).update(status="FAILED", failure_reason="M-Pesa refused the request")
    response = client.post(
        reverse("wagtailsnippets_mpesa_payment:refund", args=[payment.pk]),
        {"amount": 10000, "mpesa_reference": "RVR0001XYZ", "note": "Full refund after cancel"},
    )
    assert response.status_code == 302
    booking.refresh_from_db()
    payment.refresh_from_db()
    assert booking.status == "CANCELED" and booking.amount_paid == 0
    assert not payment.needs_refund
    assert Payment.objects.filter(kind="REFUND", refund_of=payment, amount=10000).count() == 1


def test_unpaid_booking_cancel_needs_no_refund(client, world, django_capture_on_commit_callbacks):
    booking = make_booking(property=world["stay_a"], guest=UserFactory(), status="PENDING", check_in=future_date(60))
    client.force_login(world["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("cancel", booking), {"reason": "Guest asked by phone"})
    assert Booking.objects.get(pk=booking.pk).status == "CANCELED"
    assert not Payment.objects.filter(needs_refund=True).exists()
