import io
import struct

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's format name -> the suffix a stored ID photo gets and the type it is served as.
ALLOWED_IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
IMAGE_CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}

_INVALID_IMAGE = _("Upload a JPEG, PNG or WebP image of your ID.")

# Every way Pillow says "not an image we can trust": unknown or corrupt data, and a
# header claiming more pixels than Pillow's own decompression-bomb limit.
_PILLOW_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class IdPhotoImage(ContentFile):
    """An ID photo re-encoded by Pillow: only its pixels, in the format Pillow detected.

    Re-encoding drops everything that is not pixels: text chunks, EXIF/XMP, ICC data and
    anything appended after the image (an HTML or ZIP polyglot tail), so no stored byte
    comes from the client except as decoded pixels.
    """

    def __init__(self, content: bytes, *, image_format: str):
        super().__init__(content, name=f"id{ALLOWED_IMAGE_FORMATS[image_format]}")
        self.image_format = image_format


def validate_id_photo(file) -> IdPhotoImage:
    """A JPEG, PNG or WebP (as Pillow decodes it, whatever the name says), at most
    ID_PHOTO_MAX_BYTES and ID_PHOTO_MAX_PIXELS; returned re-encoded as an IdPhotoImage.

    Raises ValidationError for anything else, including image bombs.
    """
    if isinstance(file, IdPhotoImage):
        return file
    if file.size > settings.ID_PHOTO_MAX_BYTES:
        raise ValidationError(_("The ID photo must be 5 MB or smaller."), code="file_too_large")
    try:
        # Image.open reads only the header. Pillow raises DecompressionBombError above twice
        # its MAX_IMAGE_PIXELS and warns above it (an exception too when warnings are errors);
        # our own, lower cap refuses the file before any pixel is decoded.
        file.seek(0)
        with Image.open(file, formats=list(ALLOWED_IMAGE_FORMATS)) as image:
            _check_pixels(image)
            image.verify()
        file.seek(0)
        with Image.open(file, formats=list(ALLOWED_IMAGE_FORMATS)) as image:
            image_format = image.format
            _check_pixels(image)
            return IdPhotoImage(_reencode(image, image_format), image_format=image_format)
    except ValidationError:
        raise
    except _PILLOW_ERRORS:
        raise ValidationError(_INVALID_IMAGE, code="invalid_image")
    finally:
        file.seek(0)


def detect_id_photo_format(file) -> str | None:
    """The allowed format Pillow reads from the file's header ("PNG"...), or None.

    For serving stored files, whatever their stored name says (older uploads kept the
    client's suffix, e.g. ".html").
    """
    try:
        file.seek(0)
        with Image.open(file, formats=list(ALLOWED_IMAGE_FORMATS)) as image:
            return image.format if image.format in ALLOWED_IMAGE_FORMATS else None
    except _PILLOW_ERRORS:
        return None
    finally:
        file.seek(0)


def _check_pixels(image: Image.Image) -> None:
    if image.format not in ALLOWED_IMAGE_FORMATS:
        raise ValidationError(_INVALID_IMAGE, code="invalid_image")
    width, height = image.size
    if width < 1 or height < 1 or width * height > settings.ID_PHOTO_MAX_PIXELS:
        raise ValidationError(_("The ID photo has too many pixels; send a smaller photo."), code="image_too_large")


def _reencode(image: Image.Image, image_format: str) -> bytes:
    image.load()
    # Turn the pixels upright, since the EXIF orientation tag is about to be dropped.
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    grey = image.mode in ("1", "L") and not has_alpha
    if grey or image_format == "JPEG":
        image = image.convert("L" if grey else "RGB")
    else:
        image = image.convert("RGBA" if has_alpha else "RGB")
    # convert() made a new image; emptying its info keeps text chunks, EXIF, ICC and XMP
    # out of the encoder (Pillow writes some of them from info when saving).
    image.info = {}
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, format="JPEG", quality=90)
    elif image_format == "WEBP":
        image.save(buffer, format="WEBP", quality=90)
    else:
        image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
