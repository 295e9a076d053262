"""Background removal out of the box, on a picture like the starter model's (flat shape, solid background)."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from sfumato.engine.postprocess import METHOD_COLOUR_KEY, remove_background
from sfumato.starter.world import COLORS, Obj, Scene, _jitter, object_geometry, render, shape_coverage, to_pil


def test_starter_picture_background_is_transparent_subject_opaque() -> None:
    scene = Scene("blue", (Obj("star", "yellow", "center", "large"),))
    img = to_pil(render(scene, 128, 128, random.Random(1)))
    # Starter outputs are decoded by a VAE: a little noise on top of the flat colours.
    noisy = np.clip(np.asarray(img, np.float32) + np.random.default_rng(0).normal(0, 3, (128, 128, 3)), 0, 255)
    out, method = remove_background(Image.fromarray(noisy.astype(np.uint8)), None)
    assert out.mode == "RGBA" and method == METHOD_COLOUR_KEY
    alpha = np.asarray(out)[..., 3]
    rng = random.Random(1)  # replay render's draws: background colour, then the object's placement
    _jitter(COLORS["blue"], rng)
    cx, cy, d = object_geometry(scene.objects[0], 128, 128, rng)
    coverage = shape_coverage("star", cx, cy, d, 128, 128)
    assert (alpha[coverage == 0.0] == 0).mean() > 0.99
    inside = coverage == 1.0
    assert (alpha[inside] == 255).mean() > 0.98


def test_subject_cut_by_the_frame_keeps_the_key() -> None:
    """A subject that runs off the top edge puts its colour in the border: the background colour and its
    noise come from the border's dominant colour, not from all of it."""
    from PIL import ImageDraw

    img = Image.new("RGB", (96, 96), (245, 245, 245))
    ImageDraw.Draw(img).ellipse([10, -40, 86, 50], fill=(220, 30, 35))  # covers most of the top edge
    noisy = np.clip(np.asarray(img, np.float32) + np.random.default_rng(1).normal(0, 3, (96, 96, 3)), 0, 255)
    out, _ = remove_background(Image.fromarray(noisy.astype(np.uint8)), None)
    alpha = np.asarray(out)[..., 3]
    yy, xx = np.mgrid[0:96, 0:96]
    r = np.sqrt(((xx - 48) / 38) ** 2 + ((yy - 5) / 45) ** 2)  # the ellipse's own measure: 1 on its edge
    assert (alpha[r < 0.9] == 255).all() and (alpha[r > 1.1] == 0).all()
