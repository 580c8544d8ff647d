"""Where a host's payouts go: the account page's form and PATCH /api/me/
(accounts.payout_destination): validated, stored as Daraja takes it, audited, hosts only."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.models import AuditEntry
from tests.factories import OwnerFactory, UserFactory

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    "body,stored",
    [
        ({"payout_method": "mpesa", "payout_phone_number": "0712 345 678"}, ("mpesa", "254712345678", "", "")),
        ({"payout_method": "mpesa", "payout_phone_number": "+254 110 123 456"}, ("mpesa", "254110123456", "", "")),
        (
            {"payout_method": "paybill", "payout_business_number": "522 522", "payout_account_reference": "ACC-12/B"},
            ("paybill", "", "522522", "ACC-12/B"),
        ),
        # A till takes no account number, and a number typed for another method is not kept.
        (
            {"payout_method": "till", "payout_business_number": "12345", "payout_phone_number": "0712345678"},
            ("till", "", "12345", ""),
        ),
    ],
)
def test_an_owner_sets_a_payout_destination_through_the_api(body, stored):
    owner = OwnerFactory()
    response = api(owner).patch("/api/me/", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (
        data["payout_method"], data["payout_phone_number"], data["payout_business_number"], data["payout_account_reference"]
    ) == stored
    owner.refresh_from_db()
    assert (
        owner.payout_method, owner.payout_phone_number, owner.payout_business_number, owner.payout_account_reference
    ) == stored
    assert AuditEntry.objects.filter(action="user.payout_destination", object_id=str(owner.pk)).count() == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"payout_method": "mpesa", "payout_phone_number": "0201234567"}, "payout_phone_number"),  # a landline
        ({"payout_method": "mpesa"}, "payout_phone_number"),
        ({"payout_method": "paybill", "payout_business_number": "522522"}, "payout_account_reference"),
        ({"payout_method": "paybill", "payout_business_number": "1234", "payout_account_reference": "A1"}, "payout_business_number"),
        ({"payout_method": "till", "payout_business_number": "12345678"}, "payout_business_number"),
        ({"payout_method": "paybill", "payout_business_number": "522522", "payout_account_reference": "<script>"}, "payout_account_reference"),
        ({"payout_method": "bank"}, "payout_method"),
        ({"payout_phone_number": "0712345678"}, "payout_method"),
    ],
)
def test_a_bad_destination_is_a_field_error_and_changes_nothing(body, field):
    owner = OwnerFactory()
    response = api(owner).patch("/api/me/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    owner.refresh_from_db()
    assert (owner.payout_phone_number, owner.payout_business_number) == ("", "")


def test_a_guest_has_no_payouts_and_sms_still_works_alone():
    guest = UserFactory()
    refused = api(guest).patch("/api/me/", {"payout_method": "mpesa", "payout_phone_number": "0712345678"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_a_host")
    assert api(guest).patch("/api/me/", {"sms_notifications": False}, format="json").json()["sms_notifications"] is False
    assert api(guest).patch("/api/me/", {}, format="json").status_code == 400


def test_the_account_page_form_for_owners(client):
    owner = OwnerFactory()
    client.force_login(owner)
    page = client.get(reverse("accounts:account")).content.decode()
    assert "Where your payouts go" in page
    assert "No payout destination yet" in page

    bad = client.post(reverse("accounts:account_payout"), {"payout_method": "till", "payout_business_number": "12"})
    assert bad.status_code == 400
    assert "Enter the till number: 5 to 7 digits." in bad.content.decode()

    done = client.post(
        reverse("accounts:account_payout"), {"payout_method": "mpesa", "payout_phone_number": "0722 000 111"}, follow=True
    )
    html = done.content.decode()
    assert "Payouts will go to M-Pesa 254722000111." in html
    assert 'data-payout-destination>M-Pesa 254722000111<' in html
    assert 'value="0722000111"' in html  # shown back the way Kenyans type it
    owner.refresh_from_db()
    assert owner.payout_phone_number == "254722000111"


def test_guests_see_no_payout_section_and_cannot_post_one(client):
    guest = UserFactory()
    client.force_login(guest)
    assert "Where your payouts go" not in client.get(reverse("accounts:account")).content.decode()
    response = client.post(reverse("accounts:account_payout"), {"payout_method": "mpesa", "payout_phone_number": "0712345678"})
    assert response.status_code == 404
    guest.refresh_from_db()
    assert guest.payout_phone_number == ""


def test_a_form_encoded_payout_update_leaves_sms_alone():
    owner = OwnerFactory(sms_notifications=True)
    response = api(owner).patch(
        "/api/me/", {"payout_method": "till", "payout_business_number": "54321"}, format="multipart"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["sms_notifications"], response.json()["payout_business_number"]) == (True, "54321")
    assert api(owner).patch("/api/me/", {}, format="multipart").status_code == 400
