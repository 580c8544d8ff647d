"""Several photos uploaded at once for a listing's gallery (the listing editor's drop zone).

Each file goes through Wagtail's own image form, so the rules are the ones of the Images
screen, whichever door a photo comes through: an allowed type whose content matches its
name (WAGTAILIMAGES_EXTENSIONS), at most WAGTAILIMAGES_MAX_UPLOAD_SIZE bytes and
WAGTAILIMAGES_MAX_IMAGE_PIXELS pixels (read from the header, before any pixel is decoded),
and a collection the uploader may add to. The photos land in the listing owner's own
collection (accounts/owner_media.py), where the owner sees and chooses them.

This only creates the images. They join the gallery when the owner saves the page with the
rows the editor added for them, like any photo chosen with the image chooser.
"""

import os
from dataclasses import dataclass, field

from django.db import transaction
from wagtail.images import get_image_model
from wagtail.images.forms import get_image_form
from wagtail.log_actions import log
from wagtail.models import Collection, GroupCollectionPermission
from wagtail.permissions import policy_registry

from accounts.owner_media import owner_media_group_name

# Per request; the editor sends larger selections in several requests.
MAX_FILES_PER_UPLOAD = 10
TITLE_MAX_LENGTH = 255


@dataclass(frozen=True)
class PhotoRefusal:
    filename: str
    messages: tuple[str, ...]


@dataclass(frozen=True)
class UploadedPhoto:
    filename: str
    image: object  # the Wagtail image model (WAGTAILIMAGES_IMAGE_MODEL)


@dataclass
class GalleryUpload:
    photos: list[UploadedPhoto] = field(default_factory=list)
    refusals: list[PhotoRefusal] = field(default_factory=list)


def photo_title(filename: str) -> str:
    """The file's name without its folder and suffix, as Wagtail's own uploader titles it."""
    stem = os.path.splitext(os.path.basename(filename or ""))[0].strip()
    return (stem or "Photo")[:TITLE_MAX_LENGTH]


def gallery_collection_for(*, user, listing_owner) -> Collection | None:
    """Where `user`'s photos for a listing of `listing_owner` go.

    The owner's own collection when the uploader may add there (the owner, or staff, whose
    rights on the root reach it): so the owner finds the photos in their library. Otherwise
    the first collection the uploader may add to; None when there is none.
    """
    policy = policy_registry.get_by_type(get_image_model())
    allowed = policy.collections_user_has_permission_for(user, "add").order_by("path")
    if listing_owner is not None:
        owners = GroupCollectionPermission.objects.filter(group__name=owner_media_group_name(listing_owner))
        owners_collection = allowed.filter(pk__in=owners.values("collection_id")).first()
        if owners_collection is not None:
            return owners_collection
    return allowed.first()


def gallery_photos_upload(*, user, listing_owner, files) -> GalleryUpload:
    """Create one Wagtail image per acceptable file; say why each other file was refused.

    Every file is checked before any is saved; the acceptable ones are saved together.
    The caller has checked that `user` may edit (or create) the listing and that there is
    a collection to upload to (gallery_collection_for).
    """
    Image = get_image_model()
    ImageForm = get_image_form(Image)
    collection = gallery_collection_for(user=user, listing_owner=listing_owner)
    if collection is None:
        raise PermissionError("no collection to upload to")
    result = GalleryUpload()
    accepted = []
    for upload in files:
        form = ImageForm(
            {"title": photo_title(upload.name), "collection": collection.pk},
            {"file": upload},
            user=user,
            instance=Image(uploaded_by_user=user),
        )
        if "collection" in form.fields:
            # Several collections to choose from: this one, not whatever the form would default to.
            form.fields["collection"].queryset = Collection.objects.filter(pk=collection.pk)
        if form.is_valid():
            accepted.append((upload.name, form))
        else:
            messages = tuple(str(message) for errors in form.errors.values() for message in errors)
            result.refusals.append(PhotoRefusal(filename=upload.name, messages=messages))
    with transaction.atomic():
        for filename, form in accepted:
            image = form.save(commit=False)
            image.collection = collection
            image.save()
            log(instance=image, action="wagtail.create", user=user, content_changed=True)
            result.photos.append(UploadedPhoto(filename=filename, image=image))
    return result
