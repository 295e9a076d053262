"""Decoding untrusted image bytes safely, and the format rules of init images.

Order matters: the header is read first (PIL's `open` is lazy), so the format, the dimensions and the pixel
count are checked *before* any pixel is decoded. A decompression bomb (a few KB of PNG claiming 50000 x 50000
pixels) is refused there, never inflated. EXIF orientation is applied, and the result is re-encoded, which
also drops every metadata block (EXIF, GPS) from what we store.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from sfumato.services.errors import InvalidRequest

# The declared extension -> (PIL format that must be found in the bytes, MIME type of the stored file).
EXTENSIONS: dict[str, tuple[str, str]] = {
    "png": ("PNG", "image/png"),
    "jpg": ("JPEG", "image/jpeg"),
    "jpeg": ("JPEG", "image/jpeg"),
    "webp": ("WEBP", "image/webp"),
}
MAX_SIDE = 4096  # pixels, either side
MAX_PIXELS = 16_777_216  # 4096 x 4096
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

# Image data sent as `extension`: raw bytes read as text, a data URL, or base64 of PNG / JPEG / WEBP.
_DATA_PREFIXES = ("\x89PNG", "\xff\xd8", "RIFF", "data:", "iVBOR", "/9j/", "UklGR")
_MAGIC = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"RIFF": "WEBP", b"GIF8": "GIF", b"BM": "BMP"}


class ImageRejected(InvalidRequest):
    """The bytes are not an acceptable image; the message says why and what to send."""


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB (or RGBA when the source had transparency), orientation applied
    data: bytes  # re-encoded in the declared format, metadata stripped
    width: int
    height: int


def normalize_extension(raw: object) -> str:
    """`PNG`, `.png`, ` Jpg ` -> the lower-case extension; anything else gets the FAQ's explanation."""
    hint = (
        "send only the file extension, one of png, jpg, jpeg, webp (for example "
        '{"extension": "png"}), then upload the file itself to the returned url with the returned fields'
    )
    if not isinstance(raw, str):
        raise InvalidRequest(f"invalid file extension: expected a string; {hint}", field="extension")
    ext = raw.strip().lower().removeprefix(".")
    if ext in EXTENSIONS:
        return ext
    if raw.lstrip().startswith(_DATA_PREFIXES) or len(raw) > 64:
        raise InvalidRequest(
            f"invalid file extension: this looks like image data, not an extension; {hint}", field="extension"
        )
    if "." in ext or "/" in ext or "\\" in ext:
        raise InvalidRequest(f"invalid file extension: {raw!r} looks like a file name; {hint}", field="extension")
    raise InvalidRequest(f"invalid file extension: {raw[:40]!r} is not supported; {hint}", field="extension")


def sniff_format(data: bytes) -> str | None:
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic) and (fmt != "WEBP" or data[8:12] == b"WEBP"):
            return fmt
    return None


def decode_image(data: bytes, extension: str, max_side: int = MAX_SIDE, max_pixels: int = MAX_PIXELS) -> DecodedImage:
    expected, _ = EXTENSIONS[extension]
    found = sniff_format(data)
    if found != expected:
        what = f"a {found} file" if found else "not an image file"
        raise ImageRejected(
            f"the uploaded file is {what}, but the upload was reserved for extension {extension!r} "
            f"({expected}); reserve a new upload with the file's real extension",
            field="file",
        )
    try:
        with warnings.catch_warnings():
            # PIL only warns between MAX_IMAGE_PIXELS and twice that: make every bomb warning an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))  # reads the header only
            width, height = img.size
            if width > max_side or height > max_side or width * height > max_pixels:
                raise ImageRejected(
                    f"the image is {width}x{height}; the most accepted is {max_side} pixels a side and "
                    f"{max_pixels} pixels in all; resize it and upload again",
                    field="file",
                )
            # Phones write MPO: a JPEG followed by a second picture (a depth map, a preview). It is a JPEG.
            if (img.format if img.format != "MPO" else "JPEG") != expected:
                raise ImageRejected(f"the file is {img.format}, expected {expected}", field="file")
            img.load()
            img = ImageOps.exif_transpose(img)
    except ImageRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageRejected(
            f"the file could not be decoded as {expected} ({exc}); upload a valid image", field="file"
        ) from None
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if has_alpha and expected != "JPEG" else "RGB")
    return DecodedImage(img, encode(img, extension), img.width, img.height)


def encode(img: Image.Image, extension: str) -> bytes:
    fmt, _ = EXTENSIONS[extension]
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, format="PNG", compress_level=1)
    elif fmt == "JPEG":
        img.convert("RGB").save(buf, format="JPEG", quality=95)
    else:
        img.save(buf, format="WEBP", quality=95)
    return buf.getvalue()
