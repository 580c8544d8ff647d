"""ID photos are private personal data: only real images are stored, never served as
anything but an image, and shown only to the user, staff and the owner who hosts them."""

import io
import struct
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin

from accounts.models import User
from accounts.storage import private_storage
from reservations.models import BookingGuest
from tests.factories import OwnerFactory, StaffFactory, UserFactory, future_date, make_booking, make_property

pytestmark = pytest.mark.django_db

REGISTER = "/api/auth/register/"
SIGNUP = "/accounts/signup/"
SCRIPT = b"<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path


# --- real images, built with Pillow ------------------------------------------------------


def png_with_script_text_chunk() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SCRIPT.decode())
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 40)).save(buffer, format="PNG", pnginfo=info)
    data = buffer.getvalue()
    assert SCRIPT in data  # the payload really is in the file as plain text
    return data


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched to claim width x height (CRC recomputed)."""
    buffer = io.BytesIO()
    Image.new("1", (1, 1)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    # 8-byte signature, then the IHDR chunk: length(4) type(4) data(13) crc(4).
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def jpeg_bytes(size=(40, 30), **save_args) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, format="JPEG", **save_args)
    return buffer.getvalue()


def jpeg_html_polyglot() -> bytes:
    return jpeg_bytes() + b"<html><body>" + SCRIPT + b"</body></html>"


def webp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 200)).save(buffer, format="WEBP")
    return buffer.getvalue()


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (40, 30)).save(buffer, format="GIF")
    return buffer.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body>" + SCRIPT + b"</body></html>"

REFUSED_UPLOADS = {
    "bomb_20000x20000": ("id.png", lambda: png_claiming(20_000, 20_000), "image/png"),
    "bomb_10000x10000": ("id.png", lambda: png_claiming(10_000, 10_000), "image/png"),
    "svg": ("id.svg", lambda: SVG, "image/svg+xml"),
    "html_named_jpg": ("photo.jpg", lambda: HTML, "image/jpeg"),
    "gif": ("id.gif", gif_bytes, "image/gif"),
}


def registration(**overrides) -> dict:
    data = {
        "name": "Achieng Otieno",
        "email": "achieng@example.com",
        "phone_number": "0712345678",
        "password": "Mombasa-Raha-2026",
    }
    data.update(overrides)
    return data


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def register_via_api(api_client, photo) -> User:
    response = api_client.post(REGISTER, {**registration(), "id_photo": photo}, format="multipart")
    assert response.status_code == 201, response.content
    return User.objects.get(email="achieng@example.com")


# --- items 1 and 5: what may be uploaded ------------------------------------------------


# Pillow warns about the 10000x10000 claim before refusing it; the warning is expected here.
refused_upload = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@refused_upload
@pytest.mark.parametrize("kind", REFUSED_UPLOADS)
def test_api_register_refuses_image_bombs_svg_html_and_gif_with_a_field_error(api_client, kind):
    name, make, content_type = REFUSED_UPLOADS[kind]
    response = api_client.post(
        REGISTER, {**registration(), "id_photo": upload(name, make(), content_type)}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert "id_photo" in response.json()
    assert not User.objects.exists()


@refused_upload
@pytest.mark.parametrize("kind", REFUSED_UPLOADS)
def test_signup_page_refuses_image_bombs_svg_html_and_gif_with_a_form_error(client, kind):
    name, make, content_type = REFUSED_UPLOADS[kind]
    response = client.post(SIGNUP, {**registration(), "id_photo": upload(name, make(), content_type)})
    assert response.status_code == 200
    assert "id_photo" in response.context["form"].errors
    assert not User.objects.exists()


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_image_bomb_is_a_field_error_even_when_pillow_warnings_are_errors(api_client):
    photo = upload("id.png", png_claiming(10_000, 10_000))
    response = api_client.post(REGISTER, {**registration(), "id_photo": photo}, format="multipart")
    assert response.status_code == 400
    assert "id_photo" in response.json()


def test_id_photo_larger_than_the_pixel_cap_is_refused(api_client, settings):
    settings.ID_PHOTO_MAX_PIXELS = 1000
    photo = upload("id.jpg", jpeg_bytes(size=(50, 50)), "image/jpeg")
    response = api_client.post(REGISTER, {**registration(), "id_photo": photo}, format="multipart")
    assert response.status_code == 400
    assert "id_photo" in response.json()


def test_id_photo_uploaded_as_html_is_stored_under_the_detected_format_without_the_script(api_client, tmp_path):
    user = register_via_api(api_client, upload("id.html", png_with_script_text_chunk(), "text/html"))
    assert user.id_photo.name.startswith("id-photos/")
    assert user.id_photo.name.endswith(".png")
    stored = (tmp_path / user.id_photo.name).read_bytes()
    assert b"<script" not in stored and b"tEXt" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (40, 30)


@pytest.mark.parametrize(
    "name, make, suffix",
    [
        ("photo.png", webp_bytes, ".webp"),  # the client's name lies about the format
        ("photo.webp", jpeg_bytes, ".jpg"),
        ("id", jpeg_bytes, ".jpg"),  # no suffix at all
    ],
)
def test_id_photo_name_comes_from_the_format_pillow_detected_not_the_client_name(api_client, name, make, suffix):
    user = register_via_api(api_client, upload(name, make(), "image/png"))
    assert user.id_photo.name.endswith(suffix)


def test_jpeg_with_an_html_polyglot_tail_is_stored_as_pixels_only(api_client, tmp_path):
    user = register_via_api(api_client, upload("id.jpg", jpeg_html_polyglot(), "image/jpeg"))
    assert user.id_photo.name.endswith(".jpg")
    stored = (tmp_path / user.id_photo.name).read_bytes()
    assert b"<html" not in stored and b"<script" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"


def test_id_photo_metadata_is_stripped_and_orientation_applied(client, tmp_path):
    exif = Image.Exif()
    exif[0x010E] = "<script>alert(1)</script>"  # ImageDescription
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    response = client.post(
        SIGNUP,
        {**registration(), "id_photo": upload("id.jpg", jpeg_bytes(size=(40, 30), exif=exif), "image/jpeg")},
    )
    assert response.status_code == 302
    user = User.objects.get(email="achieng@example.com")
    stored = (tmp_path / user.id_photo.name).read_bytes()
    assert b"<script" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (30, 40)
        assert not image.getexif()


# --- item 1: how it is served --------------------------------------------------------------


def test_id_photo_uploaded_as_html_is_never_served_as_html(client, api_client):
    user = register_via_api(api_client, upload("id.html", png_with_script_text_chunk(), "text/html"))
    client.force_login(user)
    response = client.get(reverse("accounts:id_photo", args=[user.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Disposition"].endswith('.png"')
    assert b"<script" not in b"".join(response.streaming_content)


def test_old_photo_stored_with_an_html_name_is_served_by_its_bytes_as_an_image(client):
    """Files stored before names came from the detected format keep their old names."""
    user = UserFactory()
    user.id_photo.name = private_storage.save("id-photos/legacy.html", ContentFile(png_with_script_text_chunk()))
    user.save(update_fields=["id_photo"])
    client.force_login(user)
    response = client.get(reverse("accounts:id_photo", args=[user.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]


def test_old_stored_file_that_is_not_an_image_is_never_served_inline(client):
    user = UserFactory()
    user.id_photo.name = private_storage.save("id-photos/legacy.jpg", ContentFile(HTML))
    user.save(update_fields=["id_photo"])
    client.force_login(user)
    response = client.get(reverse("accounts:id_photo", args=[user.pk]))
    if response.status_code == 200:
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
    else:
        assert response.status_code == 404


# --- item 2: who may see it ------------------------------------------------------------------


def give_id_photo(user: User) -> User:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="PNG")
    user.id_photo.save("id.png", ContentFile(buffer.getvalue()), save=True)
    return user


@pytest.fixture
def hosting(site_tree):
    owner = OwnerFactory()
    return {
        "owner": owner,
        "stay": make_property(owner=owner, index=site_tree),
        "other_stay": make_property(index=site_tree),
        "guest": give_id_photo(UserFactory()),
    }


def photo_status(client, viewer: User, subject: User) -> int:
    client.force_login(viewer)
    return client.get(reverse("accounts:id_photo", args=[subject.pk])).status_code


@pytest.mark.parametrize("status", ["PROCESSING", "CONFIRMED"])
def test_owner_sees_the_id_photo_of_a_guest_with_a_paid_active_booking_on_their_property(client, hosting, status):
    make_booking(property=hosting["stay"], guest=hosting["guest"], status=status, amount_paid=2000)
    assert photo_status(client, hosting["owner"], hosting["guest"]) == 200


def test_owner_sees_a_linked_co_guest_on_a_paid_booking_made_by_someone_else(client, hosting):
    booking = make_booking(property=hosting["stay"], status="CONFIRMED", amount_paid=10000)
    BookingGuest.objects.create(booking=booking, name="Co guest", user=hosting["guest"])
    assert photo_status(client, hosting["owner"], hosting["guest"]) == 200


def test_owner_cannot_see_the_id_photo_through_a_cancelled_booking(client, hosting):
    make_booking(property=hosting["stay"], guest=hosting["guest"], status="CANCELED", amount_paid=2000)
    assert photo_status(client, hosting["owner"], hosting["guest"]) == 404


def test_owner_cannot_see_the_id_photo_through_an_unpaid_pending_booking(client, hosting):
    make_booking(property=hosting["stay"], guest=hosting["guest"], status="PENDING", amount_paid=0)
    assert photo_status(client, hosting["owner"], hosting["guest"]) == 404


def test_owner_cannot_see_the_id_photo_through_a_booking_of_another_owners_property(client, hosting):
    make_booking(property=hosting["other_stay"], guest=hosting["guest"], status="CONFIRMED", amount_paid=10000)
    assert photo_status(client, hosting["owner"], hosting["guest"]) == 404


@pytest.mark.parametrize("status", ["CONFIRMED", "CANCELED"])
def test_owner_cannot_read_any_id_photo_by_adding_the_user_as_co_guest_on_their_own_booking(client, hosting, status):
    """The original attack: the owner books their own property and types the victim in as a co-guest."""
    booking = make_booking(property=hosting["stay"], guest=hosting["owner"], status=status, amount_paid=10000)
    guest = hosting["guest"]
    BookingGuest.objects.create(booking=booking, name=guest.name, email=guest.email, user=guest)
    assert photo_status(client, hosting["owner"], guest) == 404


def test_owner_cannot_see_a_strangers_id_photo(client, hosting):
    assert photo_status(client, hosting["owner"], hosting["guest"]) == 404


def test_user_themself_and_staff_see_the_id_photo(client, hosting):
    assert photo_status(client, hosting["guest"], hosting["guest"]) == 200
    assert photo_status(client, StaffFactory(), hosting["guest"]) == 200
    assert photo_status(client, UserFactory(), hosting["guest"]) == 404


def test_anonymous_gets_no_photo_bytes(client, hosting):
    response = client.get(reverse("accounts:id_photo", args=[hosting["guest"].pk]))
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert reverse("accounts:login") in response["Location"]
    assert not getattr(response, "streaming", False)
    assert b"PNG" not in response.content


def test_booking_inspect_links_the_id_photo_only_under_the_same_rule(client, hosting):
    owner, guest = hosting["owner"], hosting["guest"]
    own_booking = make_booking(
        property=hosting["stay"], guest=owner, status="CONFIRMED", amount_paid=10000, check_in=future_date(40)
    )
    BookingGuest.objects.create(booking=own_booking, name=guest.name, email=guest.email, user=guest)
    photo_url = reverse("accounts:id_photo", args=[guest.pk])
    inspect = reverse("wagtailsnippets_reservations_booking:inspect", args=[own_booking.pk])
    client.force_login(owner)
    response = client.get(inspect)
    assert response.status_code == 200
    assert photo_url not in response.content.decode()

    paid = make_booking(
        property=hosting["stay"], guest=guest, status="PROCESSING", amount_paid=2000, check_in=future_date(60)
    )
    response = client.get(reverse("wagtailsnippets_reservations_booking:inspect", args=[paid.pk]))
    assert photo_url in response.content.decode()
