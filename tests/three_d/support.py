"""What the 3D tests share: meshes made with trimesh in the test, a live server whose textures are painted by the
bundled Starter at tiny sizes, the presigned upload, polling, and the hue of a picture."""

from __future__ import annotations

import colorsys
import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import trimesh
from PIL import Image

from sfumato.settings import STARTER_MODEL_ID
from sfumato.testing.live_server import LiveServer, free_port, server_env

# Small everything: the whole 3D suite stays fast on a 2-core CPU.
TINY_TEXTURES = {
    "SFUMATO_TEXTURE_MODEL_ID": STARTER_MODEL_ID,
    "SFUMATO_TEXTURE_ATLAS_SIZE": "64",
    "SFUMATO_TEXTURE_VIEW_SIZE": "64",
    "SFUMATO_TEXTURE_PREVIEW_SIZE": "96",
    "SFUMATO_MODEL_3D_MAX_BYTES": "200000",
    "SFUMATO_MODEL_3D_MAX_VERTICES": "5000",
    "SFUMATO_MODEL_3D_MAX_FACES": "5000",
    "SFUMATO_PRELOAD_DEFAULT_MODEL": "false",
    "SFUMATO_TORCH_THREADS": "1",  # two threads on a busy 2-core machine spin: 20x slower
}


@contextmanager
def three_d_server(root: Path, tiny_catalog: Path, extra: dict[str, str] | None = None) -> Iterator[LiveServer]:
    env = {**server_env(root / "data", tiny_catalog), **TINY_TEXTURES, **(extra or {})}
    live = LiveServer(env, free_port(), root / "server.log")
    live.start()
    try:
        yield live
    finally:
        live.stop()


def cube_obj() -> bytes:
    """A unit cube as OBJ, no UVs."""
    return trimesh.creation.box().export(file_type="obj").encode()


def sphere_obj(count: int = 12) -> bytes:
    """A UV sphere as OBJ (positions only: trimesh's primitive has no UVs)."""
    return trimesh.creation.uv_sphere(radius=1.0, count=[count, count]).export(file_type="obj").encode()


def post_form(url: str, fields: str, data: bytes, name: str = "mesh.obj") -> httpx.Response:
    """The presigned upload: every parsed field, then the file as `file`, no Authorization header."""
    return httpx.post(url, data=json.loads(fields), files={"file": (name, data)}, timeout=30)


def wait_texture(client: httpx.Client, texture_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/generations-texture/{texture_id}").json()["model_asset_texture_generations_by_pk"]
        if body["status"] != "PENDING":
            return body
        time.sleep(0.2)
    raise AssertionError(f"texture {texture_id} still PENDING after {timeout}s")


def png(url: str) -> Image.Image:
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png", answer.text[:200]
    image = Image.open(io.BytesIO(answer.content))
    image.load()
    return image


def mean_hue(image: Image.Image) -> tuple[float, float]:
    """Hue (degrees) and saturation of the mean colour of the opaque pixels."""
    rgba = np.asarray(image.convert("RGBA"), np.float64)
    opaque = rgba[rgba[..., 3] > 0][:, :3] / 255
    r, g, b = opaque.mean(axis=0)
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    return h * 360, s


def hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)
