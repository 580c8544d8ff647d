"""Every email and SMS in its recipient's language (User.language), with money as "KES 10,800",
dates in that language, and the check-in details only in a confirmed booking's messages.

Sent for real: core.tasks.notification_send renders and sends, emails land in
django.core.mail.outbox, SMS go through the local server that plays Africa's Talking.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from core.notifications import Sms
from core.sms import sms_segments
from core.tasks import notification_send, sms_render
from mpesa.models import Payout, Refund
from reservations.invitations import booking_guest_invitations_send
from reservations.models import Booking, BookingGuest
from tests.africastalking_server import serve_africastalking
from tests.factories import OwnerFactory, UserFactory, make_booking, make_payment, make_property

pytestmark = pytest.mark.django_db

CHECK_IN = dt.date(2027, 1, 14)  # a Thursday in January: "Januari" / "January" in the messages
ADDRESS = "Riverside Drive 14, Block B, door 3"
INSTRUCTIONS = "Collect the key from the guard at the gate. Parking bay 12."
HOST_PHONE = "+254733000999"
SMS_MAX = 320  # two GSM-7 segments' worth, in either language


@pytest.fixture
def africastalking(settings):
    yield from serve_africastalking(settings)


def people(*, guest_language="sw", owner_language="en", deposit=20, status="PENDING", amount_paid=0):
    owner = OwnerFactory(name="Wanjiru Kamau", phone_number="+254722000111", language=owner_language)
    guest = UserFactory(name="Achieng Otieno", phone_number="+254711000222", language=guest_language)
    home = make_property(
        owner=owner,
        title="Riverside Cottage",
        price_per_night=5400,
        min_deposit_percent=deposit,
        street_address=ADDRESS,
        latitude=Decimal("-1.270500"),
        longitude=Decimal("36.806100"),
        check_in_instructions=INSTRUCTIONS,
        host_phone_number=HOST_PHONE,
    )
    booking = make_booking(
        property=home, guest=guest, check_in=CHECK_IN, nights=2, reference="NXLANG2A",
        status=status, amount_paid=amount_paid, party_size=3,
    )
    return owner, guest, booking


def _email_to(address):
    [message] = [m for m in mail.outbox if address in m.to]
    return message, message.alternatives[0][0]


def _sms_to(server, number):
    [text] = [r.form["message"] for r in server.requests if r.form["to"] == number]
    return text


def _no_check_in_details(*texts):
    for text in texts:
        assert ADDRESS not in text and "Collect the key" not in text and HOST_PHONE not in text
        assert "google.com/maps" not in text


# --- booking created ---------------------------------------------------------------------------


def test_booking_created_the_kiswahili_guest_gets_their_own_email_and_sms_the_owner_english(africastalking):
    owner, guest, booking = people()
    assert notification_send("booking_created", booking.pk, None) == 4  # 2 emails + 2 SMS

    message, html = _email_to(guest.email)
    assert message.subject == "Uhifadhi NXLANG2A katika Riverside Cottage: lipa ili tarehe zako zisalie zako"
    assert "Asante kwa kuhifadhi Riverside Cottage" in message.body
    assert "14 Januari 2027 hadi 16 Januari 2027" in message.body and "usiku 2" in message.body
    assert "Wageni: 3" in message.body and "Jumla: KES 10,800" in message.body
    hold = timezone.localtime(booking.hold_expires_at)  # Africa/Nairobi
    assert f"Tumekushikilia tarehe hizi hadi {hold.day} " in message.body
    assert f", {hold:%H:%M} (saa za Nairobi)" in message.body
    # The link to pay: the booking page, as the email's button too.
    assert f"/bookings/{booking.pk}/" in message.body and f'/bookings/{booking.pk}/" style' in html
    # Pays 20 % first if they like: the deposit is offered, in Kiswahili.
    assert "malipo ya awali ya angalau KES 2,160" in message.body
    assert 'lang="sw"' in html and "Lipa kwa M-Pesa" in html
    assert "Hello" not in message.body and "Thank you" not in message.body

    owner_message, owner_html = _email_to(owner.email)
    assert owner_message.subject == "New booking NXLANG2A for Riverside Cottage"
    assert "14 January 2027 to 16 January 2027" in owner_message.body and "Total KES 10,800" in owner_message.body
    assert 'lang="en' in owner_html

    guest_sms = _sms_to(africastalking, "+254711000222")
    assert guest_sms.startswith("Nexus: uhifadhi NXLANG2A katika Riverside Cottage, 14 Jan-16 Jan 2027, umeshikiliwa")
    assert "Lipa KES 10,800 kwa M-Pesa" in guest_sms and f"/bookings/{booking.pk}/" in guest_sms
    owner_sms = _sms_to(africastalking, "+254722000111")
    assert owner_sms.startswith("Nexus: new booking NXLANG2A") and "KES 10,800" in owner_sms
    for text in (guest_sms, owner_sms):
        assert len(text) <= SMS_MAX and sms_segments(text) <= 2
    _no_check_in_details(message.body, html, owner_message.body, guest_sms, owner_sms)


def test_booking_created_in_english_for_an_english_guest(africastalking):
    owner, guest, booking = people(guest_language="en")
    notification_send("booking_created", booking.pk, None)
    message, _ = _email_to(guest.email)
    assert message.subject == "Booking NXLANG2A at Riverside Cottage: pay to keep your dates"
    assert "Thank you for booking Riverside Cottage (Kilimani, Nairobi)." in message.body
    assert "Total: KES 10,800" in message.body and "14 January 2027 to 16 January 2027 (2 nights)" in message.body
    assert "or a deposit of at least KES 2,160 now" in message.body
    assert "held for you until" in _sms_to(africastalking, "+254711000222")


@pytest.mark.parametrize("language, deposit_words", [("en", "deposit"), ("sw", "malipo ya awali")])
def test_a_listing_paid_in_full_never_talks_of_a_deposit(africastalking, language, deposit_words):
    owner, guest, booking = people(guest_language=language, deposit=100)
    notification_send("booking_created", booking.pk, None)
    message, html = _email_to(guest.email)
    for text in (message.body, html, _sms_to(africastalking, "+254711000222")):
        assert deposit_words not in text.lower() and "KES 10,800" in text


def test_a_booking_paid_before_the_follow_up_runs_gets_no_pay_now_message(africastalking):
    owner, guest, booking = people(status="CONFIRMED", amount_paid=10_800)
    notification_send("booking_created", booking.pk, None)
    assert [m.to for m in mail.outbox] == [[owner.email]]
    assert [r.form["to"] for r in africastalking.requests] == ["+254722000111"]


# --- booking confirmed -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "language, subject, phrases",
    [
        (
            "en",
            "Your stay at Riverside Cottage is confirmed (NXLANG2A)",
            ["Check-in details", "Address: " + ADDRESS, "Your host: Wanjiru Kamau " + HOST_PHONE, "How to check in:"],
        ),
        (
            "sw",
            "Malazi yako katika Riverside Cottage yamethibitishwa (NXLANG2A)",
            ["Maelezo ya kuingia", "Anwani: " + ADDRESS, "Mwenyeji wako: Wanjiru Kamau " + HOST_PHONE, "Jinsi ya kuingia:"],
        ),
    ],
)
def test_the_confirmation_carries_the_check_in_details_in_the_guest_s_language(africastalking, language, subject, phrases):
    owner, guest, booking = people(guest_language=language, status="CONFIRMED", amount_paid=10_800)
    notification_send("booking_confirmed", booking.pk, None)
    message, html = _email_to(guest.email)
    assert message.subject == subject
    for phrase in phrases:
        assert phrase in message.body
    assert INSTRUCTIONS in message.body and INSTRUCTIONS in html
    directions = "https://www.google.com/maps/dir/?api=1&amp;destination=-1.270500,36.806100"
    assert directions in html and f'href="tel:{HOST_PHONE}"' in html
    assert "KES 10,800" in message.body

    text = _sms_to(africastalking, "+254711000222")
    assert ADDRESS in text and HOST_PHONE in text and f"/bookings/{booking.pk}/" in text
    assert len(text) <= SMS_MAX and sms_segments(text) <= 2
    if language == "sw":
        assert text.startswith("Nexus: uhifadhi NXLANG2A katika Riverside Cottage umethibitishwa. Kuingia 14 Jan")
        assert "Anwani:" in text and "Mwenyeji:" in text
    else:
        assert text.startswith("Nexus: booking NXLANG2A at Riverside Cottage is confirmed. Check-in 14 Jan")
    # The owner is told in English, without the details they wrote themselves.
    owner_text = _sms_to(africastalking, "+254722000111")
    assert "is confirmed and paid (KES 10,800)" in owner_text
    _no_check_in_details(owner_text)


def test_guests_of_two_languages_each_get_the_confirmation_in_theirs(africastalking):
    owner, guest, booking = people(guest_language="en", status="CONFIRMED", amount_paid=10_800)
    friend = UserFactory(name="Baraka Mwangi", phone_number="+254744000444", language="sw")
    BookingGuest.objects.create(booking=booking, name=friend.name, email=friend.email, user=friend)
    notification_send("booking_confirmed", booking.pk, None)
    english, _ = _email_to(guest.email)
    kiswahili, _ = _email_to(friend.email)
    assert english.to == [guest.email] and kiswahili.to == [friend.email]
    assert "is confirmed" in english.subject and "yamethibitishwa" in kiswahili.subject
    assert "is confirmed" in _sms_to(africastalking, "+254711000222")
    assert "umethibitishwa" in _sms_to(africastalking, "+254744000444")
    # Sent again (a retried task): nothing goes twice, the second language's email included.
    before = (len(mail.outbox), len(africastalking.requests))
    assert notification_send("booking_confirmed", booking.pk, None) == 0
    assert (len(mail.outbox), len(africastalking.requests)) == before


# --- the other messages, in Kiswahili ----------------------------------------------------------


def test_payment_received_in_kiswahili(africastalking):
    owner, guest, booking = people(status="PROCESSING", amount_paid=4000)
    payment = make_payment(booking=booking, amount=4000, initiated_by=guest)
    booking.refresh_from_db()
    notification_send("payment_received", booking.pk, payment.pk)
    message, html = _email_to(guest.email)
    assert message.subject == "Tumepokea KES 4,000 kwa NXLANG2A"
    assert payment.mpesa_receipt_number in message.body and "Salio: KES 6,800" in message.body
    text = _sms_to(africastalking, "+254711000222")
    assert text.startswith("Nexus: malipo yamepokelewa, KES 4,000") and "Salio: KES 6,800." in text
    _no_check_in_details(message.body, html, text)


def test_booking_cancelled_in_kiswahili(africastalking):
    owner, guest, booking = people(status="CANCELED")
    Booking.objects.filter(pk=booking.pk).update(cancel_kind="hold_expired", cancel_reason="Hold expired before payment")
    notification_send("booking_canceled", booking.pk, None)
    message, _ = _email_to(guest.email)
    assert message.subject == "Uhifadhi NXLANG2A umeghairiwa"
    assert "Hakuna malipo yaliyofika" in message.body and "Hukutozwa chochote" in message.body
    assert "umeghairiwa" in _sms_to(africastalking, "+254711000222")
    assert "is cancelled" in _sms_to(africastalking, "+254722000111")  # the owner reads English


def test_balance_reminder_in_kiswahili_with_the_date_in_kiswahili(africastalking):
    owner, guest, booking = people(status="PROCESSING", amount_paid=3000)
    notification_send("balance_due_reminder", booking.pk, None)
    message, _ = _email_to(guest.email)
    assert message.subject.startswith("Uhifadhi NXLANG2A: KES 7,800 zinadaiwa kabla ya")
    assert "(saa za Nairobi)" in message.body and "Januari" in message.body
    text = _sms_to(africastalking, "+254711000222")
    assert "KES 7,800 bado zinadaiwa" in text and len(text) <= SMS_MAX


def test_refund_and_payout_in_the_recipient_s_language(africastalking):
    owner, guest, booking = people(owner_language="sw", status="CANCELED", amount_paid=0)
    payment = make_payment(booking=booking, amount=10_800, initiated_by=guest)
    refund = Refund.objects.create(
        booking=booking, payment=payment, amount=10_800, phone_number="254711000222",
        status="SUCCESS", mpesa_transaction_id="TRF123ABC", method="REVERSAL", reason="Cancelled",
    )
    notification_send("refund_sent", booking.pk, refund.pk)
    message, _ = _email_to(guest.email)
    assert message.subject == "KES 10,800 zimerejeshwa kwa NXLANG2A"
    assert "zimerejeshwa kwa M-Pesa yako" in _sms_to(africastalking, "+254711000222")

    payout = Payout.objects.create(
        booking=booking, owner=owner, gross=10_800, commission=1_080, amount=9_720,
        phone_number="254722000111", status="SUCCESS", mpesa_transaction_id="TPO123ABC", due_at=timezone.now(),
    )
    notification_send("payout_sent", booking.pk, payout.pk)
    owner_message, _ = _email_to(owner.email)
    assert owner_message.subject == "Malipo ya KES 9,720 yametumwa kwa NXLANG2A"
    assert "Kamisheni ya Nexus: KES 1,080" in owner_message.body
    assert "malipo ya KES 9,720 yametumwa" in _sms_to(africastalking, "+254722000111")


def test_an_invitation_is_written_in_the_booker_s_language(africastalking, settings):
    owner, guest, booking = people()
    friend = BookingGuest.objects.create(
        booking=booking, name="Baraka", email="baraka@example.com", phone_number="+254755000555",
        invited_at=timezone.now(),
    )
    assert booking_guest_invitations_send(guest_ids=[friend.pk]) == 1
    message, _ = _email_to("baraka@example.com")
    assert message.subject == "Achieng Otieno amekualika ujiunge na malazi katika Riverside Cottage"
    assert "Habari Baraka," in message.body
    assert "amekuongeza kwenye uhifadhi NXLANG2A" in _sms_to(africastalking, "+254755000555")


# --- SMS length, both languages, longest values ----------------------------------------------


LONG_TITLE = "Nyumba ya Bahari – Wanjiru’s Ocean-view Penthouse with Rooftop Pool, Diani Beach " * 3
LONG_NAME = "Achieng’ Wanjiku-Odhiambo Nyambura Kamau-Mwangi Chepkoech Atieno Wairimu Njeri Muthoni"


@pytest.mark.parametrize("language", ["en", "sw"])
def test_every_sms_stays_within_two_segments_in_both_languages(language):
    from pathlib import Path

    from django.conf import settings

    from reservations.check_in import booking_check_in_details

    owner = OwnerFactory(name=LONG_NAME, phone_number="+254722000111")
    guest = UserFactory(name=LONG_NAME, phone_number="+254711000222")
    home = make_property(
        owner=owner, title=LONG_TITLE[:255], price_per_night=249_999, street_address="X" * 200,
        check_in_instructions="Y" * 2000, host_phone_number="+254733000999",
        latitude=Decimal("-4.123456"), longitude=Decimal("39.123456"),
    )
    booking = make_booking(
        property=home, guest=guest, nights=30, reference="NXWWWWWWWW", status="CONFIRMED",
        check_in=dt.date(2027, 12, 28), amount_paid=1_234_567, hold_expires_at=timezone.now(),
    )
    payment = make_payment(booking=booking, amount=249_999, mpesa_receipt_number="TLLWWWWWW1")
    context = {
        "booking": booking,
        "payment": payment,
        "refund": Refund(amount=7_499_970, mpesa_transaction_id="TLLWWWWWWW"),
        "payout": Payout(amount=6_749_973, mpesa_transaction_id="TLLWWWWWWW"),
        "site_url": settings.WAGTAILADMIN_BASE_URL,
    }
    extra = {
        "url": "https://nexus-bookings.onrender.com/sw/bookings/9999999/",
        "due_by": timezone.now(),
        "inviter": guest,
        "accept_url": "https://nexus-bookings.onrender.com/sw/invitations/" + "x" * 43 + "/",
        "check_in_details": booking_check_in_details(booking=booking),
    }
    templates = sorted(p.stem for p in (Path(settings.BASE_DIR) / "templates" / "sms").glob("*.txt"))
    lengths = {}
    for template in templates:
        text = sms_render(Sms(to="+254711000222", template=template, context=extra, language=language), context)
        lengths[template] = (len(text), sms_segments(text))
        print(f"{language} {template}: {len(text)} characters, {sms_segments(text)} segment(s)")
    assert all(characters <= SMS_MAX and segments <= 2 for characters, segments in lengths.values()), lengths
    # The long values are in there, cut, not dropped; and the language really switched.
    assert all(characters > 100 for characters, _ in lengths.values()), lengths
    confirmed = sms_render(Sms(to="+254711000222", template="booking_confirmed_guest", context=extra, language=language), context)
    assert ("Anwani: XXXX" if language == "sw" else "Address: XXXX") in confirmed and "+254733000999" in confirmed
