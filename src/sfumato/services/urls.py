"""The public URLs of stored files, in one place: the API's responses and the webhook bodies build them
here. Each carries an unguessable token, so it needs no auth header (like a CDN URL)."""

from __future__ import annotations


def image_url(base: str, image_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/cdn/{token}/{image_id}.png"


def variation_url(base: str, variation_id: str, token: str) -> str:
    return f"{base.rstrip('/')}/cdn/variations/{token}/{variation_id}.png"


def init_image_url(base: str, init_image_id: str, token: str, extension: str) -> str:
    return f"{base.rstrip('/')}/cdn/init/{token}/{init_image_id}.{extension}"
