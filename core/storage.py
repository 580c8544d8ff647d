"""Where uploaded files live: the local disk (development) or S3-compatible buckets (production).

Two storages (Django's STORAGES aliases):
- "default": Wagtail images, their renditions and documents. With MEDIA_STORAGE=s3 they go to
  AWS_STORAGE_BUCKET_NAME and the page links straight to the bucket (or to AWS_S3_CUSTOM_DOMAIN),
  unsigned: a signed link would expire inside cached pages. Only original_images/ and images/
  are meant to be readable by anyone (docs/security.md "Media storage"); documents are always
  served through Wagtail's serve view, which checks the collection's privacy.
- "private": ID photos (accounts.storage). A second bucket that is never public; the checking
  view (accounts.views.id_photo) reads the bytes and streams them, so no link to the object
  ever leaves the server.

This module is imported by the settings: it must not import models or anything that needs
configured settings at import time.
"""

import os
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

MEDIA_STORAGE_CHOICES = ("filesystem", "s3")
PRIVATE_FILESYSTEM_BACKEND = "accounts.storage.PrivateFileSystemStorage"
PRIVATE_S3_BACKEND = "accounts.storage.PrivateS3Storage"
PUBLIC_S3_BACKEND = "storages.backends.s3.S3Storage"


def media_storage_choice(environ: Mapping[str, str]) -> str:
    choice = (environ.get("MEDIA_STORAGE") or "filesystem").strip().lower()
    if choice not in MEDIA_STORAGE_CHOICES:
        raise ImproperlyConfigured(f"MEDIA_STORAGE must be one of {', '.join(MEDIA_STORAGE_CHOICES)}, not {choice!r}")
    return choice


def _s3_connection_options(environ: Mapping[str, str]) -> dict:
    endpoint_url = environ.get("AWS_S3_ENDPOINT_URL") or None
    # Custom endpoints (R2, MinIO, moto) are addressed by path: their bucket names are not
    # always DNS names of their own. AWS itself takes either; botocore picks there.
    addressing_style = environ.get("AWS_S3_ADDRESSING_STYLE") or ("path" if endpoint_url else None)
    return {
        "endpoint_url": endpoint_url,
        # None lets boto3 use its usual chain (an IAM role, ~/.aws) when no key is given.
        "access_key": environ.get("AWS_ACCESS_KEY_ID") or None,
        "secret_key": environ.get("AWS_SECRET_ACCESS_KEY") or None,
        # R2 expects "auto"; AWS needs the bucket's own region for signatures.
        "region_name": environ.get("AWS_S3_REGION_NAME") or None,
        "addressing_style": addressing_style,
        "signature_version": "s3v4",
        # No object ACLs: R2 refuses them, and AWS buckets made since 2023 have ACLs
        # disabled. What is public is decided by the bucket's policy, not per object.
        "default_acl": None,
        # Never overwrite: two uploads named "photo.jpg" get two objects.
        "file_overwrite": False,
    }


def s3_storages(environ: Mapping[str, str]) -> dict[str, dict]:
    """STORAGES["default"] and STORAGES["private"] for MEDIA_STORAGE=s3, from the environment."""
    public_bucket = environ.get("AWS_STORAGE_BUCKET_NAME", "")
    private_bucket = environ.get("PRIVATE_STORAGE_BUCKET_NAME", "")
    if not public_bucket or not private_bucket:
        raise ImproperlyConfigured(
            "MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (public media) and PRIVATE_STORAGE_BUCKET_NAME (ID photos)"
        )
    if public_bucket == private_bucket:
        raise ImproperlyConfigured("PRIVATE_STORAGE_BUCKET_NAME must be a bucket of its own, never the public one")
    connection = _s3_connection_options(environ)
    public = {
        **connection,
        "bucket_name": public_bucket,
        # Plain links (no signature): pages and their caches outlive any signature's expiry.
        "querystring_auth": False,
        # R2 serves public files only from a custom domain (or r2.dev); a CDN in front of S3 too.
        # Links to it are https://<domain>/<key>.
        "custom_domain": environ.get("AWS_S3_CUSTOM_DOMAIN") or None,
        # Originals and renditions never change under a name (file_overwrite is off).
        "object_parameters": {"CacheControl": "public, max-age=604800"},
    }
    private = {**connection, "bucket_name": private_bucket}
    return {
        "default": {"BACKEND": PUBLIC_S3_BACKEND, "OPTIONS": public},
        "private": {"BACKEND": PRIVATE_S3_BACKEND, "OPTIONS": private},
    }


def media_storages(environ: Mapping[str, str] = os.environ) -> dict[str, dict]:
    """The "default" and "private" STORAGES entries that MEDIA_STORAGE asks for."""
    if media_storage_choice(environ) == "s3":
        return s3_storages(environ)
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "private": {"BACKEND": PRIVATE_FILESYSTEM_BACKEND},
    }


def check_media_storage(app_configs=None, **kwargs):
    """A warning, on Render, that files on the service's own disk are lost at the next deploy."""
    from django.conf import settings
    from django.core.checks import Warning

    if settings.DEBUG or getattr(settings, "MEDIA_STORAGE", "filesystem") != "filesystem":
        return []
    # Render sets RENDER=true in every service; its disks are wiped on each deploy and are
    # not shared between the web service and the worker.
    if os.environ.get("RENDER", "").lower() not in {"1", "true"}:
        return []
    return [
        Warning(
            "Uploaded files (listing photos, renditions, documents, ID photos) are stored on this "
            "service's disk, which Render wipes on every deploy.",
            hint="Set MEDIA_STORAGE=s3 and the AWS_* and PRIVATE_STORAGE_BUCKET_NAME variables (README, "
            '"Media storage in production").',
            id="nexus.W001",
        )
    ]
