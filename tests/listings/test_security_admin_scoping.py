"""Owner A never sees owner B's pages, drafts, photos, documents, blocked dates or history
anywhere in the Wagtail admin: search, choosers, per-page screens, reports, dashboard.
Staff still see everything. Each owner gets an image/document collection of their own."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.log_actions import log
from wagtail.models import Collection

from accounts.models import User
from accounts.owner_media import owner_collection_ensure
from accounts.services import user_set_role
from listings.models import BlockedPeriod, PropertyGalleryImage
from tests.factories import OwnerFactory, StaffFactory, UserFactory, future_date, make_image, make_property

pytestmark = pytest.mark.django_db

# Words that appear nowhere else on an admin page, so finding one means B leaked.
B_DRAFT = "Zebrafarm Draft Hideaway"
B_LIVE = "Zebrafarm Published Lodge"
B_PHOTO = "Zebrafarm gallery photo"
B_REASON = "Zebrafarm roof repairs"
A_LIVE = "Amina Garden Cottage"
A_PHOTO = "Amina veranda photo"
A_REASON = "Amina painting week"
A_DOC = "Amina house rules"
B_DOC = "Zebrafarm house rules"
B_SECRETS = ("Zebrafarm",)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _photo(owner, title):
    image = make_image(title=title)
    image.collection = owner_collection_ensure(owner)
    image.uploaded_by_user = owner
    image.save()
    log(instance=image, action="wagtail.create", user=owner)
    return image


def _document(owner, title):
    document = get_document_model()(title=title, collection=owner_collection_ensure(owner), uploaded_by_user=owner)
    document.file.save("rules.txt", ContentFile(b"House rules"), save=False)
    document.save()
    return document


@pytest.fixture
def world(site_tree):
    amina, kip = OwnerFactory(name="Amina Hassan"), OwnerFactory(name="Kiprono Langat")
    a_page = make_property(owner=amina, title=A_LIVE, index=site_tree)
    b_live = make_property(owner=kip, title=B_LIVE, index=site_tree)
    b_draft = make_property(owner=kip, title=B_DRAFT, index=site_tree, publish=False)
    b_draft.save_revision(user=kip)
    a_photos = [_photo(amina, f"{A_PHOTO} {n}") for n in (1, 2)]
    b_photo = _photo(kip, B_PHOTO)
    for page, image in ((a_page, a_photos[0]), (b_live, b_photo)):
        PropertyGalleryImage.objects.create(page=page, image=image, sort_order=0)
    documents = {owner.pk: _document(owner, title) for owner, title in ((amina, A_DOC), (kip, B_DOC))}
    for page, owner, reason in ((a_page, amina, A_REASON), (b_live, kip, B_REASON)):
        block = BlockedPeriod.objects.create(property=page, start=future_date(5), end=future_date(8), reason=reason)
        log(instance=block, action="wagtail.create", user=owner)
    return {
        "amina": amina,
        "kip": kip,
        "index": site_tree,
        "a_page": a_page,
        "b_live": b_live,
        "b_draft": b_draft,
        "a_photos": a_photos,
        "b_photo": b_photo,
        "a_doc": documents[amina.pk],
        "b_doc": documents[kip.pk],
    }


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def _assert_no_trace_of_b(response, url):
    refused_to_dashboard = response.status_code == 302 and response["Location"] == "/admin/"
    assert response.status_code in (200, 403, 404) or refused_to_dashboard, (url, response.status_code)
    html = _body(response)
    for secret in B_SECRETS:
        assert secret not in html, f"{url} shows {secret!r}"


def _as(client, user):
    client.force_login(user)
    return client


# --- pages: search, chooser, per-page screens --------------------------------------------------


def test_page_search_never_shows_another_owners_listings_or_drafts(client, world):
    _as(client, world["amina"])
    # Searched by words of B's titles that are not the secret word, which the page echoes.
    for url in ("/admin/pages/search/", "/admin/pages/search/?q=Hideaway", "/admin/pages/search/results/?q=Lodge"):
        _assert_no_trace_of_b(client.get(url), url)
    own = client.get("/admin/pages/search/?q=Amina")
    assert A_LIVE in own.content.decode()
    # The explorer's "search the whole tree" goes through the same rule.
    url = f"/admin/pages/{world['index'].pk}/?q=Hideaway&search_all=1"
    _assert_no_trace_of_b(client.get(url), url)


def test_page_chooser_never_offers_another_owners_listings(client, world):
    _as(client, world["amina"])
    for url in (
        "/admin/choose-page/",
        f"/admin/choose-page/{world['index'].pk}/",
        "/admin/choose-page/search/?q=Hideaway",
        f"/admin/choose-page/chosen-multiple/?id={world['b_draft'].pk}&id={world['b_live'].pk}",
    ):
        _assert_no_trace_of_b(client.get(url), url)
    browse = client.get(f"/admin/choose-page/{world['index'].pk}/").content.decode()
    assert A_LIVE in browse


@pytest.mark.parametrize(
    "path",
    [
        "/admin/pages/{pk}/",
        "/admin/choose-page/{pk}/",
        "/admin/pages/{pk}/edit/",
        "/admin/pages/{pk}/edit/preview/",
        "/admin/pages/{pk}/view_draft/",
        "/admin/pages/{pk}/history/",
        "/admin/pages/{pk}/revisions/compare/earliest...latest/",
        "/admin/pages/{pk}/revisions/{revision}/view/",
        "/admin/pages/{pk}/workflow/history/",
        "/admin/pages/{pk}/usage/",
        "/admin/pages/{pk}/copy/",
        "/admin/pages/{pk}/move/",
        "/admin/api/main/pages/{pk}/",
    ],
)
def test_every_page_screen_of_another_owners_draft_is_a_404(client, world, path):
    draft = world["b_draft"]
    url = path.format(pk=draft.pk, revision=draft.latest_revision_id)
    response = _as(client, world["amina"]).get(url)
    assert response.status_code == 404, (url, response.status_code)
    _assert_no_trace_of_b(response, url)


def test_the_owner_still_opens_every_screen_of_their_own_listing(client, world):
    page = world["a_page"]
    _as(client, world["amina"])
    for path in ("/admin/pages/{pk}/", "/admin/pages/{pk}/edit/", "/admin/pages/{pk}/history/"):
        url = path.format(pk=page.pk)
        assert client.get(url).status_code == 200, url


# --- reports -------------------------------------------------------------------------------------


def test_aging_pages_report_lists_only_the_owners_pages(client, world):
    _as(client, world["amina"])
    for url in ("/admin/reports/aging-pages/", "/admin/reports/aging-pages/results/?export=csv"):
        _assert_no_trace_of_b(client.get(url), url)
    assert A_LIVE in client.get("/admin/reports/aging-pages/").content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/reports/site-history/",
        "/admin/reports/site-history/results/",
        "/admin/reports/site-history/?export=csv",
        "/admin/reports/page-types-usage/",
        "/admin/reports/locked/",
        "/admin/reports/workflow/",
        "/admin/reports/workflow_tasks/",
    ],
)
def test_site_wide_reports_never_show_another_owners_pages_photos_or_blocked_dates(client, world, url):
    response = _as(client, world["amina"]).get(url)
    _assert_no_trace_of_b(response, url)


def test_site_wide_reports_are_off_the_owners_menu_and_on_the_staffs(client, world):
    owner_menu = _as(client, world["amina"]).get("/admin/").content.decode()
    assert "/admin/reports/site-history/" not in owner_menu
    assert "/admin/reports/page-types-usage/" not in owner_menu
    assert "/admin/reports/aging-pages/" in owner_menu
    staff_menu = _as(client, StaffFactory()).get("/admin/").content.decode()
    assert "/admin/reports/site-history/" in staff_menu


def test_owner_reads_their_own_history_from_their_page_and_blocked_dates(client, world):
    _as(client, world["amina"])
    history = client.get(f"/admin/pages/{world['a_page'].pk}/history/")
    assert history.status_code == 200
    block = BlockedPeriod.objects.get(reason=A_REASON)
    url = reverse(BlockedPeriod.snippet_viewset.get_url_name("history"), args=[block.pk])
    assert client.get(url).status_code == 200
    theirs = BlockedPeriod.objects.get(reason=B_REASON)
    url = reverse(BlockedPeriod.snippet_viewset.get_url_name("history"), args=[theirs.pk])
    assert client.get(url).status_code == 404


# --- images and documents -------------------------------------------------------------------------


def test_image_chooser_offers_only_the_owners_photos_and_refuses_anothers(client, world):
    _as(client, world["amina"])
    for url in ("/admin/images/chooser/", "/admin/images/chooser/results/?q=gallery", "/admin/images/?q=gallery"):
        _assert_no_trace_of_b(client.get(url), url)
    chooser = client.get("/admin/images/chooser/").content.decode()
    assert f"{A_PHOTO} 1" in chooser
    b_photo = world["b_photo"]
    for url in (
        reverse("wagtailimages_chooser:chosen", args=[b_photo.pk]),
        reverse("wagtailimages_chooser:select_format", args=[b_photo.pk]),
        reverse("wagtailimages:edit", args=[b_photo.pk]),
        reverse("wagtailimages:delete", args=[b_photo.pk]),
        reverse("wagtailimages:image_usage", args=[b_photo.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 404, (url, response.status_code)
    multiple = f"{reverse('wagtailimages_chooser:chosen_multiple')}?id={b_photo.pk}"
    _assert_no_trace_of_b(client.get(multiple), multiple)
    mine = client.get(reverse("wagtailimages_chooser:chosen", args=[world["a_photos"][0].pk]))
    assert mine.status_code == 200


def test_document_library_and_chooser_offer_only_the_owners_documents(client, world):
    _as(client, world["amina"])
    for url in ("/admin/documents/", "/admin/documents/chooser/", "/admin/documents/chooser/results/?q=rules"):
        response = client.get(url)
        _assert_no_trace_of_b(response, url)
        assert A_DOC in response.content.decode(), url
    b_doc = world["b_doc"]
    for url in (
        reverse("wagtaildocs_chooser:chosen", args=[b_doc.pk]),
        reverse("wagtaildocs:edit", args=[b_doc.pk]),
        reverse("wagtaildocs:delete", args=[b_doc.pk]),
    ):
        assert client.get(url).status_code == 404, url


def test_owners_image_library_lists_their_own_photos(client, world):
    html = _as(client, world["amina"]).get("/admin/images/").content.decode()
    for image in world["a_photos"]:
        assert image.title in html
    assert "Zebrafarm" not in html


def test_owner_uploads_land_in_their_own_collection(client, world):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (10, 200, 10)).save(buffer, format="PNG")
    _as(client, world["amina"])
    response = client.post(
        reverse("wagtailimages:add"),
        {"title": "Amina new upload", "file": SimpleUploadedFile("new.png", buffer.getvalue(), "image/png")},
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    image = get_image_model().objects.get(title="Amina new upload")
    assert image.collection == owner_collection_ensure(world["amina"])


def test_dashboard_counts_only_the_owners_pages_and_images(client, world):
    html = _as(client, world["amina"]).get("/admin/").content.decode()
    counts = dict(
        (kind, int(number))
        for number, kind in re.findall(r"(\d+)\s+(Pages?|Images?|Documents?)\s*<span", html)
    )
    assert counts.get("Page", counts.get("Pages")) == 1, counts
    assert counts.get("Images") == 2, counts
    assert counts.get("Document") == 1, counts
    _assert_no_trace_of_b(client.get("/admin/"), "/admin/")


# --- staff and collections --------------------------------------------------------------------------


def test_staff_still_see_every_owners_pages_photos_and_history(client, world):
    staff = StaffFactory()
    _as(client, staff)
    assert B_DRAFT in client.get("/admin/pages/search/?q=Zebrafarm").content.decode()
    assert client.get(f"/admin/pages/{world['b_draft'].pk}/").status_code == 200
    assert client.get(f"/admin/pages/{world['b_draft'].pk}/history/").status_code == 200
    assert B_PHOTO in client.get("/admin/images/").content.decode()
    assert B_PHOTO in client.get("/admin/images/chooser/").content.decode()
    chosen = client.get(reverse("wagtailimages_chooser:chosen", args=[world["b_photo"].pk]))
    assert chosen.status_code == 200
    history = client.get("/admin/reports/site-history/").content.decode()
    assert B_REASON in history or "Zebrafarm" in history


def test_each_owner_gets_a_collection_of_their_own_when_they_become_an_owner(world):
    a_collection = owner_collection_ensure(world["amina"])
    b_collection = owner_collection_ensure(world["kip"])
    assert a_collection != b_collection
    assert a_collection.get_parent() == Collection.get_first_root_node()
    assert owner_collection_ensure(world["amina"]) == a_collection  # idempotent

    guest = UserFactory(name="Wairimu Guest")
    group_name = f"Owner collection #{guest.pk}"
    user_set_role(user=guest, role=User.Role.OWNER)
    assert guest.groups.filter(name=group_name).exists()  # made by the role change itself
    promoted = owner_collection_ensure(guest)
    assert promoted not in (None, a_collection, b_collection)
    assert get_image_model().objects.filter(collection=promoted).count() == 0

    user_set_role(user=guest, role=User.Role.GUEST)
    assert not guest.groups.exists()
    assert owner_collection_ensure(guest) is None


def test_owner_created_in_the_admin_gets_their_own_collection(client, site_tree):
    client.force_login(StaffFactory(is_superuser=True))
    response = client.post(
        "/admin/users/new/",
        {
            "email": "new.owner@example.com",
            "name": "Neema Owner",
            "phone_number": "+254711999888",
            "role": "owner",
            "password1": "a-Strong-pass-2026",
            "password2": "a-Strong-pass-2026",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    owner = User.objects.get(email="new.owner@example.com")
    # Checked before anything here could create the group: the admin's save made it.
    assert owner.groups.filter(name=f"Owner collection #{owner.pk}").exists()
    collection = owner_collection_ensure(owner)
    assert collection.name.startswith("Owner: Neema Owner")
    client.force_login(owner)
    assert client.get(reverse("wagtailimages:add")).status_code == 200


def test_owner_cannot_attach_another_owners_photo_by_posting_its_id(client, world):
    """The chooser refuses B's photo; a hand-made edit form naming its id must be refused too."""
    page = world["a_page"]
    _as(client, world["amina"])
    form = {
        "title": page.title,
        "slug": page.slug,
        "description": '{"blocks": [], "entityMap": {}}',
        "area": page.area,
        "town": page.town,
        "price_per_night": str(page.price_per_night),
        "max_guests": str(page.max_guests),
        "min_nights": str(page.min_nights),
        "max_nights": str(getattr(page, "max_nights", 30)),
        "min_deposit_percent": str(page.min_deposit_percent or 20),
        "availability_status": "available",
        "cancellation_policy": "moderate",
        "gallery_images-TOTAL_FORMS": "1",
        "gallery_images-INITIAL_FORMS": "0",
        "gallery_images-MIN_NUM_FORMS": "0",
        "gallery_images-MAX_NUM_FORMS": "1000",
        "seasonal_prices-TOTAL_FORMS": "0",
        "seasonal_prices-INITIAL_FORMS": "0",
        "seasonal_prices-MIN_NUM_FORMS": "0",
        "seasonal_prices-MAX_NUM_FORMS": "50",
        "gallery_images-0-image": str(world["b_photo"].pk),
        "gallery_images-0-caption": "stolen",
        "gallery_images-0-ORDER": "1",
        "action-publish": "action-publish",
    }
    client.post(f"/admin/pages/{page.pk}/edit/", form)
    page.refresh_from_db()
    assert not page.gallery_images.filter(image=world["b_photo"]).exists()
    assert not page.get_latest_revision_as_object().gallery_images.filter(image=world["b_photo"]).exists()
    # The same form with A's own photo goes through: the refusal above is about whose photo it is.
    form["gallery_images-0-image"] = str(world["a_photos"][1].pk)
    response = client.post(f"/admin/pages/{page.pk}/edit/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    page.refresh_from_db()
    assert page.gallery_images.filter(image=world["a_photos"][1]).exists()


def test_demo_owners_each_see_their_own_listing_photos(client, site_tree):
    from accounts.demo import seed_users
    from listings.demo import seed_listings

    users = seed_users()
    pages = seed_listings(users=users)
    for page in pages:
        collection = owner_collection_ensure(page.owner)
        assert {g.image.collection_id for g in page.gallery_images.all()} == {collection.pk}, page.title
    amina = users["owner.amina@nexus.demo"]
    client.force_login(amina)
    library = client.get("/admin/images/?p=1").content.decode()
    own = [p for p in pages if p.owner_id == amina.pk]
    others = [p for p in pages if p.owner_id != amina.pk]
    assert any(page.title in library for page in own)
    assert not any(page.title in library for page in others)
