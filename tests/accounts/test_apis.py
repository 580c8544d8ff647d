import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"


def png_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def valid_payload(**overrides):
    data = {"name": "Achieng Otieno", "email": "achieng@example.com", "phone_number": "0712345678", "password": "Mombasa-Raha-2026"}
    data.update(overrides)
    return data


def test_register_creates_a_guest_with_normalised_phone(api_client):
    response = api_client.post(REGISTER, valid_payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "guest"
    assert body["credit_score"] == 50
    assert body["phone_number"] == "+254712345678"
    assert set(body) >= {"id", "name", "email", "phone_number", "role", "credit_score"}
    user = User.objects.get(email="achieng@example.com")
    assert user.check_password("Mombasa-Raha-2026")
    assert not user.is_staff


def test_register_multipart_with_id_photo_stores_it_privately_under_a_random_name(api_client, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    photo = SimpleUploadedFile("Achieng National ID.png", png_bytes(), content_type="image/png")
    response = api_client.post(REGISTER, {**valid_payload(), "id_photo": photo}, format="multipart")
    assert response.status_code == 201, response.content
    user = User.objects.get(email="achieng@example.com")
    assert user.id_photo.name.startswith("id-photos/")
    assert "Achieng" not in user.id_photo.name
    assert (tmp_path / user.id_photo.name).exists()
    assert str(settings.MEDIA_ROOT) not in str(tmp_path / user.id_photo.name)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"phone_number": "+14155552671"}, "phone_number"),
        ({"phone_number": "07123"}, "phone_number"),
        ({"phone_number": "not a phone"}, "phone_number"),
        ({"phone_number": "0202345678"}, "phone_number"),
        ({"email": "not-an-email"}, "email"),
        ({"name": ""}, "name"),
    ],
)
def test_register_bad_input_is_400_on_the_field_and_saves_nothing(api_client, overrides, field):
    response = api_client.post(REGISTER, valid_payload(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not User.objects.filter(email=valid_payload(**overrides)["email"]).exists()


def test_register_duplicate_email_case_insensitive(api_client):
    UserFactory(email="achieng@example.com")
    response = api_client.post(REGISTER, valid_payload(email="Achieng@Example.com"), format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    assert User.objects.filter(email__iexact="achieng@example.com").count() == 1


def test_register_rejects_non_image_id_photo(api_client):
    fake = SimpleUploadedFile("id.png", b"%PDF-1.4 not an image", content_type="image/png")
    response = api_client.post(REGISTER, {**valid_payload(), "id_photo": fake}, format="multipart")
    assert response.status_code == 400
    assert "id_photo" in response.json()
    assert not User.objects.exists()


def test_register_rejects_oversized_id_photo(api_client, settings):
    settings.ID_PHOTO_MAX_BYTES = 1000
    photo = SimpleUploadedFile("id.png", png_bytes((400, 400)) + b"\0" * 2000, content_type="image/png")
    response = api_client.post(REGISTER, {**valid_payload(), "id_photo": photo}, format="multipart")
    assert response.status_code == 400
    assert "id_photo" in response.json()
    assert not User.objects.exists()


def test_register_malformed_json_is_400(api_client):
    response = api_client.post(REGISTER, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_token_then_me(api_client):
    user = UserFactory(email="baraka@example.com")
    response = api_client.post("/api/auth/token/", {"email": "Baraka@example.com", "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api_client.get("/api/me/")
    assert me.status_code == 200
    assert me.json()["id"] == user.id
    assert me.json()["email"] == "baraka@example.com"


def test_token_wrong_credentials_is_400(api_client):
    UserFactory(email="baraka@example.com")
    response = api_client.post("/api/auth/token/", {"email": "baraka@example.com", "password": "wrong-password"}, format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_me_requires_authentication(api_client):
    response = api_client.get("/api/me/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_schema_and_docs_are_served(api_client):
    schema = api_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/auth/register/" in schema.content
    assert api_client.get("/api/docs/").status_code == 200
