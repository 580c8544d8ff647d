"""Only public files are served from MEDIA_URL; documents go through Wagtail's serve view.

Wagtail stores documents under MEDIA_ROOT/documents/. Served from /media/ by path, a
document in a login-restricted collection was readable by anyone who knew (or guessed)
its file name. Only images (originals and renditions, shown on the public site) are
served from /media/; a document is served by /documents/<id>/<name>, which checks the
collection's privacy.
"""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from wagtail.documents import get_document_model
from wagtail.models import BaseViewRestriction, Collection, CollectionViewRestriction

from tests.factories import StaffFactory, make_image

pytestmark = pytest.mark.django_db

SECRET = b"Gate code 4471, alarm 0000. Staff only."


def _document(*, title, collection=None, content=SECRET, name="house-rules.txt"):
    document = get_document_model()(title=title, collection=collection or Collection.get_first_root_node())
    document.file.save(name, ContentFile(content), save=False)
    document.save()
    return document


def _media_url(document) -> str:
    return "/media/" + document.file.name


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def private_collection(site_tree):
    root = Collection.get_first_root_node()
    collection = root.add_child(name="Staff handbook")
    CollectionViewRestriction.objects.create(collection=collection, restriction_type=BaseViewRestriction.LOGIN)
    return collection


def test_document_in_login_restricted_collection_is_not_served_from_media_url(client, private_collection):
    document = _document(title="Gate codes", collection=private_collection)
    assert document.file.name.startswith("documents/")

    response = client.get(_media_url(document))
    assert response.status_code == 404
    assert SECRET not in _body(response)


def test_document_in_login_restricted_collection_needs_a_login_at_its_serve_url(client, private_collection):
    document = _document(title="Gate codes", collection=private_collection)
    url = reverse("wagtaildocs_serve", args=(document.pk, document.filename))

    response = client.get(url)
    assert response.status_code == 302
    assert "login" in response["Location"]

    client.force_login(StaffFactory())
    response = client.get(url)
    assert response.status_code == 200
    assert _body(response) == SECRET


def test_public_document_is_still_downloadable_through_its_serve_url(client, site_tree):
    document = _document(title="Directions", content=b"Turn left at the baobab.", name="directions.txt")
    response = client.get(reverse("wagtaildocs_serve", args=(document.pk, document.filename)))
    assert response.status_code == 200
    assert _body(response) == b"Turn left at the baobab."
    # ...but not from MEDIA_URL either: documents have exactly one door.
    assert client.get(_media_url(document)).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "{doc}",
        "images/../{doc}",
        "original_images/../{doc}",
        "images/%2e%2e/{doc}",
        "images/..%2f{doc}",
        "./{doc}",
        "/{doc}",
        "D{doc_tail}",
        "images",
        "",
    ],
)
def test_media_route_serves_nothing_outside_the_image_folders(client, site_tree, path):
    name = _document(title="Gate codes").file.name
    response = client.get("/media/" + path.format(doc=name, doc_tail=name[1:]))
    assert response.status_code == 404
    assert SECRET not in _body(response)


def test_images_and_their_renditions_are_still_served_from_media_url(client, site_tree):
    image = make_image(title="Veranda")
    response = client.get("/media/" + image.file.name)
    assert response.status_code == 200
    assert image.file.name.startswith("original_images/")

    rendition = image.get_rendition("fill-20x20")
    response = client.get(rendition.url)
    assert response.status_code == 200
    assert rendition.file.name.startswith("images/")


def test_documents_are_served_by_wagtails_view_not_by_redirect_to_the_file(settings):
    assert settings.WAGTAILDOCS_SERVE_METHOD == "serve_view"
