"""Depth (20) and Pose (21) guidance with an operator's estimator models: the control image is what the installed
estimator gives (checked against transformers run by hand), it reaches the ControlNet (the engine's output is
plain diffusers' ControlNet pipeline fed that map), requests through the official Python SDK complete and
follow the picture, and a model without the ControlNet or without a fitting estimator gets the 400 naming why,
its served ids leaving 20 and 21 out."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from sfumato.engine.control import ControlInput
from sfumato.engine.control_estimators import COLOURS, Pose, draw_openpose, openpose_points
from sfumato.engine.control_pipes import control_image
from sfumato.engine.engine import Engine
from sfumato.engine.types import GenerateRequest
from tests.control.conftest import GUIDED_MODEL_ID, HALF_MODEL_ID, PLAIN_MODEL_ID, SMALL, ControlServer
from tests.images.support import fetch, generate, pixels, upload


def _person(shift: int = 0, size: tuple[int, int] = (96, 128)) -> Image.Image:
    """A figure on a dark ground (any picture works for random estimators; two differ)."""
    img = Image.new("RGB", size, (30, 30, 70))
    draw = ImageDraw.Draw(img)
    draw.ellipse([30 + shift, 8, 62 + shift, 40], fill=(240, 200, 160))
    draw.rectangle([28 + shift, 42, 66 + shift, 90], fill=(200, 40, 40))
    draw.rectangle([20 + shift, 90, 74 + shift, 124], fill=(40, 160, 60))
    return img


def _levels(a: Image.Image, b: Image.Image) -> int:
    return int(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).max())


def test_the_depth_map_is_the_installed_estimators_output(control_models: dict[str, Path]) -> None:
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    net = control_models["guided"] / "controlnet" / "depth"
    picture = _person()
    ours = control_image(ControlInput("depth", picture, net), 64, 64)
    model = AutoModelForDepthEstimation.from_pretrained(str(net / "preprocessor"), local_files_only=True).eval()
    processor = AutoImageProcessor.from_pretrained(str(net / "preprocessor"), local_files_only=True)
    with torch.inference_mode():
        outputs = model(**processor(images=picture, return_tensors="pt"))
    depth = processor.post_process_depth_estimation(outputs, target_sizes=[(64, 64)])[0]["predicted_depth"]
    depth = ((depth - depth.min()) / (depth.max() - depth.min()) * 255).round().numpy().astype(np.uint8)
    assert ours.size == (64, 64) and ours.mode == "RGB"
    arr = np.asarray(ours, np.int16)
    assert np.array_equal(arr[..., 0], arr[..., 2]) and arr.std() > 10, "a grey map with some relief"
    assert np.abs(arr[..., 0] - depth.astype(np.int16)).max() <= 1
    other = np.asarray(control_image(ControlInput("depth", _person(shift=20), net), 64, 64), np.int16)
    assert np.abs(other - arr).mean() > 1, "another picture, another map"


def _hand_pose(picture: Image.Image, folder: Path) -> Pose:
    """ViTPose by hand: the whole picture as the person box (padded 1.25, widened to the input's aspect), warped to
    the input size, ImageNet-normalised; heatmap argmax, a quarter pixel towards the higher neighbour, mapped back."""
    import cv2
    from transformers import VitPoseForPoseEstimation

    model = VitPoseForPoseEstimation.from_pretrained(str(folder), local_files_only=True).eval()
    h_in, w_in = model.config.backbone_config.image_size
    w, h = picture.size
    bw, bh = (w, w * h_in / w_in) if w / h > w_in / h_in else (h * w_in / h_in, h)
    bw, bh = bw * 1.25, bh * 1.25
    sx, sy = (w_in - 1) / bw, (h_in - 1) / bh
    matrix = np.array([[sx, 0, (w_in - 1) / 2 - sx * w / 2], [0, sy, (h_in - 1) / 2 - sy * h / 2]], np.float32)
    crop = cv2.warpAffine(np.asarray(picture), matrix, (w_in, h_in), flags=cv2.INTER_LINEAR).astype(np.float32)
    crop = (crop / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    with torch.inference_mode():
        heat = model(pixel_values=torch.tensor(crop.transpose(2, 0, 1)[None], dtype=torch.float32)).heatmaps[0].numpy()
    keypoints, scores = [], []
    for k in range(17):
        y, x = np.unravel_index(heat[k].argmax(), heat[k].shape)
        fx, fy = float(x), float(y)
        if 0 < x < heat.shape[2] - 1:
            fx += 0.25 * np.sign(heat[k, y, x + 1] - heat[k, y, x - 1])
        if 0 < y < heat.shape[1] - 1:
            fy += 0.25 * np.sign(heat[k, y + 1, x] - heat[k, y - 1, x])
        keypoints.append(
            (w / 2 - bw / 2 + fx * bw / (heat.shape[2] - 1), h / 2 - bh / 2 + fy * bh / (heat.shape[1] - 1))
        )
        scores.append(heat[k].max())
    return Pose(np.array(keypoints, np.float32), np.array(scores, np.float32))


def test_the_pose_map_draws_the_installed_estimators_keypoints(control_models: dict[str, Path]) -> None:
    from sfumato.engine.control_estimators import estimate_pose

    net = control_models["guided"] / "controlnet" / "pose"
    picture = _person()
    expected = _hand_pose(picture, net / "preprocessor")
    pose = estimate_pose(picture, net / "preprocessor")
    assert np.allclose(pose.keypoints, expected.keypoints, atol=1e-2), (pose.keypoints, expected.keypoints)
    assert np.allclose(pose.scores, expected.scores, rtol=1e-4)
    ours = control_image(ControlInput("pose", picture, net), 64, 64)
    hand = draw_openpose(openpose_points(expected, picture.size), 64, 64)
    diff = np.abs(np.asarray(ours, np.int16) - np.asarray(hand, np.int16)).max(axis=2)
    # the same skeleton: keypoints agree to 1e-2 px, so only roundings along a limb's edge (its angle is drawn in
    # whole degrees) may differ
    assert (diff > 2).mean() < 0.05 and diff.mean() < 1 and np.asarray(ours).max() > 100


def test_the_pose_map_follows_controlnets_openpose_colours() -> None:
    # a standing figure facing us (COCO order: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
    coco = [(50, 15), (53, 12), (47, 12), (56, 14), (44, 14), (60, 28), (40, 28), (64, 45), (36, 45), (66, 60),
            (34, 60), (57, 62), (43, 62), (58, 82), (42, 82), (59, 98), (41, 98)]  # fmt: skip
    scores = np.ones(17, np.float32)
    scores[16] = 0.1  # below the threshold: the right ankle is left out
    points = openpose_points(Pose(np.array(coco, np.float32), scores), (100, 100))
    assert points[1] == pytest.approx((0.5, 0.28)), "the neck is the shoulders' midpoint"
    assert points[10] is None and points[2] == pytest.approx((0.40, 0.28)), "OpenPose 2 is COCO 6, the right shoulder"
    arr = np.asarray(draw_openpose(points, 512, 512))
    for index, (x, y) in [(0, (50, 15)), (1, (50, 28)), (2, (40, 28)), (4, (34, 60)), (13, (59, 98))]:
        assert tuple(arr[round(y * 5.12), round(x * 5.12)]) == COLOURS[index], index
    # a limb is drawn at 60% of its colour: neck -> right shoulder is limb 0, red
    assert tuple(arr[round(28 * 5.12), round(45 * 5.12)]) == (153, 0, 0)
    assert tuple(arr[5, 5]) == (0, 0, 0)


@pytest.mark.parametrize("kind", ["depth", "pose"])
def test_the_map_reaches_the_controlnet(control_models: dict[str, Path], kind: str) -> None:
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

    guided = control_models["guided"]
    net = guided / "controlnet" / kind
    picture = _person()
    engine = Engine(1 << 28, num_threads=1)
    base = dict(model_path=guided, prompt="a red cat", width=64, height=64, num_inference_steps=4, seed=9)
    guided_out = engine.generate(GenerateRequest(**base, controls=(ControlInput(kind, picture, net),))).images[0]
    free_out = engine.generate(GenerateRequest(**base)).images[0]

    by_hand = StableDiffusionControlNetPipeline.from_pretrained(
        str(guided), controlnet=ControlNetModel.from_pretrained(str(net)), safety_checker=None
    )
    by_hand.set_progress_bar_config(disable=True)
    control = control_image(ControlInput(kind, picture, net), 64, 64)  # checked against transformers above
    hand = by_hand(
        "a red cat", image=control, width=64, height=64, num_inference_steps=4, guidance_scale=7.0,
        generator=torch.Generator("cpu").manual_seed(9), output_type="pil",
    ).images[0]  # fmt: skip
    assert _levels(guided_out, hand) <= 2
    assert np.abs(np.asarray(guided_out, np.int16) - np.asarray(free_out, np.int16)).mean() > 1


@pytest.fixture(scope="module")
def client(control_server: ControlServer) -> httpx.Client:
    return control_server.client()


def test_depth_and_pose_requests_through_the_sdk_follow_the_picture(control_server: ControlServer, client) -> None:
    sdk = control_server.sdk()
    one, two = upload(client, _person()), upload(client, _person(shift=25))

    def run(controlnets: list | None, **extra: object) -> np.ndarray:
        request = {"prompt": "a red cat", **SMALL, "seed": 11, "model_id": GUIDED_MODEL_ID, **extra}
        if controlnets is not None:
            request["controlnets"] = controlnets
        generation_id = sdk.image.create_generation(request=request).object.sd_generation_job.generation_id
        from tests.images.support import wait

        gen = wait(client, f"/generations/{generation_id}")
        assert gen["status"] == "COMPLETE", gen
        return pixels(fetch(gen["generated_images"][0]["url"]))

    free = run(None)
    for pid in (20, 21):
        a = run([{"init_image_id": one, "init_image_type": "UPLOADED", "preprocessor_id": pid, "weight": 1.5}])
        b = run([{"init_image_id": two, "init_image_type": "UPLOADED", "preprocessor_id": pid, "weight": 1.5}])
        assert np.abs(a - free).mean() > 0.5, pid
        assert np.abs(a - b).mean() > 0.1, f"{pid}: another picture, another output"
    # the deprecated spelling is the same request
    legacy = generate(
        client,
        {"prompt": "a red cat", **SMALL, "seed": 11, "modelId": GUIDED_MODEL_ID, "init_image_id": one,
         "controlNet": True, "controlNetType": "POSE", "weighting": 1.5},
    )  # fmt: skip
    modern = run([{"init_image_id": one, "init_image_type": "UPLOADED", "preprocessor_id": 21, "weight": 1.5}])
    assert np.array_equal(pixels(fetch(legacy["generated_images"][0]["url"])), modern)


def test_missing_controlnets_and_estimators_get_the_named_reason(client: httpx.Client) -> None:
    image = upload(client, _person())

    def error(model_id: str, pid: int) -> str:
        entry = {"initImageId": image, "initImageType": "UPLOADED", "preprocessorId": pid}
        r = client.post("/generations", json={"prompt": "x", **SMALL, "modelId": model_id, "controlnets": [entry]})
        assert r.status_code == 400, r.text
        return r.json()["error"]

    assert "needs a depth estimator model, and none is installed" in error(HALF_MODEL_ID, 20)
    assert "<depth ControlNet folder>/preprocessor/" in error(HALF_MODEL_ID, 20)
    assert "must be a ViTPose folder" in error(HALF_MODEL_ID, 21)
    assert "no depth ControlNet is installed" in error(PLAIN_MODEL_ID, 20)
    assert "no pose ControlNet is installed" in error(PLAIN_MODEL_ID, 21)
    served = {model: error(model, 999) for model in (GUIDED_MODEL_ID, HALF_MODEL_ID, PLAIN_MODEL_ID)}
    assert "20 (Depth to Image)" in served[GUIDED_MODEL_ID] and "21 (Pose to Image)" in served[GUIDED_MODEL_ID]
    for model in (HALF_MODEL_ID, PLAIN_MODEL_ID):
        assert "20 (" not in served[model] and "21 (" not in served[model], served[model]
        assert "67 (Style Reference)" in served[model]
