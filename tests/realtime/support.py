"""Pictures of the Starter's world as data URLs, and reading data URLs back."""

from __future__ import annotations

import base64
import io
import random

import numpy as np
from PIL import Image, ImageFilter

from sfumato.starter import world


def data_url(img: Image.Image, fmt: str = "JPEG") -> str:
    buf = io.BytesIO()
    img.save(buf, format=fmt, quality=95) if fmt == "JPEG" else img.save(buf, format=fmt)
    mime = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}[fmt]
    return f"data:image/{mime};base64," + base64.b64encode(buf.getvalue()).decode()


def read_data_url(url: str) -> Image.Image:
    head, _, payload = url.partition(",")
    assert head == "data:image/jpeg;base64", head
    return Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB")


def sketch(scene: world.Scene, size: int = 512, seed: int = 0) -> Image.Image:
    """The scene as a user might draw it on a canvas: right layout and colours, soft edges."""
    arr = world.render(scene, 32, 32, random.Random(seed))
    return world.to_pil(arr).filter(ImageFilter.GaussianBlur(1.5)).resize((size, size), Image.Resampling.BILINEAR)


def small(img: Image.Image) -> np.ndarray:
    """What the checker reads: the picture at the Starter's 32x32."""
    return np.asarray(img.resize((32, 32), Image.Resampling.LANCZOS))
