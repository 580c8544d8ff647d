"""Owners' shortcuts in the Wagtail admin (registered in listings/wagtail_hooks.py).

- "Add a property" on the dashboard: a button to the add-page view of a PropertyPage under
  each listings index the user may add to (owners hold "add" there, accounts/roles.py).
- Photos uploaded several at once into a listing's gallery: a JSON endpoint that creates
  the images (listings/gallery_uploads.py) and a script on the listing editor
  (static/listings/admin/gallery-upload.js) that takes dropped or chosen files, posts them
  and adds one gallery row per photo with the image already chosen. Nothing is attached to
  the page until the owner saves it, as with the image chooser, so the editor stays the one
  place a listing changes (revisions, drafts, publishing rights and the gallery form's own
  check that a photo is the editor's to choose all apply unchanged).

The endpoint answers 404 for a listing the user may not edit (another owner's), as the
rest of the admin does (listings/admin_scope.py).
"""

import re

from django.conf import settings
from django.http import JsonResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html, json_script
from django.views import View
from wagtail.admin.ui.components import Component

from listings.gallery_uploads import MAX_FILES_PER_UPLOAD, gallery_collection_for, gallery_photos_upload
from listings.models import ListingIndexPage, PropertyPage
from listings.permissions import sees_every_listing

# Requests larger than this are refused before their files are read: every file at Wagtail's
# size limit, plus room for the multipart framing.
UPLOAD_SLACK_BYTES = 1024 * 1024
PREVIEW_FILTER = "max-165x165"  # what Wagtail's image chooser shows
MAX_ID = 2**63 - 1


def _max_photo_bytes() -> int:
    return getattr(settings, "WAGTAILIMAGES_MAX_UPLOAD_SIZE", 10 * 1024 * 1024)


def _error(status: int, detail: str, code: str, **extra) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code, **extra}, status=status)


# --- the dashboard's "Add a property" ----------------------------------------------------------


def property_add_targets(user) -> list[dict]:
    """One {"index", "url"} per listings index where `user` may add a property."""
    targets = []
    for index in ListingIndexPage.objects.order_by("path"):
        if PropertyPage.can_create_at(index) and index.permissions_for_user(user).can_add_subpage():
            url = reverse("wagtailadmin_pages:add", args=("listings", "propertypage", index.pk))
            targets.append({"index": index, "url": url})
    return targets


class AddPropertyPanel(Component):
    name = "nexus_add_property"
    template_name = "listings/admin/add_property_panel.html"
    order = 40

    def __init__(self, *, targets, property_count, own):
        self.targets = targets
        self.property_count = property_count
        self.own = own

    def get_context_data(self, parent_context):
        return {"targets": self.targets, "property_count": self.property_count, "own": self.own}


def add_property_panel_for(user) -> AddPropertyPanel | None:
    targets = property_add_targets(user)
    if not targets:
        return None
    own = not sees_every_listing(user)
    properties = PropertyPage.objects.filter(owner=user) if own else PropertyPage.objects.all()
    return AddPropertyPanel(targets=targets, property_count=properties.count(), own=own)


# --- several photos at once ----------------------------------------------------------------------


def _image_json(image, filename: str) -> dict:
    # The shape of Wagtail's image chooser state, so the editor sets the chosen image directly.
    preview = image.get_rendition(PREVIEW_FILTER)
    return {
        "id": image.pk,
        "title": image.title,
        "filename": filename,
        "edit_url": reverse("wagtailimages:edit", args=(image.pk,)),
        "preview": {"url": preview.url, "width": preview.width, "height": preview.height},
        "default_alt_text": image.default_alt_text,
    }


class GalleryPhotosUploadView(View):
    """POST multipart "files" (1 to MAX_FILES_PER_UPLOAD) for a listing being edited
    (page_id) or created under a listings index (parent_page_id).

    201 {"images": [...], "refused": [{"filename", "messages"}]} when at least one file became
    an image; 400 {"detail", "code", "refused"} when none did or the request is malformed;
    404 for a listing or index the user may not edit or add to.
    """

    http_method_names = ["post"]

    def post(self, request, page_id=None, parent_page_id=None):
        user = request.user
        if max(page_id or 0, parent_page_id or 0) > MAX_ID:
            return _error(404, "Not found.", "not_found")  # beyond any id: the database would refuse the query
        if page_id is not None:
            listing = PropertyPage.objects.filter(pk=page_id).first()
            if listing is None or not listing.permissions_for_user(user).can_edit():
                return _error(404, "Not found.", "not_found")
            listing_owner = listing.owner
        else:
            index = ListingIndexPage.objects.filter(pk=parent_page_id).first()
            if index is None or not any(target["index"].pk == index.pk for target in property_add_targets(user)):
                return _error(404, "Not found.", "not_found")
            listing_owner = user  # who creates a listing owns it
        if gallery_collection_for(user=user, listing_owner=listing_owner) is None:
            return _error(403, "You may not upload photos.", "permission_denied")

        limit = MAX_FILES_PER_UPLOAD * _max_photo_bytes() + UPLOAD_SLACK_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return _error(400, "Too much at once: send fewer or smaller photos.", "upload_too_large")
        files = request.FILES.getlist("files")
        if not files:
            return _error(400, "Choose one or more photos to upload.", "no_files")
        if len(files) > MAX_FILES_PER_UPLOAD:
            return _error(
                400, f"Send at most {MAX_FILES_PER_UPLOAD} photos at a time.", "too_many_files"
            )

        result = gallery_photos_upload(user=user, listing_owner=listing_owner, files=files)
        refused = [{"filename": r.filename, "messages": list(r.messages)} for r in result.refusals]
        if not result.photos:
            detail = "No photo was uploaded: " + " ".join(
                f"{r['filename']}: {' '.join(r['messages'])}" for r in refused
            )
            return _error(400, detail, "invalid_image", refused=refused)
        images = [_image_json(photo.image, photo.filename) for photo in result.photos]
        return JsonResponse({"images": images, "refused": refused}, status=201)


urlpatterns = [
    path(
        "listings/properties/<int:page_id>/photos/",
        GalleryPhotosUploadView.as_view(),
        name="listings_gallery_upload",
    ),
    path(
        "listings/indexes/<int:parent_page_id>/new-property/photos/",
        GalleryPhotosUploadView.as_view(),
        name="listings_gallery_upload_new",
    ),
]


# --- the listing editor's script ----------------------------------------------------------------

_SAMPLE_ID = 987654321  # stands for a page id in the URL patterns handed to the script


def editor_js() -> str:
    """The drop zone's script and the URLs it needs, on every editor (it shows itself only on
    a PropertyPage's, recognised by the editor form's address and the gallery's Add button)."""

    def pattern(url: str) -> str:
        return "^" + re.escape(url).replace(str(_SAMPLE_ID), r"(\d+)") + "$"

    config = {
        "editPattern": pattern(reverse("wagtailadmin_pages:edit", args=(_SAMPLE_ID,))),
        "addPattern": pattern(
            reverse("wagtailadmin_pages:add", args=("listings", "propertypage", _SAMPLE_ID))
        ),
        "uploadForPage": reverse("listings_gallery_upload", args=(_SAMPLE_ID,)),
        "uploadForNew": reverse("listings_gallery_upload_new", args=(_SAMPLE_ID,)),
        "sampleId": str(_SAMPLE_ID),
        "formsetPrefix": "gallery_images",
        "maxFiles": MAX_FILES_PER_UPLOAD,
        "maxFileBytes": _max_photo_bytes(),
        "stylesheet": static("listings/admin/gallery-upload.css"),
    }
    return format_html(
        '{}<script src="{}" defer></script>',
        json_script(config, "nexus-gallery-upload-config"),
        static("listings/admin/gallery-upload.js"),
    )
