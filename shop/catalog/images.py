"""Product images: checked with Pillow, re-encoded, stored under the instance folder.

A file is accepted only if Pillow decodes it as JPEG, PNG, WebP or GIF, within the byte and
pixel limits. Pillow's decompression-bomb guard is turned into a hard error, and the image is
re-encoded, so what is stored and served is never the uploaded bytes.
"""

from __future__ import annotations

import io
import os
import uuid
import warnings

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from shop.errors import InvalidInput

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
MAX_SIDE = 2000


def upload_dir() -> str:
    path = os.path.join(current_app.instance_path, "uploads", "products")
    os.makedirs(path, exist_ok=True)
    return path


def store_image(data: bytes) -> str:
    """Validate and store an uploaded image; returns its file name. Raises InvalidInput."""
    limit = current_app.config["MAX_IMAGE_BYTES"]
    if not data:
        raise InvalidInput(_("The file is empty."))
    if len(data) > limit:
        raise InvalidInput(_("The image is larger than %(mb)d MB.", mb=limit // (1024 * 1024)))
    Image.MAX_IMAGE_PIXELS = current_app.config["MAX_IMAGE_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                probe.verify()
            if kind not in ALLOWED_FORMATS:
                raise InvalidInput(_("Upload a JPEG, PNG, WebP or GIF image."))
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
                image.thumbnail((MAX_SIDE, MAX_SIDE))
                out = io.BytesIO()
                if image.mode == "RGBA":
                    name, fmt = f"{uuid.uuid4().hex}.png", "PNG"
                else:
                    name, fmt = f"{uuid.uuid4().hex}.jpg", "JPEG"
                image.save(out, fmt, quality=85, optimize=True)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidInput(_("The file is not a valid image.")) from None
    with open(os.path.join(upload_dir(), name), "wb") as fh:
        fh.write(out.getvalue())
    return name
