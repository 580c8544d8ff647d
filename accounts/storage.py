import secrets
from pathlib import PurePath

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.deconstruct import deconstructible
from storages.backends.s3 import S3Storage

from accounts.validators import ALLOWED_IMAGE_FORMATS


@deconstructible
class PrivateFileSystemStorage(FileSystemStorage):
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


class PrivateS3Storage(S3Storage):
    """The private bucket (PRIVATE_STORAGE_BUCKET_NAME). No URL at all, signed or not: a
    presigned link would stay valid after the viewer's right to see the photo is gone, so
    the checking view reads the object and streams it."""

    def url(self, name, *args, **kwargs):
        raise ValueError("Private files have no public URL")


@deconstructible
class PrivateStorage(Storage):
    """The ID-photo field's storage: STORAGES["private"] (core/storage.py), looked up on each
    call. The field is built once, at import; looking the backend up late lets the same field
    use the disk in development and the private bucket in production (and lets tests switch),
    and keeps the migration's `PrivateStorage()` unchanged."""

    @property
    def backend(self) -> Storage:
        return storages["private"]

    def open(self, name, mode="rb"):
        return self.backend.open(name, mode)

    def save(self, name, content, max_length=None):
        return self.backend.save(name, content, max_length=max_length)

    def generate_filename(self, filename):
        return self.backend.generate_filename(filename)

    def get_valid_name(self, name):
        return self.backend.get_valid_name(name)

    def get_available_name(self, name, max_length=None):
        return self.backend.get_available_name(name, max_length=max_length)

    def delete(self, name):
        return self.backend.delete(name)

    def exists(self, name):
        return self.backend.exists(name)

    def listdir(self, path):
        return self.backend.listdir(path)

    def size(self, name):
        return self.backend.size(name)

    def path(self, name):
        return self.backend.path(name)

    def get_modified_time(self, name):
        return self.backend.get_modified_time(name)

    def get_created_time(self, name):
        return self.backend.get_created_time(name)

    def get_accessed_time(self, name):
        return self.backend.get_accessed_time(name)

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
