"""MEDIA_STORAGE=s3 against a real S3 API (moto in server mode on loopback, tests/s3.py).

- A listing photo uploaded in the admin, and its renditions, live in the public bucket: after a
  "restart" with an empty local disk and empty caches, the public pages still show every photo,
  and each link answers 200 with image bytes over real HTTP from the bucket.
- Documents share the public bucket but are not anonymously readable there (the policy opens
  only original_images/ and images/); Wagtail's serve view still streams them.
- An ID photo uploaded at sign-up is in the private bucket and nowhere else; an anonymous GET
  of its object is refused; the checking view streams it to the user and staff only.
"""

import io
import re
from html import unescape

import pytest
import requests
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.images import ImageFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Collection

from accounts.models import User
from accounts.owner_media import owner_collection_ensure
from accounts.storage import private_storage
from listings.models import PropertyGalleryImage
from tests.factories import StaffFactory, UserFactory, make_property

pytestmark = pytest.mark.django_db


def _png(size=(120, 90), color=(200, 90, 20)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _files_under(path) -> list:
    return [p for p in path.rglob("*") if p.is_file()] if path.exists() else []


def _image_urls(html: str) -> set[str]:
    """Every image link a page shows: src and each srcset candidate."""
    urls = set(re.findall(r'<img[^>]*?\ssrc="([^"]+)"', html))
    for srcset in re.findall(r'\ssrcset="([^"]+)"', html):
        urls.update(candidate.strip().split(" ")[0] for candidate in unescape(srcset).split(",") if candidate.strip())
    return {unescape(url) for url in urls}


def _restart_with_an_empty_disk(settings, tmp_path):
    """What a new deploy on Render looks like: a fresh disk and cold caches; only the
    database and the buckets carry over."""
    settings.MEDIA_ROOT = tmp_path / "fresh-media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "fresh-private"
    for cache in caches.all():
        cache.clear()


def _upload_in_admin(client, owner, title: str) -> object:
    client.force_login(owner)
    response = client.post(
        reverse("wagtailimages:add"),
        {"title": title, "file": SimpleUploadedFile("sunset-veranda.png", _png(), "image/png")},
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    return get_image_model().objects.get(title=title)


def test_listing_photos_and_renditions_survive_a_restart_with_an_empty_disk(client, s3_media, settings, tmp_path):
    first_media_root = settings.MEDIA_ROOT
    owner = UserFactory(role="owner")
    owner_collection_ensure(owner)
    image = _upload_in_admin(client, owner, "Veranda at sunset")
    assert image.collection == owner_collection_ensure(owner)
    assert image.file.name in s3_media.keys(s3_media.public_bucket)

    page = make_property(owner=owner, title="Diani beach house")
    page.gallery_images = [PropertyGalleryImage(image=image, caption="Veranda", sort_order=0)]
    page.save_revision(user=owner).publish()

    client.logout()
    response = client.get(page.url)
    assert response.status_code == 200
    first_urls = _image_urls(response.content.decode())
    assert first_urls, "the property page shows no photo"
    rendition_keys = {key for key in s3_media.keys(s3_media.public_bucket) if key.startswith("images/")}
    assert len(rendition_keys) >= 3  # the gallery's srcset widths, generated into the bucket
    assert _files_under(first_media_root) == []  # nothing written to the local disk

    _restart_with_an_empty_disk(settings, tmp_path)
    pages = {page.url: client.get(page.url), "index": client.get(page.get_parent().url)}
    shown = set()
    for name, response in pages.items():
        assert response.status_code == 200, name
        shown |= _image_urls(response.content.decode())
    assert first_urls <= shown
    assert any("fill-480x320" in url for url in shown)
    for url in shown:
        assert url.startswith(f"{s3_media.endpoint}/{s3_media.public_bucket}/"), url
        fetched = requests.get(url, timeout=10)  # anonymous, straight from the bucket
        assert fetched.status_code == 200, url
        with PILImage.open(io.BytesIO(fetched.content)) as picture:
            picture.verify()
    original = requests.get(image.file.url, timeout=10)
    assert original.status_code == 200 and original.content == _png()
    assert _files_under(settings.MEDIA_ROOT) == []
    # The links are plain (no signature to expire in a cached page).
    assert all("X-Amz-" not in url and "Signature" not in url for url in shown)


def test_rendition_made_after_the_restart_is_written_to_the_bucket(s3_media, settings, tmp_path):
    image = get_image_model()(title="Pool", collection=Collection.get_first_root_node())
    image.file = ImageFile(io.BytesIO(_png(color=(10, 40, 220))), name="pool.png")
    image.save()
    _restart_with_an_empty_disk(settings, tmp_path)

    rendition = image.get_rendition("fill-60x40")
    assert rendition.file.name in s3_media.keys(s3_media.public_bucket)
    fetched = requests.get(rendition.url, timeout=10)
    assert fetched.status_code == 200
    with PILImage.open(io.BytesIO(fetched.content)) as picture:
        assert picture.size == (60, 40)


def test_documents_are_not_anonymously_readable_in_the_bucket_but_stream_through_their_view(client, s3_media):
    document = get_document_model()(title="House rules", collection=Collection.get_first_root_node())
    document.file.save("house-rules.txt", ContentFile(b"Quiet after 22:00."), save=False)
    document.save()
    assert document.file.name in s3_media.keys(s3_media.public_bucket)

    direct = requests.get(s3_media.object_url(s3_media.public_bucket, document.file.name), timeout=10)
    assert direct.status_code == 403
    assert b"Quiet after" not in direct.content

    response = client.get(reverse("wagtaildocs_serve", args=(document.pk, document.filename)))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"Quiet after 22:00."


def test_id_photo_goes_to_the_private_bucket_and_only_the_checking_view_serves_it(client, s3_media, settings):
    photo = _png(size=(64, 48), color=(5, 5, 5))
    response = client.post(
        "/accounts/signup/",
        {
            "name": "Wanjiru Kamau",
            "email": "wanjiru@example.com",
            "phone_number": "0712345670",
            "password": "Nyeri-Kahawa-2026",
            "id_photo": SimpleUploadedFile("my-id.png", photo, "image/png"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    user = User.objects.get(email="wanjiru@example.com")
    name = user.id_photo.name
    assert name.startswith("id-photos/")

    assert name in s3_media.keys(s3_media.private_bucket)
    assert not any(key.startswith("id-photos/") for key in s3_media.keys(s3_media.public_bucket))
    assert _files_under(settings.PRIVATE_MEDIA_ROOT) == []
    stored = s3_media.client.get_object(Bucket=s3_media.private_bucket, Key=name)["Body"].read()

    # Anyone who learns the object's address gets nothing from the bucket itself...
    anonymous = requests.get(s3_media.object_url(s3_media.private_bucket, name), timeout=10)
    assert anonymous.status_code == 403
    assert stored not in anonymous.content
    # ...and the storage never hands out a link, signed or not.
    with pytest.raises(ValueError):
        private_storage.url(name)
    with pytest.raises(ValueError):
        user.id_photo.url

    url = reverse("accounts:id_photo", args=[user.pk])
    for viewer in (user, StaffFactory()):
        client.force_login(viewer)
        served = client.get(url)
        assert served.status_code == 200
        assert served["Content-Type"] == "image/png"
        assert "Location" not in served  # streamed, not a redirect to the bucket
        assert b"".join(served.streaming_content) == stored

    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code in (302, 403, 404)
