import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from tests.accounts.test_apis import png_bytes
from tests.factories import DEFAULT_PASSWORD, OwnerFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_page_creates_account_logs_in_and_returns_to_next(client, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    response = client.post(
        reverse("accounts:signup"),
        {
            "name": "Achieng Otieno",
            "email": "achieng@example.com",
            "phone_number": "0712 345 678",
            "password": "Mombasa-Raha-2026",
            "id_photo": SimpleUploadedFile("id.png", png_bytes(), content_type="image/png"),
            "next": "/stays/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/stays/"
    user = User.objects.get(email="achieng@example.com")
    assert user.id_photo
    assert client.session["_auth_user_id"] == str(user.pk)


def test_signup_page_shows_field_errors(client):
    response = client.post(reverse("accounts:signup"), {"name": "", "email": "x", "phone_number": "123", "password": "1"})
    assert response.status_code == 200
    assert not User.objects.exists()
    form = response.context["form"]
    assert {"name", "email", "phone_number", "password"} <= set(form.errors)


def test_signup_refuses_offsite_next(client):
    response = client.post(
        reverse("accounts:signup"),
        {"name": "A B", "email": "ab@example.com", "phone_number": "0712345678", "password": "Mombasa-Raha-2026", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_page(client):
    UserFactory(email="baraka@example.com")
    bad = client.post(reverse("accounts:login"), {"email": "baraka@example.com", "password": "nope"})
    assert bad.status_code == 200
    assert "do not match" in bad.content.decode()
    good = client.post(reverse("accounts:login"), {"email": "baraka@example.com", "password": DEFAULT_PASSWORD})
    assert good.status_code == 302


def _user_with_photo(tmp_path, settings):
    settings.PRIVATE_MEDIA_ROOT = tmp_path
    user = UserFactory()
    user.id_photo.save("id.png", SimpleUploadedFile("id.png", png_bytes()), save=True)
    return user


def test_id_photo_served_to_self_and_staff_only(client, tmp_path, settings):
    subject = _user_with_photo(tmp_path, settings)
    url = reverse("accounts:id_photo", args=[subject.pk])

    assert client.get(url).status_code == 302  # anonymous -> login

    client.force_login(UserFactory())
    assert client.get(url).status_code == 404

    client.force_login(OwnerFactory())  # an owner whose property the subject never booked
    assert client.get(url).status_code == 404

    client.force_login(subject)
    own = client.get(url)
    assert own.status_code == 200
    assert own["Content-Type"] == "image/png"
    assert "no-store" in own["Cache-Control"]

    client.force_login(StaffFactory())
    assert client.get(url).status_code == 200


def test_id_photo_has_no_public_url(tmp_path, settings):
    subject = _user_with_photo(tmp_path, settings)
    with pytest.raises(ValueError):
        subject.id_photo.url


def test_id_photo_file_is_outside_the_public_media_root(client, tmp_path, settings):
    private_root = tmp_path / "private"
    settings.MEDIA_ROOT = tmp_path / "media"
    subject = _user_with_photo(private_root, settings)
    path = subject.id_photo.path
    assert path.startswith(str(private_root))
    assert not path.startswith(str(settings.MEDIA_ROOT))
    # Nothing under /media/ resolves to it either.
    assert client.get(f"{settings.MEDIA_URL}{subject.id_photo.name}").status_code == 404
