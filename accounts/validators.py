from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

ALLOWED_IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def validate_id_photo(file) -> None:
    """Images only (checked by decoding, not by the name), 5 MB at most."""
    if file.size > settings.ID_PHOTO_MAX_BYTES:
        raise ValidationError("The ID photo must be 5 MB or smaller.", code="file_too_large")
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError("Upload a JPEG, PNG or WebP image of your ID.", code="invalid_image")
    finally:
        file.seek(0)
    if image_format not in ALLOWED_IMAGE_FORMATS:
        raise ValidationError("Upload a JPEG, PNG or WebP image of your ID.", code="invalid_image")
