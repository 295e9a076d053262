"""The engine side of texture jobs' depth guidance: a `ready` control image (the depth map rendered from a mesh)
skips the preprocessor, is used as it is, and steers the picture (test_s3.py runs a texture job on a model with
the depth ControlNet installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sfumato.engine.control import ControlInput, controlnet_folder
from sfumato.engine.control_pipes import control_image
from sfumato.engine.engine import Engine
from sfumato.engine.texture.mesh import Mesh
from sfumato.engine.texture.views import Camera, guide_pictures
from sfumato.engine.types import GenerateRequest


def test_a_ready_control_image_is_used_as_it_is_and_steers_the_picture(depth_model: Path) -> None:
    import trimesh

    box = trimesh.creation.box()
    mesh = Mesh(np.asarray(box.vertices, float), np.asarray(box.faces, np.int64)).normalized()
    shading, depth, _ = guide_pictures(mesh, Camera.named("front", 64, 30))
    folder = controlnet_folder(depth_model, "depth")
    assert folder is not None
    ready = ControlInput("depth", depth, folder, 1.0, ready=True)
    assert np.array_equal(np.asarray(control_image(ready, 64, 64)), np.asarray(depth.convert("RGB")))
    engine = Engine(256 << 20, num_threads=1)
    base = GenerateRequest(model_path=depth_model, prompt="a red cube", width=64, height=64, num_inference_steps=4,
                           seed=1, init_image=shading, strength=0.8)  # fmt: skip
    plain = np.asarray(engine.generate(base).images[0], np.float32)
    flat = ControlInput("depth", Image.new("L", (64, 64)), folder, 1.0, ready=True)
    steered = [
        np.asarray(engine.generate(GenerateRequest(**{**base.__dict__, "controls": (c,)})).images[0], np.float32)
        for c in (ready, flat)
    ]
    assert np.abs(steered[0] - plain).mean() > 1 and np.abs(steered[0] - steered[1]).mean() > 1
