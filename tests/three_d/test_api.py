"""3D model assets and texture generations through the official Python SDK against a live server: meshes made
here with trimesh are uploaded with the presigned form, read, listed, textured (the Starter paints the views:
the texture's colour must follow the prompt), and deleted; broken files and wrong ids are refused with a 4xx
that says what to send, and nothing of a refused upload is kept."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest
import trimesh
import xatlas
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models.errors import SDKError

from sfumato.testing.live_server import API, LiveServer, cli
from tests.three_d.support import (
    cube_obj,
    hue_distance,
    mean_hue,
    png,
    post_form,
    sphere_obj,
    three_d_server,
    wait_texture,
)

TS_DIR = Path(__file__).resolve().parents[1] / "ts"


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with three_d_server(tmp_path_factory.mktemp("three-d"), tiny_catalog) as live:
        yield live


def sdk(server: LiveServer, user: str) -> LeonardoAiSDK:
    return LeonardoAiSDK(bearer_auth=server.user(user)["api_key"], server_url=server.api_url)


def upload(
    client: LeonardoAiSDK, data: bytes, name: str = "mesh", extension: str = "obj"
) -> tuple[str, httpx.Response]:
    res = client.three_d_model_assets.upload_model_asset(request={"model_extension": extension, "name": name})
    target = res.object.upload_model_asset
    assert target is not None and target.model_id and target.model_key.endswith(f".{extension}")
    return target.model_id, post_form(target.model_url, target.model_fields_, data, f"{name}.{extension}")


def files_under(server: LiveServer, needle: str) -> list[Path]:
    root = Path(server.env["SFUMATO_DATA_DIR"])
    return [Path(d, n) for d, _, names in os.walk(root) for n in names if needle in str(Path(d, n))]


def test_upload_get_list_delete_through_the_python_sdk(server: LiveServer) -> None:
    client = sdk(server, "modeller")
    me = server.user("modeller")["user_id"]
    res = client.three_d_model_assets.upload_model_asset(request={"model_extension": "obj", "name": "cube"})
    target = res.object.upload_model_asset
    model_id = target.model_id
    posted = post_form(target.model_url, target.model_fields_, cube_obj())
    assert posted.status_code == 204, posted.text
    again = post_form(target.model_url, target.model_fields_, sphere_obj())  # the same form, twice
    assert again.status_code == 400 and "already uploaded" in again.json()["error"], again.text
    asset = client.three_d_model_assets.get3_d_model_by_id(id=model_id).object.model_assets_by_pk
    assert asset is not None and asset.id == model_id and asset.name == "cube" and asset.user_id == me
    assert asset.created_at and asset.updated_at
    mesh = httpx.get(asset.mesh_url)  # no auth header, like a CDN URL
    assert mesh.status_code == 200 and mesh.content == cube_obj()
    assert len(trimesh.load(io.BytesIO(mesh.content), file_type="obj").faces) == 12
    listed = client.three_d_model_assets.get3_d_models_by_user_id(user_id=me).object.model_assets
    assert [a.id for a in listed] == [model_id] and listed[0].mesh_url == asset.mesh_url
    deleted = client.three_d_model_assets.delete3_d_model_by_id(id=model_id).object.delete_model_assets_by_pk
    assert deleted is not None and deleted.id == model_id
    assert files_under(server, model_id) == []
    with pytest.raises(SDKError) as missing:
        client.three_d_model_assets.get3_d_model_by_id(id=model_id)
    assert missing.value.status_code == 404
    assert httpx.get(asset.mesh_url).status_code == 404


def test_glb_is_read_too(server: LiveServer) -> None:
    client = sdk(server, "modeller")
    glb = trimesh.creation.icosphere(subdivisions=1).export(file_type="glb")
    model_id, posted = upload(client, glb, "ball", "glb")
    assert posted.status_code == 204, posted.text
    asset = client.three_d_model_assets.get3_d_model_by_id(id=model_id).object.model_assets_by_pk
    assert asset is not None and httpx.get(asset.mesh_url).content == glb


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"v 0 0 0\nv 1 0 0\nf 1 2 7\n", "could not be read"),  # a face names a vertex that does not exist
        (b"this is not a mesh at all\n", "no triangles"),
        (b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no triangles"),  # a point cloud: vertices, no faces
        (b"   \n", "empty"),
    ],
)
def test_a_broken_obj_is_refused_and_nothing_is_kept(server: LiveServer, data: bytes, says: str) -> None:
    client = sdk(server, "breaker")
    model_id, posted = upload(client, data)
    assert posted.status_code == 400, posted.text
    error = posted.json()["error"]
    assert "the mesh was refused" in error and says in error and "Nothing was kept" in error, error
    assert files_under(server, model_id) == []
    asset = client.three_d_model_assets.get3_d_model_by_id(id=model_id).object.model_assets_by_pk
    assert asset is not None and asset.mesh_url is None
    raw = server.client("breaker").get(f"/models-3d/{model_id}").json()["model_assets_by_pk"]
    assert raw["status"] == "RESERVED" and says in raw["uploadRefusedReason"]
    textured = server.client("breaker").post("/generations-texture", json={"modelAssetId": model_id, "prompt": "red"})
    assert textured.status_code == 400 and "has no mesh yet" in textured.json()["error"], textured.text
    # The same form still takes a fixed file.
    res = server.client("breaker").post("/models-3d/upload", json={"modelExtension": "obj"}).json()
    assert (
        post_form(res["uploadModelAsset"]["modelUrl"], res["uploadModelAsset"]["modelFields"], cube_obj()).status_code
        == 204
    )


def test_limits_refuse_big_meshes(server: LiveServer) -> None:
    client = sdk(server, "limits")
    # 5,000 faces at most on this server (SFUMATO_MODEL_3D_MAX_FACES); an icosphere of 4 subdivisions has 5,120.
    dense = trimesh.creation.icosphere(subdivisions=4).export(file_type="obj").encode()
    model_id, posted = upload(client, dense)
    assert posted.status_code == 400 and "5120 faces" in posted.json()["error"], posted.text
    assert "decimate" in posted.json()["error"]
    too_big = b"# padding\n" * 25_000  # 250 kB > SFUMATO_MODEL_3D_MAX_BYTES (200 kB)
    model_id, posted = upload(client, too_big)
    assert posted.status_code == 400 and "EntityTooLarge" in posted.json()["error"], posted.text
    assert files_under(server, model_id) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"modelExtension": ".obj"}, 'send "obj", not ".obj"'),
        ({"modelExtension": "chair.obj"}, "not a file name"),
        ({"modelExtension": "fbx"}, "obj, glb or gltf"),
        ({}, "modelExtension"),
        ({"modelExtension": "obj", "name": 5}, "invalid value for name"),
    ],
)
def test_a_wrong_extension_says_what_to_send(server: LiveServer, body: dict, says: str) -> None:
    answer = server.client("modeller").post("/models-3d/upload", json=body)
    assert answer.status_code == 400 and says in answer.json()["error"], answer.text


def test_a_file_posted_to_the_reservation_gets_the_two_steps(server: LiveServer) -> None:
    answer = server.client("modeller").post("/models-3d/upload", files={"file": ("cube.obj", cube_obj())})
    assert answer.status_code == 400 and "modelUrl" in answer.json()["error"], answer.text


def calculator_price(server: LiveServer, user: str, preview: bool) -> int:
    body = {"service": "TEXTURE_GENERATION", "serviceParams": {"TEXTURE_GENERATION": {"preview": preview}}}
    answer = server.client(user).post("/pricing-calculator", json=body)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["calculateProductionApiServiceCost"]["cost"])


def _texture(server: LiveServer, user: str, model_id: str, **body: object) -> dict:
    client = sdk(server, user)
    job = client.texture.create_texture_generation(request={"model_asset_id": model_id, **body}).object
    assert job.texture_generation_job is not None and job.texture_generation_job.id
    price = calculator_price(server, user, bool(body.get("preview")))
    assert job.texture_generation_job.api_credit_cost == price and job.texture_generation_job.cost.amount == str(price)
    done = wait_texture(server.client(user), job.texture_generation_job.id)
    assert done["status"] == "COMPLETE", done
    # The SDK parses the same answer without loss.
    parsed = client.texture.get_texture_generation_by_id(id=done["id"]).object.model_asset_texture_generations_by_pk
    assert parsed is not None and parsed.id == done["id"] and parsed.status == "COMPLETE"
    assert parsed.prompt == body["prompt"] and parsed.seed == done["seed"]
    assert [(i.id, i.type, i.url) for i in parsed.model_asset_texture_images] == [
        (i["id"], i["type"], i["url"]) for i in done["model_asset_texture_images"]
    ]
    return done


@pytest.mark.parametrize(("shape", "make"), [("cube", cube_obj), ("sphere", sphere_obj)])
def test_texture_colours_follow_the_prompt(server: LiveServer, shape: str, make: object) -> None:
    client = sdk(server, "painter")
    model_id, posted = upload(client, make(), shape)  # type: ignore[operator]
    assert posted.status_code == 204, posted.text
    hues = {}
    for colour, hue in (("red", 0.0), ("blue", 230.0)):
        done = _texture(server, "painter", model_id, prompt=f"a {colour} {shape}", seed=7)
        (image,) = done["model_asset_texture_images"]
        assert image["type"] == "ALBEDO"
        atlas = png(image["url"])
        assert atlas.size == (64, 64)
        preview = png(done["previewUrl"])
        assert preview.size == (96, 96) and preview.mode == "RGBA"
        alpha = preview.getchannel("A")
        assert 0.15 < sum(1 for a in alpha.getdata() if a) / (96 * 96) < 0.9, "the mesh fills part of the preview"
        hues[colour], saturation = mean_hue(atlas)
        assert saturation > 0.25, (colour, saturation)
        assert hue_distance(hues[colour], hue) < 40, (colour, hues[colour])
        # No UVs in the upload: the mesh with generated UVs (OBJ + MTL naming the atlas) comes back.
        obj = httpx.get(done["meshUrl"]).text
        assert "mtllib mesh.mtl" in obj and "\nvt " in obj
        assert "map_Kd albedo.png" in httpx.get(done["materialUrl"]).text
        assert httpx.get(done["meshUrl"].replace("mesh.obj", "albedo.png")).content == httpx.get(image["url"]).content
    listed = client.texture.get_texture_generations_by_model_id(model_id=model_id).object
    assert len(listed.model_asset_texture_generations) == 2


def test_a_mesh_with_uvs_keeps_them_and_preview_paints_one_side(server: LiveServer) -> None:
    client = sdk(server, "previewer")
    plain = trimesh.creation.box()
    vmapping, faces, uv = xatlas.parametrize(plain.vertices, plain.faces)  # UVs made before the upload
    box = trimesh.Trimesh(plain.vertices[vmapping], faces, process=False)
    box.visual = trimesh.visual.TextureVisuals(uv=uv)
    model_id, posted = upload(client, box.export(file_type="obj", include_texture=True).encode(), "uvbox")
    assert posted.status_code == 204, posted.text
    done = _texture(server, "previewer", model_id, prompt="a green box", preview=True, preview_direction="top",
                    seed=3, front_rotation_offset=90, negative_prompt="red", sd_version="v1_5")  # fmt: skip
    assert "meshUrl" not in done and done["previewDirection"] == "top" and done["frontRotationOffset"] == 90
    assert done["method"] == "img2img-from-shading"  # no depth ControlNet for the Starter
    assert png(done["previewUrl"]).size == (96, 96)
    assert png(done["model_asset_texture_images"][0]["url"]).size == (64, 64)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"modelAssetId": None}, 400, '"modelAssetId"'),
        ({"modelAssetId": "00000000-0000-4000-8000-000000000000", "prompt": "red"}, 404, "not found"),
        ({"prompt": ""}, 400, '"prompt"'),
        ({"preview_direction": "sideways"}, 400, "front, right, back, left, top, bottom"),
        ({"front_rotation_offset": 720}, 400, "-360 to 360"),
        ({"front_rotation_offset": 1.5}, 400, "front_rotation_offset"),
        ({"seed": -1}, 400, "seed"),
        ({"sd_version": "SDXL_1_0"}, 400, "sd_version"),
    ],
)
def test_bad_texture_requests_say_what_to_send(server: LiveServer, body: dict, status: int, says: str) -> None:
    client = server.client("strict")
    res = client.post("/models-3d/upload", json={"modelExtension": "obj"}).json()["uploadModelAsset"]
    assert post_form(res["modelUrl"], res["modelFields"], cube_obj()).status_code == 204
    answer = client.post("/generations-texture", json={"modelAssetId": res["modelId"], "prompt": "red", **body})
    assert answer.status_code == status and says in answer.json()["error"], answer.text


def test_a_wrong_kind_of_id_says_which_id_belongs_there(server: LiveServer) -> None:
    client = server.client("mixer")
    res = client.post("/models-3d/upload", json={"modelExtension": "obj"}).json()["uploadModelAsset"]
    assert post_form(res["modelUrl"], res["modelFields"], cube_obj()).status_code == 204
    body = {"modelAssetId": res["modelId"], "prompt": "a red cube", "preview": True}
    texture_id = client.post("/generations-texture", json=body)
    texture_id = texture_id.json()["textureGenerationJob"]["id"]
    answer = client.post("/generations-texture", json={"modelAssetId": texture_id, "prompt": "red"})
    assert answer.status_code == 400 and "is a texture generation id, not a model asset id" in answer.json()["error"]
    generation = client.post(
        "/generations", json={"prompt": "a red circle", "width": 64, "height": 64, "num_images": 1}
    )
    generation_id = generation.json()["sdGenerationJob"]["generationId"]
    answer = client.post("/generations-texture", json={"modelAssetId": generation_id, "prompt": "red"})
    assert answer.status_code == 400 and "is a generation id, not a model asset id" in answer.json()["error"]
    assert "uploadModelAsset.modelId" in answer.json()["error"]
    wait_texture(client, texture_id)


def test_delete_a_texture_and_an_asset_with_its_textures(server: LiveServer) -> None:
    client = sdk(server, "cleaner")
    model_id, _ = upload(client, cube_obj())
    first = _texture(server, "cleaner", model_id, prompt="a yellow cube", preview=True)
    second = _texture(server, "cleaner", model_id, prompt="a cyan cube", preview=True)
    gone = client.texture.delete_texture_generation_by_id(id=first["id"]).object
    assert gone.delete_model_asset_texture_generations_by_pk.id == first["id"]
    assert files_under(server, first["id"]) == [] and files_under(server, second["id"])
    assert httpx.get(first["previewUrl"]).status_code == 404
    with pytest.raises(SDKError) as missing:
        client.texture.get_texture_generation_by_id(id=first["id"])
    assert missing.value.status_code == 404
    client.three_d_model_assets.delete3_d_model_by_id(id=model_id)
    assert files_under(server, model_id) == [] and files_under(server, second["id"]) == []
    assert server.client("cleaner").get(f"/generations-texture/{second['id']}").status_code == 404


def test_another_users_assets_and_textures_are_missing_ids(server: LiveServer) -> None:
    owner = sdk(server, "owner3d")
    model_id, _ = upload(owner, cube_obj())
    done = _texture(server, "owner3d", model_id, prompt="a red cube", preview=True)
    stranger = server.client("stranger3d")
    for method, path in (
        ("GET", f"/models-3d/{model_id}"),
        ("DELETE", f"/models-3d/{model_id}"),
        ("GET", f"/models-3d/user/{server.user('owner3d')['user_id']}"),
        ("GET", f"/generations-texture/model/{model_id}"),
        ("GET", f"/generations-texture/{done['id']}"),
        ("DELETE", f"/generations-texture/{done['id']}"),
    ):
        assert stranger.request(method, path).status_code == 404, (method, path)
    answer = stranger.post("/generations-texture", json={"modelAssetId": model_id, "prompt": "red"})
    assert answer.status_code == 404
    assert owner.three_d_model_assets.get3_d_model_by_id(id=model_id).object.model_assets_by_pk.id == model_id


def test_typescript_sdk_uploads_and_deletes_a_model_asset(server: LiveServer, tmp_path: Path) -> None:
    """uploadModelAsset and delete3DModelById, the two 3D operations the TS SDK has (tests/ts/models3d.mjs)."""
    node = shutil.which("node")
    if node is None or not (TS_DIR / "node_modules" / "@leonardo-ai" / "sdk").is_dir():
        pytest.fail("node and tests/ts/node_modules are needed: run `make test` (it runs `npm ci` in tests/ts)")
    mesh = tmp_path / "cube.obj"
    mesh.write_bytes(cube_obj())
    env = {
        **os.environ,
        "SERVER_URL": server.api_url,
        "API_KEY": server.user("ts-modeller")["api_key"],
        "OBJ_FILE": str(mesh),
    }
    proc = subprocess.run(
        [node, str(TS_DIR / "models3d.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: TypeScript SDK 3D model assets scenario" in proc.stdout


def test_every_3d_answer_validates_against_the_served_spec(server: LiveServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()

    def check(method: str, path: str, answer: httpx.Response) -> None:
        assert answer.status_code == 200, answer.text
        schema = spec["paths"][API + path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(answer.json(), {**schema, "components": spec["components"]})

    client = server.client("speccer")
    user_id = server.user("speccer")["user_id"]
    reserved = client.post("/models-3d/upload", json={"modelExtension": "obj", "name": "spec"})
    check("post", "/models-3d/upload", reserved)
    target = reserved.json()["uploadModelAsset"]
    assert post_form(target["modelUrl"], target["modelFields"], cube_obj()).status_code == 204
    model_id = target["modelId"]
    check("get", "/models-3d/{id}", client.get(f"/models-3d/{model_id}"))
    check("get", "/models-3d/user/{userId}", client.get(f"/models-3d/user/{user_id}"))
    started = client.post(
        "/generations-texture", json={"modelAssetId": model_id, "prompt": "a red cube", "preview": True}
    )
    check("post", "/generations-texture", started)
    texture_id = started.json()["textureGenerationJob"]["id"]
    check("get", "/generations-texture/{id}", client.get(f"/generations-texture/{texture_id}"))  # PENDING or not
    assert wait_texture(client, texture_id)["status"] == "COMPLETE"
    check("get", "/generations-texture/{id}", client.get(f"/generations-texture/{texture_id}"))
    check("get", "/generations-texture/model/{modelId}", client.get(f"/generations-texture/model/{model_id}"))
    check("delete", "/generations-texture/{id}", client.delete(f"/generations-texture/{texture_id}"))
    check("delete", "/models-3d/{id}", client.delete(f"/models-3d/{model_id}"))


def test_texture_jobs_are_charged_what_the_calculator_says_and_refused_beyond_the_balance(server: LiveServer) -> None:
    full, preview = calculator_price(server, "payer", False), calculator_price(server, "payer", True)
    assert full > preview > 0
    cli(server.env, "users", "set", "payer", "--credits", str(full - 1))
    client = server.client("payer")
    res = client.post("/models-3d/upload", json={"modelExtension": "obj"}).json()["uploadModelAsset"]
    assert post_form(res["modelUrl"], res["modelFields"], cube_obj()).status_code == 204
    refused = client.post("/generations-texture", json={"modelAssetId": res["modelId"], "prompt": "a red cube"})
    assert refused.status_code == 402, refused.text
    assert f"costs {full} credits" in refused.json()["error"] and f"balance is {full - 1}" in refused.json()["error"]
    assert client.get(f"/generations-texture/model/{res['modelId']}").json()["model_asset_texture_generations"] == []
    body = {"modelAssetId": res["modelId"], "prompt": "a red cube", "preview": True}
    job = client.post("/generations-texture", json=body).json()["textureGenerationJob"]
    assert job["apiCreditCost"] == preview
    me = client.get("/me").json()["user_details"][0]
    assert me["apiPaidTokens"] + me["apiSubscriptionTokens"] == full - 1 - preview
    wait_texture(client, job["id"])


def test_a_texture_whose_mesh_vanished_fails_with_a_reason_and_is_refunded(server: LiveServer) -> None:
    client = server.client("unlucky")
    cli(server.env, "users", "set", "unlucky", "--credits", "50")
    res = client.post("/models-3d/upload", json={"modelExtension": "obj"}).json()["uploadModelAsset"]
    assert post_form(res["modelUrl"], res["modelFields"], cube_obj()).status_code == 204
    (mesh,) = files_under(server, res["modelId"])
    mesh.unlink()  # the stored file is lost (an operator's mistake, a broken disk)
    body = {"modelAssetId": res["modelId"], "prompt": "a red cube", "preview": True}
    job = client.post("/generations-texture", json=body, headers={"Content-Type": "application/json"}).json()
    done = wait_texture(client, job["textureGenerationJob"]["id"])
    assert done["status"] == "FAILED" and "mesh was deleted before the job ran" in done["failureReason"], done
    assert done["model_asset_texture_images"] == [] and "previewUrl" not in done
    me = client.get("/me").json()["user_details"][0]
    assert me["apiPaidTokens"] + me["apiSubscriptionTokens"] == 50  # the charge came back
    # A JSON body on GET (the Python SDK sends one with request_body) changes nothing: the path wins.
    again = client.request("GET", f"/generations-texture/{done['id']}", json={"id": "something-else"})
    assert again.status_code == 200 and again.json()["model_asset_texture_generations_by_pk"]["id"] == done["id"]
