import secrets
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible


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


def id_photo_upload_to(instance, filename: str) -> str:
    # Random names: the uploaded file name may carry personal data, and
    # guessable names would make a leak worse.
    suffix = PurePath(filename).suffix.lower()[:5] or ".jpg"
    return f"id-photos/{secrets.token_hex(16)}{suffix}"
