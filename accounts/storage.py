import secrets
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from accounts.validators import ALLOWED_IMAGE_FORMATS


@deconstructible
class PrivateStorage(FileSystemStorage):
    """Files outside MEDIA_ROOT with no public URL: they are served only by views that check the viewer."""

    def __init__(self):
        super().__init__(location=None, base_url=None)

    @property
    def base_location(self):
        return settings.PRIVATE_MEDIA_ROOT

    @property
    def location(self):
        return str(settings.PRIVATE_MEDIA_ROOT)

    def url(self, name):
        raise ValueError("Private files have no public URL")


private_storage = PrivateStorage()


ID_PHOTO_SUFFIXES = frozenset(ALLOWED_IMAGE_FORMATS.values())


def id_photo_upload_to(instance, filename: str) -> str:
    # Random names: the uploaded file name may carry personal data, and
    # guessable names would make a leak worse. `filename` comes from
    # accounts.services.id_photo_store, which names the file after the format Pillow
    # detected; any other suffix (a client's ".html") is never kept.
    suffix = PurePath(filename).suffix.lower()
    if suffix not in ID_PHOTO_SUFFIXES:
        suffix = ".bin"
    return f"id-photos/{secrets.token_hex(16)}{suffix}"
