"""Co-guests are linked to an account only by accepting an emailed invitation (docs/booking-rules.md).

The attacks: Alice types bob@example.com (or Bob's phone) as a co-guest; whoever owns or
later registers that address must not see Alice's booking, nor learn Alice's phone, until
they prove they hold the mailbox by using the link sent there. And typing an address as a
co-guest must never tell Alice whether that address has a Nexus account.
"""

import datetime as dt
import hashlib
import re
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import AuditEntry
from reservations.models import Booking, BookingGuest
from tests.factories import DEFAULT_PASSWORD, UserFactory, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db

BOOKINGS = "/api/bookings/"
ACCEPT = "/api/invitations/accept/"
LINK = re.compile(r"(https?://[^\s\"'<>]+)/invitations/([A-Za-z0-9_-]+)/")


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def alice(db):
    return UserFactory(name="Alice Wambui", email="alice@example.com", phone_number="+254711000001")


@pytest.fixture
def stay(site_tree):
    return make_property(title="Watamu Beach House", price_per_night=7000, max_guests=4)


def _book(alice, stay, guests, capture):
    check_in = future_date(25)
    body = {
        "property": stay.pk,
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=3)).isoformat(),
        "guests": guests,
    }
    with capture(execute=True):
        response = client_for(alice).post(BOOKINGS, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _invitation_token(to: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [to]]
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(2)


def _accept(user, token):
    return client_for(user).post(ACCEPT, {"token": token}, format="json")


def _register(client, *, email, phone):
    response = client.post(
        "/api/auth/register/",
        {"name": "Bob Otieno", "email": email, "phone_number": phone, "password": DEFAULT_PASSWORD},
        format="json",
    )
    assert response.status_code == 201, response.content
    from accounts.models import User

    return User.objects.get(pk=response.json()["id"])


# --- No linking by a matching identifier ---------------------------------------------------------


def test_registering_with_a_co_guests_email_or_phone_does_not_reveal_the_booking(
    alice, stay, client, django_capture_on_commit_callbacks
):
    booking = _book(
        alice,
        stay,
        [{"name": "Bob Otieno", "email": "bob@example.com", "phone_number": "0722000222"}],
        django_capture_on_commit_callbacks,
    )

    bob = _register(APIClient(), email="bob@example.com", phone="0722000222")

    api = client_for(bob)
    assert api.get(BOOKINGS).json()["count"] == 0
    assert api.get(f"{BOOKINGS}{booking['id']}/").status_code == 404
    client.force_login(bob)
    assert client.get(reverse("reservations:booking_detail", args=[booking["id"]])).status_code == 404
    assert client.get(reverse("reservations:my_bookings")).content.decode().count(booking["reference"]) == 0
    row = BookingGuest.objects.get(booking_id=booking["id"], is_primary=False)
    assert row.user_id is None and row.invitation == "invited"


def test_an_existing_account_with_the_same_email_or_phone_is_never_linked(
    alice, stay, django_capture_on_commit_callbacks
):
    bob = UserFactory(email="bob@example.com", phone_number="+254722000222")
    carol = UserFactory(phone_number="+254733000333")
    booking = _book(
        alice,
        stay,
        [
            {"name": "Bob Otieno", "email": "BOB@example.com"},
            {"name": "Carol Njeri", "phone_number": "0733 000 333"},
        ],
        django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=True):
        added = client_for(alice).post(
            f"{BOOKINGS}{booking['id']}/guests/", {"name": "Bob again", "phone_number": "0722000222"}, format="json"
        )
    assert added.status_code == 201, added.content

    assert not BookingGuest.objects.filter(booking_id=booking["id"], is_primary=False).exclude(user=None).exists()
    for user in (bob, carol):
        assert client_for(user).get(BOOKINGS).json()["count"] == 0
        assert client_for(user).get(f"{BOOKINGS}{booking['id']}/").status_code == 404
    guests = {g["name"]: g for g in client_for(alice).get(f"{BOOKINGS}{booking['id']}/").json()["guests"]}
    # A phone number alone never links either: it gets the invitation link by SMS.
    assert (guests["Carol Njeri"]["user"], guests["Carol Njeri"]["invitation"]) == (None, "invited")
    assert (guests["Bob again"]["user"], guests["Bob again"]["invitation"]) == (None, "invited")
    assert (guests["Bob Otieno"]["user"], guests["Bob Otieno"]["invitation"]) == (None, "invited")
    assert [m.to for m in mail.outbox if "invit" in m.subject.lower()] == [["bob@example.com"]]


# --- The invitation --------------------------------------------------------------------------------


def test_the_invitation_email_carries_a_one_time_link_whose_secret_is_not_stored(
    alice, stay, django_capture_on_commit_callbacks
):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)

    [message] = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert "Alice Wambui" in message.body and "Watamu Beach House" in message.body
    assert "+254711000001" not in message.body and "0711000001" not in message.body  # Alice's phone stays private
    base, token = LINK.search(message.body).groups()
    assert base == settings.WAGTAILADMIN_BASE_URL
    assert f"/invitations/{token}/" in message.alternatives[0][0]
    assert len(token) >= 40
    row = BookingGuest.objects.get(booking_id=booking["id"], is_primary=False)
    assert row.invitation_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not BookingGuest.objects.filter(invitation_token_hash=token).exists()
    assert row.invitation_expires_at > timezone.now() + dt.timedelta(days=settings.BOOKING_INVITATION_TTL_DAYS - 1)


def test_accepting_the_invitation_links_the_invitee_and_shows_the_booking(
    alice, stay, django_capture_on_commit_callbacks
):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    token = _invitation_token("bob@example.com")
    # The link proves the mailbox, not the account's address: any logged-in person holding it may accept.
    bob = UserFactory(email="bob.work@example.com")

    response = _accept(bob, token)

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["id"] == booking["id"] and data["reference"] == booking["reference"]
    co = next(g for g in data["guests"] if not g["is_primary"])
    assert (co["user"], co["invitation"]) == (bob.pk, "accepted")
    assert [b["id"] for b in client_for(bob).get(BOOKINGS).json()["results"]] == [booking["id"]]
    entry = AuditEntry.objects.get(action="booking.guest_invitation_accepted")
    assert entry.actor == bob and entry.object_id == str(booking["id"])
    assert entry.data["invited_email"] == "bob@example.com" and entry.data["accepted_by_email"] == "bob.work@example.com"


def test_a_linked_co_guest_sees_names_but_not_the_bookers_contact(alice, stay, client, django_capture_on_commit_callbacks):
    booking = _book(
        alice,
        stay,
        [{"name": "Bob Otieno", "email": "bob@example.com"}, {"name": "Dan Kip", "phone_number": "0744000444"}],
        django_capture_on_commit_callbacks,
    )
    bob = UserFactory(email="bob@example.com")
    assert _accept(bob, _invitation_token("bob@example.com")).status_code == 200

    seen = client_for(bob).get(f"{BOOKINGS}{booking['id']}/").json()
    by_name = {g["name"]: g for g in seen["guests"]}
    assert (by_name["Alice Wambui"]["email"], by_name["Alice Wambui"]["phone_number"]) == ("", "")
    assert by_name["Dan Kip"]["phone_number"] == ""
    assert by_name["Bob Otieno"]["email"] == "bob@example.com"  # their own row
    mine = client_for(alice).get(f"{BOOKINGS}{booking['id']}/").json()
    assert {g["name"]: g["phone_number"] for g in mine["guests"]}["Dan Kip"] == "+254744000444"

    client.force_login(bob)
    html = client.get(reverse("reservations:booking_detail", args=[booking["id"]])).content.decode()
    assert "Alice Wambui" in html and "Dan Kip" in html
    assert "alice@example.com" not in html and "0711000001" not in html and "+254711000001" not in html
    assert "0744000444" not in html and "+254744000444" not in html


@pytest.mark.parametrize("how", ["reused", "wrong", "expired", "blank", "huge"])
def test_a_used_wrong_or_expired_token_is_invalid_invitation(how, alice, stay, django_capture_on_commit_callbacks):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    token = _invitation_token("bob@example.com")
    bob, mallory = UserFactory(), UserFactory()
    if how == "reused":
        assert _accept(bob, token).status_code == 200
    elif how == "wrong":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif how == "expired":
        BookingGuest.objects.filter(booking_id=booking["id"], is_primary=False).update(
            invitation_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
    elif how == "blank":
        token = ""
    elif how == "huge":
        token = "x" * 100_000

    response = _accept(mallory, token)

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_invitation" and response.json()["detail"]
    assert client_for(mallory).get(f"{BOOKINGS}{booking['id']}/").status_code == 404


def test_accepting_needs_a_logged_in_user(alice, stay, django_capture_on_commit_callbacks):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    response = APIClient().post(ACCEPT, {"token": _invitation_token("bob@example.com")}, format="json")
    assert response.status_code == 401
    assert BookingGuest.objects.get(booking_id=booking["id"], is_primary=False).user_id is None


def test_the_booker_cannot_accept_their_own_invitation_nor_a_guest_join_twice(
    alice, stay, django_capture_on_commit_callbacks
):
    booking = _book(
        alice,
        stay,
        [{"name": "Bob Otieno", "email": "bob@example.com"}, {"name": "Bob Home", "email": "bob@home.example"}],
        django_capture_on_commit_callbacks,
    )
    first, second = _invitation_token("bob@example.com"), _invitation_token("bob@home.example")

    own = _accept(alice, first)
    assert (own.status_code, own.json()["code"]) == (400, "invalid_invitation")
    bob = UserFactory()
    assert _accept(bob, first).status_code == 200  # still usable by the real invitee
    twice = _accept(bob, second)
    assert (twice.status_code, twice.json()["code"]) == (400, "invalid_invitation")
    assert BookingGuest.objects.filter(booking_id=booking["id"], user=bob).count() == 1


def test_an_invitation_to_a_cancelled_booking_cannot_be_accepted(alice, stay, django_capture_on_commit_callbacks):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    token = _invitation_token("bob@example.com")
    Booking.objects.filter(pk=booking["id"]).update(status=Booking.Status.CANCELED)
    bob = UserFactory()
    response = _accept(bob, token)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_invitation")
    assert client_for(bob).get(f"{BOOKINGS}{booking['id']}/").status_code == 404


# --- Adding a guest through the API ---------------------------------------------------------------


def test_only_the_booker_adds_guests(alice, stay, django_capture_on_commit_callbacks):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    bob = UserFactory()
    assert _accept(bob, _invitation_token("bob@example.com")).status_code == 200
    url = f"{BOOKINGS}{booking['id']}/guests/"

    stranger = client_for(UserFactory()).post(url, {"name": "Eve"}, format="json")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    co_guest = client_for(bob).post(url, {"name": "Eve"}, format="json")
    assert (co_guest.status_code, co_guest.json()["code"]) == (403, "not_primary_guest")
    assert anonymous_status(url) == 401
    assert BookingGuest.objects.filter(booking_id=booking["id"]).count() == 2


def anonymous_status(url) -> int:
    return APIClient().post(url, {"name": "Eve"}, format="json").status_code


# --- Enumeration -------------------------------------------------------------------------------------


def _add_on_site(client, booking_id, email, capture):
    with capture(execute=True):
        response = client.post(
            reverse("reservations:booking_guest_add", args=[booking_id]), {"add-name": "Friend", "add-email": email}
        )
    assert response.status_code == 302
    return client.get(reverse("reservations:booking_detail", args=[booking_id])).content.decode()


def test_adding_a_co_guest_never_tells_whether_the_address_has_an_account(
    alice, stay, client, django_capture_on_commit_callbacks
):
    UserFactory(email="has.account@example.com")
    first = make_booking(property=stay, guest=alice, check_in=future_date(40))
    second = make_booking(property=stay, guest=alice, check_in=future_date(50))
    client.force_login(alice)

    known_html = _add_on_site(client, first.pk, "has.account@example.com", django_capture_on_commit_callbacks)
    unknown_html = _add_on_site(client, second.pk, "no.account@example.com", django_capture_on_commit_callbacks)

    assert "Has a Nexus account" not in known_html and "can see this booking" not in known_html

    def guests_section(html, booking):
        section = html[html.index('id="guests"') : html.index("</section>", html.index('id="guests"'))]
        section = re.sub(r"csrfmiddlewaretoken\" value=\"[^\"]+\"", "", section)
        co_guest = booking.guests.get(is_primary=False)
        return section.replace(f"/bookings/{booking.pk}/guests/{co_guest.pk}/", "/bookings/N/guests/G/").replace(
            f"/bookings/{booking.pk}/", "/bookings/N/"
        )

    assert guests_section(known_html, first).replace("has.account", "X") == guests_section(
        unknown_html, second
    ).replace("no.account", "X")
    assert "Invitation sent" in known_html

    api = client_for(alice)
    answers = []
    for booking, email in ((first, "has.account@example.com"), (second, "no.account@example.com")):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"{BOOKINGS}{booking.pk}/guests/", {"name": "Other", "email": email}, format="json")
        assert response.status_code == 201
        answers.append({**response.json(), "email": "X"})
    assert answers[0] == answers[1]
    assert answers[0]["user"] is None and answers[0]["invitation"] == "invited"
    assert sorted(m.to[0] for m in mail.outbox) == sorted(["has.account@example.com", "no.account@example.com"] * 2)


# --- The site's accept page -----------------------------------------------------------------------


def test_the_emailed_link_sends_a_logged_out_invitee_to_log_in_and_back(
    alice, stay, client, django_capture_on_commit_callbacks
):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    token = _invitation_token("bob@example.com")
    path = f"/invitations/{token}/"

    response = client.get(path)
    assert response.status_code == 302
    login = urlparse(response["Location"])
    assert login.path == reverse("accounts:login") and parse_qs(login.query)["next"] == [path]

    bob = UserFactory()
    client.force_login(bob)
    page = client.get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Watamu Beach House" in html and "Alice Wambui" in html and "<form" in html
    assert "0711000001" not in html and "+254711000001" not in html
    assert BookingGuest.objects.get(booking_id=booking["id"], is_primary=False).user_id is None  # GET changes nothing

    accepted = client.post(path)
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("reservations:booking_detail", args=[booking["id"]])
    assert client.get(accepted["Location"]).status_code == 200

    again = client.post(path)
    assert again.status_code == 400
    assert "not valid" in again.content.decode()


def test_the_booker_can_send_the_invitation_again_and_the_old_link_stops_working(
    alice, stay, client, django_capture_on_commit_callbacks
):
    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    old = _invitation_token("bob@example.com")
    row = BookingGuest.objects.get(booking_id=booking["id"], is_primary=False)
    mail.outbox.clear()
    client.force_login(alice)
    resend = reverse("reservations:booking_guest_invite", args=[booking["id"], row.pk])
    # Straight away it is refused: the booker cannot turn invitations into a stream of emails.
    with django_capture_on_commit_callbacks(execute=True):
        soon = client.post(resend, follow=True)
    assert "send it again in a little while" in soon.content.decode() and not mail.outbox
    BookingGuest.objects.filter(pk=row.pk).update(invited_at=timezone.now() - dt.timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resend)
    assert response.status_code == 302
    new = _invitation_token("bob@example.com")
    assert new != old
    bob = UserFactory()
    assert _accept(bob, old).json()["code"] == "invalid_invitation"
    assert _accept(bob, new).status_code == 200


def test_hand_written_guest_rendering_matches_the_declared_fields_for_a_co_guest_viewer(
    alice, stay, django_capture_on_commit_callbacks
):
    import json

    from rest_framework import serializers

    from reservations.apis import BookingGuestOutputSerializer
    from reservations.selectors import booking_get_for_user

    booking = _book(alice, stay, [{"name": "Bob Otieno", "email": "bob@example.com"}], django_capture_on_commit_callbacks)
    bob = UserFactory()
    _accept(bob, _invitation_token("bob@example.com"))
    for viewer in (alice, bob):
        obj = booking_get_for_user(user=viewer, booking_id=booking["id"])
        context = {"request": SimpleNamespace(user=viewer)}
        generic = [
            serializers.Serializer.to_representation(BookingGuestOutputSerializer(context=context), guest)
            for guest in obj.guests.all()
        ]
        answer = client_for(viewer).get(f"{BOOKINGS}{booking['id']}/").json()["guests"]
        assert answer == json.loads(json.dumps(generic))
        assert any(g["email"] == "" for g in answer) == (viewer == bob)


# --- Race ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_many_people_accepting_one_link_at_once_exactly_one_is_linked():
    """A forwarded link raced by several accounts: the booking's row lock serialises them, and
    the first acceptance clears the token, so the rest get invalid_invitation."""
    import threading

    from django.db import connection

    from reservations.services import booking_create

    alice = UserFactory(name="Alice Wambui")
    stay = make_property(max_guests=3)
    booking = booking_create(
        user=alice,
        property_id=stay.pk,
        check_in=future_date(30),
        check_out=future_date(32),
        guests=[{"name": "Bob Otieno", "email": "bob@example.com"}],
    )
    token = _invitation_token("bob@example.com")
    people = [UserFactory() for _ in range(8)]
    barrier = threading.Barrier(len(people))
    answers: list = [None] * len(people)

    def accept(i):
        try:
            barrier.wait(timeout=30)
            response = _accept(people[i], token)
            answers[i] = (response.status_code, response.json().get("code"))
        except Exception as error:  # noqa: BLE001 - shown by the assertion below
            answers[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(answers, key=str) == sorted([(200, None)] + [(400, "invalid_invitation")] * 7, key=str), answers
    row = BookingGuest.objects.get(booking=booking, is_primary=False)
    assert row.user in people and row.invitation_token_hash == ""
    assert BookingGuest.objects.filter(booking=booking).exclude(user=None).count() == 2
