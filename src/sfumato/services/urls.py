"""The public URLs of stored files, in one place: the API's responses and the webhook bodies build them
with the one `FileUrls` object the composition root makes, so both always agree.

Two shapes. Local disk (the default): our own /cdn routes, behind an unguessable token, so a URL needs no
auth header (like a CDN URL) and never expires. Object storage: the store's own URL for the file key (a
presigned GET, or a configured CDN base), so the bytes never pass through an API host.
"""

from __future__ import annotations

from collections.abc import Callable


def image_url(base: str, image_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/cdn/{token}/{image_id}.png"


def video_url(base: str, image_id: str, token: str) -> str:
    """A motion generation's MP4: the poster's URL with .mp4 (served as video/mp4, with byte ranges)."""
    return f"{base.rstrip('/')}/cdn/{token}/{image_id}.mp4"


def motion_variation_url(base: str, variation_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/cdn/motion-variations/{token}/{variation_id}.mp4"


def variation_url(base: str, variation_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/cdn/variations/{token}/{variation_id}.png"


def init_image_url(base: str, init_image_id: str, token: str, extension: str) -> str:
    return f"{base.rstrip('/')}/cdn/init/{token}/{init_image_id}.{extension}"


def dataset_image_url(base: str, image_id: str, token: str, extension: str) -> str:
    return f"{base.rstrip('/')}/cdn/datasets/{token}/{image_id}.{extension}"


class FileUrls:
    """`direct`: the store's URL of a file key (S3 presigned GET or CDN base + key); None: our /cdn routes."""

    def __init__(self, direct: Callable[[str], str] | None = None) -> None:
        self.direct = direct

    def image(self, base: str, image_id: str, token: str, key: str) -> str:
        return self.direct(key) if self.direct else image_url(base, image_id, token)

    def video(self, base: str, image_id: str, token: str, key: str) -> str:
        return self.direct(key) if self.direct else video_url(base, image_id, token)

    def variation(self, base: str, variation_id: str, token: str, key: str) -> str:
        return self.direct(key) if self.direct else variation_url(base, variation_id, token)

    def init_image(self, base: str, init_image_id: str, token: str, extension: str, key: str) -> str:
        return self.direct(key) if self.direct else init_image_url(base, init_image_id, token, extension)

    def dataset_image(self, base: str, image_id: str, token: str, extension: str, key: str) -> str:
        return self.direct(key) if self.direct else dataset_image_url(base, image_id, token, extension)


LOCAL_URLS = FileUrls()  # the embedded default's shape (and what the payload builders use unless told)
