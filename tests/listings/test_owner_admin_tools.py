"""Owners' shortcuts in the admin: "Add a property" on the dashboard, several photos uploaded at
once into a listing's gallery (owner-scoped, refusing what is not a photo), the location map on
the listing editor, and blocked dates in plain words."""

import datetime as dt
import io
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from wagtail.images import get_image_model
from wagtail.models import GroupCollectionPermission

from accounts.owner_media import owner_media_group_name
from listings.date_words import blocked_dates_in_words, ordinal
from listings.gallery_uploads import MAX_FILES_PER_UPLOAD
from listings.models import BlockedPeriod, PropertyPage
from tests.factories import OwnerFactory, StaffFactory, UserFactory, future_date, make_image, make_property

Image = get_image_model()


def png(name="photo.png", size=(40, 30), color=(200, 80, 40)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def jpeg(name="photo.jpg", size=(40, 30)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (10, 120, 60)).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def owners_collection(owner):
    return GroupCollectionPermission.objects.filter(group__name=owner_media_group_name(owner)).first().collection


def upload_url(page):
    return reverse("listings_gallery_upload", args=(page.pk,))


# --- blocked dates in words (a pure function) ----------------------------------------------------


@pytest.mark.parametrize(
    "start, end, this_year, words",
    [
        ((2026, 12, 10), (2026, 12, 13), 2026, "from 10 Dec to 13 Dec, the 13th is free again"),
        # the year is said when it is not the current one
        ((2027, 12, 10), (2027, 12, 13), 2026, "from 10 Dec to 13 Dec 2027, the 13th is free again"),
        # across a month
        ((2026, 11, 28), (2026, 12, 2), 2026, "from 28 Nov to 2 Dec, the 2nd is free again"),
        # across a New Year: both years, whatever the current one
        ((2026, 12, 30), (2027, 1, 3), 2026, "from 30 Dec 2026 to 3 Jan 2027, the 3rd is free again"),
        ((2026, 12, 30), (2027, 1, 3), 2027, "from 30 Dec 2026 to 3 Jan 2027, the 3rd is free again"),
        # one night
        ((2026, 3, 21), (2026, 3, 22), 2026, "the night of 21 Mar only, the 22nd is free again"),
        ((2028, 3, 21), (2028, 3, 22), 2026, "the night of 21 Mar 2028 only, the 22nd is free again"),
        # one night across a New Year
        ((2026, 12, 31), (2027, 1, 1), 2026, "from 31 Dec 2026 to 1 Jan 2027, the 1st is free again"),
        # leap day, and the teens take "th"
        ((2028, 2, 28), (2028, 3, 1), 2028, "from 28 Feb to 1 Mar, the 1st is free again"),
        ((2026, 6, 1), (2026, 6, 11), 2026, "from 1 Jun to 11 Jun, the 11th is free again"),
    ],
)
def test_blocked_dates_in_words(start, end, this_year, words):
    assert blocked_dates_in_words(dt.date(*start), dt.date(*end), this_year=this_year) == words


@pytest.mark.parametrize(
    "day, text",
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st"),
     (22, "22nd"), (23, "23rd"), (30, "30th"), (31, "31st")],
)
def test_ordinal(day, text):
    assert ordinal(day) == text


@pytest.mark.parametrize("end", [(2026, 12, 10), (2026, 12, 9)])
def test_an_empty_or_backwards_range_is_refused(end):
    with pytest.raises(ValueError):
        blocked_dates_in_words(dt.date(2026, 12, 10), dt.date(*end), this_year=2026)


@pytest.mark.django_db
def test_blocked_dates_list_and_inspect_say_which_night_is_free_again(client, site_tree):
    owner = OwnerFactory()
    stay = make_property(owner=owner, index=site_tree, title="Amina's cottage")
    start = future_date(40)
    period = BlockedPeriod.objects.create(property=stay, start=start, end=start + dt.timedelta(days=3))
    words = blocked_dates_in_words(period.start, period.end, this_year=dt.date.today().year)
    sentence = words[0].upper() + words[1:]
    client.force_login(owner)

    listing = client.get(reverse(BlockedPeriod.snippet_viewset.get_url_name("list")))
    assert listing.status_code == 200
    assert sentence in listing.content.decode()
    inspect = client.get(reverse(BlockedPeriod.snippet_viewset.get_url_name("inspect"), args=(period.pk,)))
    assert inspect.status_code == 200
    assert sentence in inspect.content.decode()
    assert f"the {ordinal(period.end.day)} is free again" in sentence


# --- "Add a property" on the dashboard -----------------------------------------------------------


@pytest.mark.django_db
def test_owner_dashboard_offers_add_a_property(client, site_tree):
    owner = OwnerFactory()
    make_property(owner=owner, index=site_tree)
    make_property(index=site_tree)  # another owner's: not counted as theirs
    client.force_login(owner)
    response = client.get("/admin/")
    html = response.content.decode()
    add_url = f"/admin/pages/add/listings/propertypage/{site_tree.pk}/"
    assert response.status_code == 200
    assert "data-add-property" in html and f'href="{add_url}"' in html
    assert "You have 1 property on Nexus." in html
    # the button leads to a working editor for a new listing
    assert client.get(add_url).status_code == 200


@pytest.mark.django_db
def test_staff_see_add_a_property_and_the_site_count(client, site_tree):
    make_property(index=site_tree)
    make_property(index=site_tree)
    client.force_login(StaffFactory())
    html = client.get("/admin/").content.decode()
    assert f'href="/admin/pages/add/listings/propertypage/{site_tree.pk}/"' in html
    assert "2 properties on Nexus." in html


@pytest.mark.django_db
def test_a_guest_never_reaches_the_dashboard(client, site_tree):
    client.force_login(UserFactory())
    response = client.get("/admin/")
    assert response.status_code == 302 and "data-add-property" not in response.content.decode()


# --- several photos at once -----------------------------------------------------------------------


class _EditorForm(HTMLParser):
    """What a browser would submit from the listing editor's form, without its scripts: the
    fields other helpers add to the page keep working here without listing them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.data: dict[str, list[str]] = {}
        self._in_form = self._template = 0
        self._select = self._textarea = None
        self._option_value = None
        self._text = ""

    def _add(self, name, value):
        if name and "__prefix__" not in name:
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "page-edit-form":
            self._in_form = 1
        if not self._in_form:
            return
        if tag == "template":
            self._template += 1
        if self._template:
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._add(a.get("name"), a.get("value", "on" if kind in ("checkbox", "radio") else ""))
        elif tag == "select":
            self._select = {"name": a.get("name"), "chosen": [], "first": None}
        elif tag == "option" and self._select is not None:
            self._option_value = a.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = self._option_value
            if "selected" in a:
                self._select["chosen"].append(self._option_value)
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_endtag(self, tag):
        if not self._in_form:
            return
        if tag == "template":
            self._template -= 1
        elif self._template:
            return
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"] or ([self._select["first"]] if self._select["first"] is not None else [])
            for value in chosen:
                self._add(self._select["name"], value)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea, self._text)
            self._textarea = None
        elif tag == "form":
            self._in_form = 0

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data


def editor_form_data(client, page) -> dict:
    parser = _EditorForm()
    response = client.get(f"/admin/pages/{page.pk}/edit/")
    assert response.status_code == 200
    parser.feed(response.content.decode())
    return {name: values if len(values) > 1 else values[0] for name, values in parser.data.items()}


@pytest.fixture
def amina(site_tree):
    owner = OwnerFactory(name="Amina")
    return owner, make_property(owner=owner, index=site_tree, title="Amina's cottage")


@pytest.mark.django_db
def test_three_photos_at_once_become_three_gallery_rows(client, amina):
    owner, stay = amina
    client.force_login(owner)
    response = client.post(
        upload_url(stay), {"files": [png("veranda.png"), jpeg("kitchen.jpg"), png("garden-view.png")]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["refused"] == []
    assert [image["title"] for image in body["images"]] == ["veranda", "kitchen", "garden-view"]
    assert [image["filename"] for image in body["images"]] == ["veranda.png", "kitchen.jpg", "garden-view.png"]
    images = Image.objects.filter(pk__in=[image["id"] for image in body["images"]])
    assert images.count() == 3
    assert {image.collection_id for image in images} == {owners_collection(owner).pk}
    assert {image.uploaded_by_user_id for image in images} == {owner.pk}
    first = body["images"][0]
    assert first["preview"]["url"] and first["preview"]["width"] <= 165
    assert first["edit_url"] == reverse("wagtailimages:edit", args=(first["id"],))

    # What the editor's script does next: one gallery row per photo, then publish.
    data = editor_form_data(client, stay)
    assert data["gallery_images-TOTAL_FORMS"] == "0"
    data["gallery_images-TOTAL_FORMS"] = "3"
    for n, image in enumerate(body["images"]):
        data[f"gallery_images-{n}-image"] = str(image["id"])
        data[f"gallery_images-{n}-caption"] = ""
        data[f"gallery_images-{n}-id"] = ""
        data[f"gallery_images-{n}-ORDER"] = str(n + 1)
    data["action-publish"] = "action-publish"
    saved = client.post(f"/admin/pages/{stay.pk}/edit/", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    stay = PropertyPage.objects.get(pk=stay.pk)
    assert [row.image_id for row in stay.gallery_images.order_by("sort_order")] == [i["id"] for i in body["images"]]
    assert stay.live and not stay.has_unpublished_changes


@pytest.mark.django_db
def test_another_owners_listing_is_a_404_and_nothing_is_stored(client, amina):
    _, stay = amina
    intruder = OwnerFactory()
    client.force_login(intruder)
    before = Image.objects.count()
    response = client.post(upload_url(stay), {"files": [png()]})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    new_property = reverse("listings_gallery_upload_new", args=(stay.pk,))  # a listing, not an index
    assert client.post(new_property, {"files": [png()]}).status_code == 404
    assert client.post(reverse("listings_gallery_upload", args=(999999,)), {"files": [png()]}).status_code == 404
    beyond_64_bits = "/admin/listings/properties/99999999999999999999999/photos/"
    assert client.post(beyond_64_bits, {"files": [png()]}).status_code == 404
    assert client.post(reverse("listings_gallery_upload_new", args=(2**64,)), {"files": [png()]}).status_code == 404
    assert Image.objects.count() == before


@pytest.mark.django_db
def test_guests_and_strangers_cannot_upload(client, amina):
    _, stay = amina
    before = Image.objects.count()
    assert client.post(upload_url(stay), {"files": [png()]}).status_code == 302  # to the sign-in page
    client.force_login(UserFactory())
    assert client.post(upload_url(stay), {"files": [png()]}).status_code in (302, 403)
    assert Image.objects.count() == before


@pytest.mark.django_db
def test_an_upload_without_the_csrf_token_is_refused(amina):
    """Another site cannot make a signed-in owner's browser upload photos."""
    from django.test import Client

    owner, stay = amina
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    before = Image.objects.count()
    assert browser.post(upload_url(stay), {"files": [png()]}).status_code == 403
    assert Image.objects.count() == before


@pytest.mark.django_db
def test_staff_upload_into_the_owners_collection(client, amina):
    owner, stay = amina
    client.force_login(StaffFactory())
    response = client.post(upload_url(stay), {"files": [png()]})
    assert response.status_code == 201
    image = Image.objects.get(pk=response.json()["images"][0]["id"])
    assert image.collection_id == owners_collection(owner).pk


@pytest.mark.django_db
def test_photos_for_a_listing_not_yet_created(client, site_tree):
    owner = OwnerFactory()
    client.force_login(owner)
    response = client.post(reverse("listings_gallery_upload_new", args=(site_tree.pk,)), {"files": [png(), png()]})
    assert response.status_code == 201
    assert len(response.json()["images"]) == 2
    assert Image.objects.filter(collection=owners_collection(owner)).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "upload, reason",
    [
        (SimpleUploadedFile("x.html", b"<script>alert(1)</script>", content_type="text/html"),
         "Not a supported image format"),
        (SimpleUploadedFile("notes.jpg", b"this is not a photo at all", content_type="image/jpeg"),
         "Upload a valid image"),
        # a PNG named .jpg: the content decides, not the name
        (png("disguised.jpg"), "The extension does not match the file format"),
        (SimpleUploadedFile("photo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml"),
         "Not a supported image format"),
    ],
    ids=["html", "text-named-jpg", "png-named-jpg", "svg"],
)
def test_what_is_not_a_photo_is_refused_with_a_reason(client, amina, upload, reason):
    owner, stay = amina
    client.force_login(owner)
    before = Image.objects.count()
    response = client.post(upload_url(stay), {"files": [upload]})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_image"
    assert body["refused"][0]["filename"] == upload.name
    assert reason in " ".join(body["refused"][0]["messages"]), body
    assert reason in body["detail"]
    assert Image.objects.count() == before


@pytest.mark.django_db
def test_oversized_and_too_many_pixels_are_refused(client, amina, settings):
    owner, stay = amina
    client.force_login(owner)
    settings.WAGTAILIMAGES_MAX_UPLOAD_SIZE = 2_000
    # noise-like pixels do not compress below the limit
    noise = PILImage.frombytes("RGB", (300, 300), bytes((i * 7919) % 251 for i in range(300 * 300 * 3)))
    buffer = io.BytesIO()
    noise.save(buffer, format="PNG")
    big = SimpleUploadedFile("big.png", buffer.getvalue(), content_type="image/png")
    assert big.size > 2_000
    response = client.post(upload_url(stay), {"files": [big, png("small.png", size=(8, 8))]})
    assert response.status_code == 201
    body = response.json()
    assert [image["filename"] for image in body["images"]] == ["small.png"]
    assert body["refused"][0]["filename"] == "big.png"
    assert "This file is too big" in body["refused"][0]["messages"][0]

    settings.WAGTAILIMAGES_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
    settings.WAGTAILIMAGES_MAX_IMAGE_PIXELS = 100
    response = client.post(upload_url(stay), {"files": [png("wide.png", size=(20, 20))]})
    assert response.status_code == 400
    assert "too many pixels" in response.json()["refused"][0]["messages"][0]


@pytest.mark.django_db
def test_one_bad_file_does_not_stop_the_good_ones(client, amina):
    owner, stay = amina
    client.force_login(owner)
    response = client.post(
        upload_url(stay),
        {"files": [png("a.png"), SimpleUploadedFile("x.html", b"<p>hi</p>", content_type="text/html"), png("b.png")]},
    )
    assert response.status_code == 201
    body = response.json()
    assert [image["title"] for image in body["images"]] == ["a", "b"]
    assert [refusal["filename"] for refusal in body["refused"]] == ["x.html"]


@pytest.mark.django_db
def test_no_files_or_too_many_files_is_a_400(client, amina):
    owner, stay = amina
    client.force_login(owner)
    empty = client.post(upload_url(stay), {})
    assert (empty.status_code, empty.json()["code"]) == (400, "no_files")
    many = client.post(upload_url(stay), {"files": [png(f"p{n}.png") for n in range(MAX_FILES_PER_UPLOAD + 1)]})
    assert (many.status_code, many.json()["code"]) == (400, "too_many_files")
    assert client.get(upload_url(stay)).status_code == 405


@pytest.mark.django_db
def test_a_request_bigger_than_ten_photos_at_the_limit_is_refused_unread(client, amina, settings):
    owner, stay = amina
    client.force_login(owner)
    settings.WAGTAILIMAGES_MAX_UPLOAD_SIZE = 100  # ten of them and the 1 MB of slack: about 1 MB
    huge = SimpleUploadedFile("huge.png", b"0" * 1_200_000, content_type="image/png")
    response = client.post(upload_url(stay), {"files": [huge]})
    assert (response.status_code, response.json()["code"]) == (400, "upload_too_large")


@pytest.mark.django_db
def test_a_hand_made_gallery_row_naming_another_owners_photo_is_still_refused(client, amina):
    """The drop zone adds no way around the gallery form's own check."""
    owner, stay = amina
    others_photo = make_image(title="Someone else's")
    others_photo.collection = owners_collection(OwnerFactory())
    others_photo.save()
    client.force_login(owner)
    data = editor_form_data(client, stay)
    data.update(
        {
            "gallery_images-TOTAL_FORMS": "1",
            "gallery_images-0-image": str(others_photo.pk),
            "gallery_images-0-caption": "",
            "gallery_images-0-id": "",
            "gallery_images-0-ORDER": "1",
            "action-publish": "action-publish",
        }
    )
    response = client.post(f"/admin/pages/{stay.pk}/edit/", data)
    assert response.status_code == 200  # the form again, with the error
    assert not stay.gallery_images.exists()


# --- the editor carries the map and the drop zone's script ----------------------------------------


@pytest.mark.django_db
def test_listing_editor_has_the_map_and_the_drop_zone_script(client, amina):
    owner, stay = amina
    client.force_login(owner)
    html = client.get(f"/admin/pages/{stay.pk}/edit/").content.decode()
    assert 'data-location-map' in html
    assert 'data-latitude-input="id_latitude"' in html and 'data-longitude-input="id_longitude"' in html
    assert 'name="latitude"' in html and 'name="longitude"' in html  # still typed by hand
    assert "vendor/leaflet/leaflet.js" in html and "vendor/leaflet/leaflet.css" in html
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html
    assert "listings/admin/gallery-upload.js" in html and 'id="nexus-gallery-upload-config"' in html
    # and the new-listing editor too
    add = client.get(f"/admin/pages/add/listings/propertypage/{stay.get_parent().pk}/").content.decode()
    assert "data-location-map" in add and "nexus-gallery-upload-config" in add


@pytest.mark.django_db
def test_coordinates_typed_or_placed_are_saved(client, amina):
    owner, stay = amina
    client.force_login(owner)
    data = editor_form_data(client, stay)
    data.update({"latitude": "-4.279600", "longitude": "39.595000", "action-publish": "action-publish"})
    assert client.post(f"/admin/pages/{stay.pk}/edit/", data).status_code == 302
    stay.refresh_from_db()
    assert (str(stay.latitude), str(stay.longitude)) == ("-4.279600", "39.595000")
