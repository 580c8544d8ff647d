"""core.authentication.TokenAuthentication: DRF's token rules, one hand-written lookup."""

import pytest
from django.conf import settings
from rest_framework import exceptions
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.authentication import TokenAuthentication
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_api_authenticates_with_it():
    assert "core.authentication.TokenAuthentication" in settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    assert "rest_framework.authentication.TokenAuthentication" not in settings.REST_FRAMEWORK[
        "DEFAULT_AUTHENTICATION_CLASSES"
    ]


def test_a_key_gives_its_user_with_every_field_and_its_token():
    user = UserFactory(phone_number="+254712345678", credit_score=71)
    token = Token.objects.create(user=user)

    found, auth = TokenAuthentication().authenticate_credentials(token.key)

    expected = type(user).objects.get(pk=user.pk)
    assert found == expected
    for field in type(user)._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert (auth.key, auth.user_id, auth.created) == (token.key, user.pk, token.created)
    assert auth.user is found and not auth._state.adding


def test_an_unknown_key_is_refused():
    Token.objects.create(user=UserFactory())

    with pytest.raises(exceptions.AuthenticationFailed, match="Invalid token."):
        TokenAuthentication().authenticate_credentials("0" * 40)


def test_an_inactive_users_key_is_refused():
    token = Token.objects.create(user=UserFactory(is_active=False))

    with pytest.raises(exceptions.AuthenticationFailed, match="User inactive or deleted."):
        TokenAuthentication().authenticate_credentials(token.key)


def test_over_http_a_good_key_is_200_and_a_bad_one_401_with_detail_and_code():
    user = UserFactory()
    token = Token.objects.create(user=user)
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/bookings/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    response = client.get("/api/bookings/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert set(response.json()) >= {"detail", "code"}
