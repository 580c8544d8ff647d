"""Personal data (Kenya's Data Protection Act 2019): a user downloads their data and deletes
their account; bookings, payments and the audit trail stay with the person anonymised; ID
photos are erased ID_PHOTO_RETENTION_DAYS after the last stay (accounts.privacy)."""

import datetime as dt
import io
import json
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import PersonalDataRun, User
from accounts.privacy import mask_phone
from accounts.services import id_photo_store, id_photos_retention_erase
from core.models import AuditEntry, SentNotification
from core.services import audit_record
from mpesa.models import CallbackRecord, Payment
from reservations.models import Booking, BookingGuest
from tests.factories import (
    DEFAULT_PASSWORD,
    OwnerFactory,
    StaffFactory,
    UserFactory,
    future_date,
    make_booking,
    make_payment,
    make_property,
)

pytestmark = pytest.mark.django_db

ALICE_MSISDN = "254711222349"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path


def jpeg_upload() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 40, 40)).save(buffer, format="JPEG")
    return SimpleUploadedFile("passport.jpg", buffer.getvalue(), content_type="image/jpeg")


def with_id_photo(user: User) -> User:
    id_photo_store(user=user, file=jpeg_upload())
    assert user.id_photo.storage.exists(user.id_photo.name)
    return user


def past_booking(*, guest, property=None, days_ago: int, nights: int = 2, status="CONFIRMED", **fields):
    check_in = timezone.localdate() - dt.timedelta(days=days_ago + nights)
    return make_booking(property=property, guest=guest, check_in=check_in, nights=nights, status=status, **fields)


@pytest.fixture
def world(site_tree):
    owner = OwnerFactory(name="Olive Owner")
    stay = make_property(owner=owner, index=site_tree, title="Kilimani Loft")
    alice = UserFactory(name="Alice Achieng", email="alice@example.com", phone_number="+254711222349")
    bob = UserFactory(name="Bob Barasa", email="bob@example.com", phone_number="+254722333444")
    carol = UserFactory(name="Carol Chebet", email="carol@example.com")
    mine = past_booking(guest=alice, property=stay, days_ago=30, reference="NXALICE1", amount_paid=10000)
    bobs = past_booking(guest=bob, property=stay, days_ago=60, reference="NXBOBBB1", amount_paid=10000)
    carols = past_booking(guest=carol, property=stay, days_ago=90, reference="NXCAROL1")
    # Alice accepted Carol's invitation: she is a linked co-guest there.
    BookingGuest.objects.create(
        booking=carols, name="Alice (typed by Carol)", email="alice@example.com", user=alice, is_primary=False
    )
    BookingGuest.objects.create(booking=carols, name="Dan Unlinked", email="dan@example.com")
    raw = {
        "Body": {
            "stkCallback": {
                "ResultCode": 0,
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": 10000},
                        {"Name": "MpesaReceiptNumber", "Value": "TAL1CE0001"},
                        {"Name": "PhoneNumber", "Value": int(ALICE_MSISDN)},
                    ]
                },
            }
        }
    }
    paid = make_payment(
        booking=mine,
        amount=10000,
        phone_number=ALICE_MSISDN,
        received_phone=ALICE_MSISDN,
        mpesa_receipt_number="TAL1CE0001",
        raw_callback=raw,
    )
    bob_paid = make_payment(booking=bobs, amount=10000, phone_number="254722333444", mpesa_receipt_number="TB0B000001")
    CallbackRecord.objects.create(
        dedupe_key="stk:alice-1",
        raw_body=json.dumps(raw),
        checkout_request_id=paid.checkout_request_id,
        result_code="0",
        receipt="TAL1CE0001",
        amount=10000,
        phone_number=ALICE_MSISDN,
        state="APPLIED",
        payment=paid,
    )
    audit_record(
        obj=paid,
        action="payment.succeeded",
        summary=f"Paid 10000 from {ALICE_MSISDN}",
        after={"status": "SUCCESS", "received_phone": ALICE_MSISDN},
        data={"callback": raw},
    )
    audit_record(obj=mine, action="booking.confirmed", summary="Confirmed", after={"status": "CONFIRMED"})
    for key in (
        f"booking_confirmed:booking={mine.pk}:payment=-",
        f"payment_received:booking={mine.pk}:payment={paid.pk}",
        f"booking_confirmed:booking={carols.pk}:payment=-",
        f"booking_canceled:booking={carols.pk}:payment=-",  # to Carol, the booker, not Alice
        f"booking_confirmed:booking={bobs.pk}:payment=-",
        f"payment_received:booking={bobs.pk}:payment={bob_paid.pk}",
        f"sms:payment_received:booking={mine.pk}:payment={paid.pk}:to=+254711222349",
        f"sms:payment_received:booking={bobs.pk}:payment={bob_paid.pk}:to=+254722333444",
        # Bob typed Alice's number for someone on his booking: not a booking of hers.
        f"sms:booking_confirmed:booking={bobs.pk}:payment=-:to=+254711222349",
    ):
        SentNotification.objects.create(key=key)
    return {
        "owner": owner,
        "stay": stay,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "mine": mine,
        "bobs": bobs,
        "carols": carols,
        "paid": paid,
        "bob_paid": bob_paid,
    }


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


# --- export -----------------------------------------------------------------------------


def download(response) -> dict:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    disposition = response["Content-Disposition"]
    today = timezone.localdate().isoformat()
    assert disposition == f'attachment; filename="nexus-data-{today}.json"'
    assert "no-store" in response["Cache-Control"]
    return json.loads(response.content)


@pytest.mark.parametrize("via", ["site", "api"])
def test_export_holds_exactly_the_users_data(world, via):
    alice = world["alice"]
    if via == "site":
        response = logged_in(alice).get("/accounts/account/data/")
    else:
        response = api_as(alice).get("/api/me/data/")
    data = download(response)

    assert data["profile"]["email"] == "alice@example.com"
    assert data["profile"]["phone_number"] == "+254711222349"
    assert data["time_zone"] == "Africa/Nairobi"
    assert data["generated_at"].endswith("+03:00")

    bookings = {row["reference"]: row for row in data["bookings"]}
    assert set(bookings) == {"NXALICE1", "NXCAROL1"}
    assert bookings["NXALICE1"]["role"] == "primary_guest"
    assert bookings["NXALICE1"]["total_price"] == world["mine"].total_price
    assert bookings["NXALICE1"]["booked_at"].endswith("+03:00")
    assert bookings["NXCAROL1"]["role"] == "co_guest"
    assert bookings["NXCAROL1"]["your_guest_details"]["name"] == "Alice (typed by Carol)"

    assert [(row["id"], row["amount"], row["mpesa_receipt_number"]) for row in data["payments"]] == [
        (world["paid"].pk, 10000, "TAL1CE0001")
    ]
    assert data["payments"][0]["transaction_date"].endswith("+03:00")

    sent = sorted((row["channel"], row["event"], row["booking_id"]) for row in data["notifications"])
    assert sent == sorted(
        [
            ("email", "booking_confirmed", world["mine"].pk),
            ("email", "payment_received", world["mine"].pk),
            ("sms", "payment_received", world["mine"].pk),
            ("email", "booking_confirmed", world["carols"].pk),
        ]
    )
    assert all(row["sent_at"].endswith("+03:00") for row in data["notifications"])

    # Nothing of anyone else: not Bob's booking, payment or details, not the other guests on
    # Carol's booking, not the owner's contact details.
    text = response.content.decode()
    for foreign in ("NXBOBBB1", "TB0B000001", "Bob Barasa", "bob@example.com", "254722333444", "Carol Chebet",
                    "carol@example.com", "Dan Unlinked", "dan@example.com", world["owner"].email):
        assert foreign not in text, foreign


def test_export_needs_a_login(world):
    assert Client().get("/accounts/account/data/").status_code == 302
    assert APIClient().get("/api/me/data/").status_code in (401, 403)


def test_owner_export_lists_the_new_booking_emails_sent_to_them(world):
    SentNotification.objects.create(key=f"booking_created:booking={world['bobs'].pk}:payment=-")
    data = download(logged_in(world["owner"]).get("/accounts/account/data/"))
    assert data["bookings"] == []
    assert [(row["event"], row["booking_id"]) for row in data["notifications"]] == [
        ("booking_created", world["bobs"].pk)
    ]


def test_account_page_offers_download_and_delete(world):
    response = logged_in(world["alice"]).get("/accounts/account/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/accounts/account/data/" in body and 'action="/accounts/account/delete/"' in body


# --- delete -----------------------------------------------------------------------------


def test_delete_erases_the_person_and_keeps_the_money(world, django_capture_on_commit_callbacks):
    alice = with_id_photo(world["alice"])
    photo_name, storage = alice.id_photo.name, alice.id_photo.storage
    token = Token.objects.create(user=alice)
    elsewhere = logged_in(alice)  # another device's session
    assert elsewhere.get("/accounts/account/").status_code == 200
    paid = world["paid"]
    before_payment = Payment.objects.filter(pk=paid.pk).values(
        "amount", "received_amount", "mpesa_receipt_number", "transaction_date", "status", "booking_id"
    )[0]
    booking_before = Booking.objects.filter(pk=world["mine"].pk).values(
        "total_price", "amount_paid", "balance_due", "status", "check_in", "check_out", "primary_guest_id"
    )[0]
    audit_before = AuditEntry.objects.count()

    client = logged_in(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/account/delete/", {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302

    alice.refresh_from_db()
    assert alice.name == "Deleted user"
    assert alice.email == f"deleted-{alice.pk}@invalid"
    assert str(alice.phone_number) == ""
    assert not alice.is_active and not alice.has_usable_password()
    assert not alice.id_photo and not storage.exists(photo_name)
    assert not Token.objects.filter(pk=token.pk).exists()
    # Every session is over: this one, and the other device's.
    assert client.get("/accounts/account/").status_code == 302
    assert elsewhere.get("/accounts/account/").status_code == 302
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token.key}").get("/api/me/").status_code == 401
    assert not Client().login(username="alice@example.com", password=DEFAULT_PASSWORD)

    # The money records are whole; only the phone is masked.
    assert Payment.objects.filter(pk=paid.pk).values(*before_payment)[0] == before_payment
    paid.refresh_from_db()
    assert (paid.phone_number, paid.received_phone) == ("2547******49", "2547******49")
    assert ALICE_MSISDN not in json.dumps(paid.raw_callback)
    items = paid.raw_callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    assert {"Name": "PhoneNumber", "Value": "2547******49"} in items
    assert {"Name": "MpesaReceiptNumber", "Value": "TAL1CE0001"} in items
    record = CallbackRecord.objects.get(payment=paid)
    assert record.phone_number == "2547******49" and ALICE_MSISDN not in record.raw_body
    assert "TAL1CE0001" in record.raw_body
    assert Booking.objects.filter(pk=world["mine"].pk).values(*booking_before)[0] == booking_before

    # The guest rows that were Alice now say "Deleted user"; Carol's other guests are untouched.
    assert set(BookingGuest.objects.filter(user=alice).values_list("name", "email", "phone_number")) == {
        ("Deleted user", "", "")
    }
    assert BookingGuest.objects.filter(user=alice).count() == 2
    assert BookingGuest.objects.filter(name="Dan Unlinked", email="dan@example.com").exists()
    # The SMS log no longer carries her number, and still tells what was sent.
    assert not SentNotification.objects.filter(key__contains="+254711222349").exists()
    assert SentNotification.objects.filter(
        key=f"sms:payment_received:booking={world['mine'].pk}:payment={paid.pk}:to=deleted-user-{alice.pk}"
    ).exists()
    assert SentNotification.objects.filter(key__contains="+254722333444").count() == 1
    # Bob's payment and phone are not Alice's business.
    assert Payment.objects.get(pk=world["bob_paid"].pk).phone_number == "254722333444"

    # The audit trail is kept (nothing deleted), anonymised, and says what happened.
    assert AuditEntry.objects.count() == audit_before + 2  # id_photo_erased, erased
    payment_type = ContentType.objects.get_for_model(Payment)
    entry = AuditEntry.objects.get(content_type=payment_type, object_id=str(paid.pk), action="payment.succeeded")
    assert ALICE_MSISDN not in json.dumps([entry.summary, entry.before, entry.after, entry.data])
    assert entry.summary == "Paid 10000 from 2547******49"
    erased = AuditEntry.objects.get(action="user.erased", object_id=str(alice.pk))
    assert erased.actor_id == alice.pk and erased.data["anonymised"]["payments_masked"] == 1
    assert AuditEntry.objects.filter(action="user.id_photo_erased", object_id=str(alice.pk)).exists()


def test_delete_through_the_api(world, django_capture_on_commit_callbacks):
    alice = with_id_photo(world["alice"])
    client = api_as(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/me/delete/", {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 204
    alice.refresh_from_db()
    assert alice.name == "Deleted user" and not alice.id_photo
    assert client.get("/api/me/").status_code == 401


def test_delete_with_the_wrong_password_changes_nothing(world):
    alice = world["alice"]
    response = api_as(alice).post("/api/me/delete/", {"password": "not-it"}, format="json")
    assert response.status_code == 400 and "password" in response.json()
    response = logged_in(alice).post("/accounts/account/delete/", {"password": "not-it"})
    assert response.status_code == 400
    assert api_as(alice).post("/api/me/delete/", {}, format="json").status_code == 400
    alice.refresh_from_db()
    assert alice.is_active and alice.name == "Alice Achieng"
    assert not AuditEntry.objects.filter(action="user.erased").exists()


def refused(user, expected: str):
    response = api_as(user).post("/api/me/delete/", {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "account_erasure_refused" and expected in body["detail"]
    page = logged_in(user).post("/accounts/account/delete/", {"password": DEFAULT_PASSWORD})
    assert page.status_code == 409 and expected in page.content.decode()
    user.refresh_from_db()
    assert user.is_active and user.name != "Deleted user"


def test_delete_is_refused_while_a_stay_is_to_come(world):
    alice = world["alice"]
    make_booking(
        property=world["stay"], guest=alice, check_in=future_date(10), status="CONFIRMED", reference="NXSOON01"
    )
    refused(alice, "NXSOON01")
    # The account page says why before anyone tries.
    assert "NXSOON01" in logged_in(alice).get("/accounts/account/").content.decode()


def test_delete_is_refused_while_money_is_in_flight_or_owed_back(world):
    bob = world["bob"]
    make_payment(booking=world["bobs"], status="PENDING", amount=2000, phone_number="254722333444")
    refused(bob, "still being processed")
    Payment.objects.filter(booking=world["bobs"], status="PENDING").update(status="FAILED")
    Payment.objects.filter(pk=world["bob_paid"].pk).update(needs_refund=True)
    refused(bob, "refund")


def test_delete_is_refused_for_owners_with_live_listings_and_staff(world, django_capture_on_commit_callbacks):
    owner = world["owner"]
    refused(owner, "Kilimani Loft")
    refused(StaffFactory(), "superuser")
    # Unpublished, with no guest still to come: the owner may go; their property's bookings stay.
    world["stay"].unpublish()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(owner).post("/api/me/delete/", {"password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 204
    assert Booking.objects.filter(property=world["stay"]).count() == 3


def test_a_co_guest_of_a_stay_to_come_may_delete(world, django_capture_on_commit_callbacks):
    dave = UserFactory(name="Dave Kip")
    upcoming = make_booking(property=world["stay"], guest=world["bob"], check_in=future_date(5), status="CONFIRMED")
    BookingGuest.objects.create(booking=upcoming, name="Dave Kip", email=dave.email, user=dave)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as(dave).post("/api/me/delete/", {"password": DEFAULT_PASSWORD}, format="json").status_code == 204
    guest = BookingGuest.objects.get(booking=upcoming, user=dave)
    assert (guest.name, guest.email) == ("Deleted user", "")
    assert BookingGuest.objects.get(booking=upcoming, is_primary=True).name == world["bob"].name


def test_mask_phone():
    assert mask_phone("254711222349") == "2547******49"
    assert mask_phone("+254 711 222 349") == "2547******49"
    assert mask_phone("") == ""


# --- ID photo retention -----------------------------------------------------------------


def joined_days_ago(days: int, now) -> User:
    user = with_id_photo(UserFactory())
    User.objects.filter(pk=user.pk).update(date_joined=now - dt.timedelta(days=days))
    return user


def test_retention_erases_only_photos_past_the_retention(site_tree, django_capture_on_commit_callbacks):
    now = timezone.now()
    stay = make_property(index=site_tree)
    old_stay = joined_days_ago(900, now)
    past_booking(guest=old_stay, property=stay, days_ago=400)
    recent_stay = joined_days_ago(900, now)
    past_booking(guest=recent_stay, property=stay, days_ago=500)
    past_booking(guest=recent_stay, property=stay, days_ago=100)
    coming = joined_days_ago(900, now)
    make_booking(property=stay, guest=coming, check_in=future_date(20), status="CONFIRMED")
    never_booked_old = joined_days_ago(400, now)
    never_booked_new = joined_days_ago(100, now)
    co_guest_recent = joined_days_ago(900, now)
    carried = past_booking(guest=UserFactory(), property=stay, days_ago=10)
    BookingGuest.objects.create(booking=carried, name="Co", user=co_guest_recent)
    names = {user.pk: user.id_photo.name for user in User.objects.exclude(id_photo="")}

    with django_capture_on_commit_callbacks(execute=True):
        erased = id_photos_retention_erase(now=now, days=365)

    assert erased == 2
    gone = {old_stay.pk, never_booked_old.pk}
    for user in User.objects.filter(pk__in=names):
        storage = user.id_photo.storage
        if user.pk in gone:
            assert not user.id_photo and not storage.exists(names[user.pk])
        else:
            assert user.id_photo.name == names[user.pk] and storage.exists(names[user.pk])
    assert set(
        AuditEntry.objects.filter(action="user.id_photo_erased").values_list("object_id", flat=True)
    ) == {str(pk) for pk in gone}
    run = PersonalDataRun.objects.get()
    assert (run.photos_erased, run.retention_days, run.started_at) == (2, 365, now)
    assert run.finished_at is not None

    # A shorter retention reaches the stay of 100 days ago too; a second pass finds nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert id_photos_retention_erase(now=now, days=50) == 2
        assert id_photos_retention_erase(now=now, days=50) == 0
    remaining = set(User.objects.exclude(id_photo="").values_list("pk", flat=True))
    assert remaining == {coming.pk, co_guest_recent.pk}
    assert recent_stay.pk not in remaining and never_booked_new.pk not in remaining


def test_command_uses_the_setting_and_records_the_run(settings, django_capture_on_commit_callbacks):
    settings.ID_PHOTO_RETENTION_DAYS = 30
    now = timezone.now()
    old = joined_days_ago(40, now)
    new = joined_days_ago(20, now)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_personal_data", stdout=out)
    assert "1 ID photo(s) erased" in out.getvalue()
    old.refresh_from_db()
    new.refresh_from_db()
    assert not old.id_photo and new.id_photo
    assert PersonalDataRun.objects.get().retention_days == 30


def test_the_daily_schedule_exists():
    schedule = Schedule.objects.get(name="personal_data_retention")
    assert schedule.func == "accounts.tasks.personal_data_retention"
    assert schedule.schedule_type == Schedule.DAILY and schedule.repeats == -1


def test_staff_see_when_retention_last_ran_owners_and_guests_do_not(site_tree):
    staff = StaffFactory()
    owner = OwnerFactory()
    body = logged_in(staff).get("/admin/").content.decode()
    assert "Personal data retention has not run yet" in body
    PersonalDataRun.objects.create(
        started_at=dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.UTC),
        finished_at=dt.datetime(2026, 3, 1, 0, 31, tzinfo=dt.UTC),
        retention_days=365,
        photos_erased=3,
    )
    body = logged_in(staff).get("/admin/").content.decode()
    assert re.search(r"Personal data retention last ran:\s*1 Mar 2026 03:30 \(Nairobi\),\s*3 ID photos erased", body)
    owner_page = logged_in(owner).get("/admin/")
    assert owner_page.status_code == 200 and "nexus-personal-data" not in owner_page.content.decode()
    guest_page = logged_in(UserFactory()).get("/admin/")
    assert guest_page.status_code in (302, 403) and "nexus-personal-data" not in guest_page.content.decode()


def test_mpesa_refunds_are_exported_block_erasure_while_open_and_are_masked(
    world, django_capture_on_commit_callbacks
):
    """A refund sent back to the user's phone is theirs to download; while it is on its way
    the number is needed; once it landed, erasing masks the number and keeps the money."""
    from mpesa.models import Refund

    alice, paid = world["alice"], world["paid"]
    refund = Refund.objects.create(
        booking=world["mine"], payment=paid, method="b2c", status="PENDING", amount=4000, phone_number=ALICE_MSISDN,
        reason="Cancelled by the guest", originator_conversation_id="NXR-privacy-1",
        raw_result={"Result": {"ResultParameters": {"ResultParameter": [
            {"Key": "ReceiverPartyPublicName", "Value": f"{ALICE_MSISDN} - Alice Achieng"}]}}},
    )
    rows = download(api_as(alice).get("/api/me/data/"))["mpesa_refunds"]
    assert [(row["id"], row["amount"], row["method"]) for row in rows] == [(refund.pk, 4000, "b2c")]
    refused(alice, "refund")

    Refund.objects.filter(pk=refund.pk).update(status="SUCCESS", mpesa_transaction_id="TLLREFUND1")
    with django_capture_on_commit_callbacks(execute=True):
        assert api_as(alice).post("/api/me/delete/", {"password": DEFAULT_PASSWORD}, format="json").status_code == 204
    refund.refresh_from_db()
    assert (refund.phone_number, refund.amount, refund.mpesa_transaction_id) == ("2547******49", 4000, "TLLREFUND1")
    assert ALICE_MSISDN not in json.dumps(refund.raw_result)
