"""3D with object storage (moto's S3 on loopback): the mesh still goes through our receiver (it is parsed before
it is kept) and lands in the bucket; the mesh, the atlas, the preview and the OBJ with UVs are presigned S3
URLs that download without auth; deleting the asset removes its objects. The same server paints textures with
a model that has a depth ControlNet installed (a tiny random one): its jobs use it and say so in `method`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from sfumato.store.s3 import S3FileStore
from sfumato.testing.live_server import LiveServer
from tests.conftest import new_bucket_store, s3_storage_env
from tests.three_d.conftest import DEPTH_MODEL_ID
from tests.three_d.support import cube_obj, post_form, three_d_server, wait_texture

PREFIX = "three-d/"


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> S3FileStore:
    return new_bucket_store(s3_endpoint, PREFIX)


@pytest.fixture(scope="module")
def server(
    tiny_catalog: Path,
    depth_model: Path,
    tmp_path_factory: pytest.TempPathFactory,
    s3_endpoint: str,
    bucket: S3FileStore,
) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("three-d-s3")
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "tiny.json").write_text((tiny_catalog / "tiny.json").read_text())
    entry = {"id": DEPTH_MODEL_ID, "name": "Tiny depth", "description": "tiny SD 1.5 + depth ControlNet",
             "path": str(depth_model), "recommended_steps": 4}  # fmt: skip
    (catalog / "depth.json").write_text(json.dumps([entry]))
    s3 = {"SFUMATO_TEXTURE_MODEL_ID": DEPTH_MODEL_ID, **s3_storage_env(bucket, s3_endpoint)}
    with three_d_server(root, catalog, s3) as live:
        yield live


def test_meshes_and_textures_live_in_the_bucket(server: LiveServer, bucket: S3FileStore) -> None:
    client = server.client("s3-modeller")
    user_id = server.user("s3-modeller")["user_id"]
    target = client.post("/models-3d/upload", json={"modelExtension": "obj"}).json()["uploadModelAsset"]
    assert urlparse(target["modelUrl"]).path.endswith("/uploads/models-3d")  # our receiver, not the bucket
    assert post_form(target["modelUrl"], target["modelFields"], b"not a mesh\n").status_code == 400
    assert bucket.count(f"users/{user_id}/") == 0  # a refused mesh never reaches the bucket
    assert post_form(target["modelUrl"], target["modelFields"], cube_obj()).status_code == 204
    model_id = target["modelId"]
    mesh_url = client.get(f"/models-3d/{model_id}").json()["model_assets_by_pk"]["meshUrl"]
    assert urlparse(mesh_url).netloc == urlparse(server.env["SFUMATO_S3_ENDPOINT_URL"]).netloc
    assert httpx.get(mesh_url).content == cube_obj()
    body = {"modelAssetId": model_id, "prompt": "a blue cube", "preview": True}
    texture_id = client.post("/generations-texture", json=body).json()["textureGenerationJob"]["id"]
    done = wait_texture(client, texture_id)
    assert done["status"] == "COMPLETE", done
    assert done["method"] == "depth-controlnet+img2img"  # the texture model has a depth ControlNet
    for url in (done["model_asset_texture_images"][0]["url"], done["previewUrl"], done["meshUrl"], done["materialUrl"]):
        answer = httpx.get(url)
        assert answer.status_code == 200 and len(answer.content) > 50, url
    assert bucket.count(f"users/{user_id}/models-3d/{model_id}/") == 5  # mesh, atlas, preview, OBJ, MTL
    assert client.delete(f"/models-3d/{model_id}").status_code == 200
    assert bucket.count(f"users/{user_id}/") == 0
