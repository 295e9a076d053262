"""A model with a depth ControlNet installed (<model>/controlnet/depth/, a tiny random one built here): texture
jobs steer each view with the depth map rendered from the mesh (no depth estimator needed: the map is the
control image as it is), and say so in `method`; the engine's `ready` control images skip the preprocessor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine.control import ControlInput, controlnet_folder
from sfumato.engine.control_pipes import control_image
from sfumato.engine.control_tiny import build_tiny_controlnet
from sfumato.engine.engine import Engine
from sfumato.engine.texture.mesh import Mesh
from sfumato.engine.texture.views import Camera, guide_pictures
from sfumato.engine.tiny import build_tiny_sd15
from sfumato.engine.types import GenerateRequest
from sfumato.testing.live_server import LiveServer
from tests.three_d.support import cube_obj, post_form, three_d_server, wait_texture

DEPTH_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000003d0"


@pytest.fixture(scope="module")
def depth_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_tiny_sd15(tmp_path_factory.mktemp("depth-model") / "tiny-depth", seed=3, buckets=[[64, 64]])
    build_tiny_controlnet(folder, kind="depth")
    return folder


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


@pytest.fixture(scope="module")
def server(depth_model: Path, tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("three-d-depth")
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "tiny.json").write_text((tiny_catalog / "tiny.json").read_text())
    entry = {"id": DEPTH_MODEL_ID, "name": "Tiny depth", "description": "tiny SD 1.5 + depth ControlNet",
             "path": str(depth_model), "recommended_steps": 4}  # fmt: skip
    (catalog / "depth.json").write_text(json.dumps([entry]))
    with three_d_server(root, catalog, {"SFUMATO_TEXTURE_MODEL_ID": DEPTH_MODEL_ID}) as live:
        yield live


def test_texture_jobs_use_the_depth_controlnet_when_the_model_has_one(server: LiveServer) -> None:
    client = server.client("depth-user")
    target = client.post("/models-3d/upload", json={"modelExtension": "obj"}).json()["uploadModelAsset"]
    assert post_form(target["modelUrl"], target["modelFields"], cube_obj()).status_code == 204
    body = {"modelAssetId": target["modelId"], "prompt": "a red cube", "seed": 5}
    texture_id = client.post("/generations-texture", json=body).json()["textureGenerationJob"]["id"]
    done = wait_texture(client, texture_id)
    assert done["status"] == "COMPLETE", done
    assert done["method"] == "depth-controlnet+img2img"
