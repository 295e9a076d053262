"""A job's images are encoded side by side (jobs/handlers/generation.encode_pngs): same bytes out, in order."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from sfumato.jobs.handlers.generation import encode_pngs


def test_encoded_side_by_side_each_png_is_its_image_in_order() -> None:
    rng = np.random.default_rng(7)
    images = [Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)) for _ in range(5)]
    pngs = encode_pngs(images)
    assert len(pngs) == 5
    for image, png in zip(images, pngs, strict=True):
        decoded = Image.open(io.BytesIO(png))
        assert decoded.format == "PNG"
        assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(image))  # lossless, and not swapped
    assert encode_pngs(images[:1]) == pngs[:1] and encode_pngs([]) == []
