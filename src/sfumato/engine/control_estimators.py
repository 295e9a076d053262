"""The depth and pose preprocessors: an operator's estimator model (a transformers folder installed at
`<ControlNet folder>/preprocessor/`, engine/control.py) turns the user's picture into the control image the
ControlNet was trained on. Nothing is downloaded: the folder is loaded with `local_files_only`.

- depth: any `AutoModelForDepthEstimation` folder (DPT, Depth Anything, ...) with its image processor. The map
  is relative inverse depth, near = bright, min-max scaled to 0-255 on three channels, as ControlNet depth models
  are trained (MiDaS maps); a metric estimator (ZoeDepth, Depth Anything metric: far = large) is inverted first.
- pose: a ViTPose folder (`VitPoseForPoseEstimation`), top-down, with the whole picture as the one person box
  (no person detector ships; a picture of several people gets one skeleton). Its 17 COCO keypoints become
  OpenPose's 18 (the neck is the shoulders' midpoint) drawn as ControlNet's OpenPose annotator draws them
  (lllyasviel/ControlNet-v1-1-nightly annotator/openpose/util.py `draw_bodypose`): black ground, 17 limbs as
  ellipses 4 px wide at 60% of their colour, then the keypoints as 4 px discs in full colour, on a canvas whose
  long side is 512 (the annotator's detect resolution), resized to the render size.

Bounded in time: both estimators run once per control image, under `torch.inference_mode`, at their own fixed
input size (the depth processor's `size`, ViTPose's `image_size`), whatever the size of the user's picture.
ViTPose's crop (transformers' box-to-centre/scale and unbiased warp matrix) is applied with OpenCV's
warpAffine (transformers' PIL backend needs scipy, which this project does not install), and heatmaps are
decoded by argmax with mmpose's quarter-pixel shift towards the higher neighbour (instead of DARK, also scipy).
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from sfumato.engine.load_lock import LOAD_LOCK
from sfumato.engine.types import AddonError

POSE_CANVAS = 512  # the OpenPose annotator's detect resolution: its line widths are for this size
KEYPOINT_THRESHOLD = 0.3  # keypoints scored below are left out (the annotator's and DWPose's cut)
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
# OpenPose's 18 body keypoints, as COCO indices (None: the neck, the shoulders' midpoint).
OPENPOSE_FROM_COCO: tuple[int | None, ...] = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
# draw_bodypose's limbs (1-based OpenPose indices) and colours (RGB), in its order; it draws the first 17 limbs.
LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13), (13, 14),
         (2, 1), (1, 15), (15, 17), (1, 16), (16, 18))  # fmt: skip
COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))  # fmt: skip
_STICK_WIDTH = 4

_lock = threading.Lock()
_loaded: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}  # (folder, kind, mtime, device) -> model, extra


def _signature(folder: Path) -> int:
    """Changes when the operator replaces the estimator's files (no restart needed)."""
    return max((p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()), default=0)


def _load(folder: Path, kind: str, device: str) -> tuple[Any, Any]:
    key = (str(folder.resolve()), kind, _signature(folder), device)
    with _lock:
        if key not in _loaded:
            try:
                with LOAD_LOCK:
                    model, extra = _depth_loader(folder) if kind == "depth" else _pose_loader(folder)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError, AttributeError) as exc:
                raise AddonError(
                    f"the {kind} estimator in {folder.parent.name}/{folder.name}/ could not be loaded: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            _loaded[key] = (model.to(device).eval(), extra)
        return _loaded[key]


def _depth_loader(folder: Path) -> tuple[Any, Any]:
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    model = AutoModelForDepthEstimation.from_pretrained(str(folder), local_files_only=True)
    processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
    return model, processor


def _pose_loader(folder: Path) -> tuple[Any, dict[str, Any]]:
    from transformers import VitPoseForPoseEstimation

    model = VitPoseForPoseEstimation.from_pretrained(str(folder), local_files_only=True)
    processing: dict[str, Any] = {}
    if (folder / "preprocessor_config.json").is_file():
        processing = json.loads((folder / "preprocessor_config.json").read_text())
    height, width = model.config.backbone_config.image_size
    size = processing.get("size") or {"height": height, "width": width}
    return model, {
        "size": (int(size["width"]), int(size["height"])),
        "mean": tuple(processing.get("image_mean") or _IMAGENET_MEAN),
        "std": tuple(processing.get("image_std") or _IMAGENET_STD),
        "experts": int(getattr(model.config.backbone_config, "num_experts", 1) or 1),
    }


def is_metric(config: Any) -> bool:
    """Metric estimators give distance (far = large); ControlNets take inverse depth (near = bright)."""
    return config.model_type == "zoedepth" or getattr(config, "depth_estimation_type", "relative") == "metric"


def depth_map(image: Image.Image, folder: Path, width: int, height: int, device: str = "cpu") -> Image.Image:
    """The depth control image of `image` at width x height (RGB, near = bright)."""
    model, processor = _load(folder, "depth", device)
    inputs = processor(images=image.convert("RGB"), return_tensors="pt")
    with torch.inference_mode():
        predicted = model(pixel_values=inputs["pixel_values"].to(device, model.dtype)).predicted_depth
    depth = predicted.float().reshape(1, 1, *predicted.shape[-2:])
    depth = torch.nn.functional.interpolate(depth, size=(height, width), mode="bicubic", align_corners=False)[0, 0]
    if is_metric(model.config):
        depth = -depth
    low, high = float(depth.min()), float(depth.max())
    scaled = (depth - low) / (high - low) if high - low > 1e-12 else torch.zeros_like(depth)
    grey = (scaled.clamp(0, 1) * 255.0).round().to(torch.uint8).cpu().numpy()
    return Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")


@dataclass(frozen=True)
class Pose:
    """COCO keypoints in the picture's own pixels (17 x 2) and their scores (17)."""

    keypoints: np.ndarray
    scores: np.ndarray


def _crop(image: Image.Image, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model input for the whole picture as the person box: (H x W x 3 uint8 crop, centre, scale)."""
    from transformers.models.vitpose.image_processing_pil_vitpose import box_to_center_and_scale, get_warp_matrix

    arr = np.asarray(image.convert("RGB"))
    w, h = size
    center, scale = box_to_center_and_scale([0, 0, arr.shape[1], arr.shape[0]], image_width=w, image_height=h)
    matrix = get_warp_matrix(0, center * 2.0, np.array([w, h]) - 1.0, scale * 200.0)
    crop = cv2.warpAffine(arr, matrix, (w, h), flags=cv2.INTER_LINEAR)
    return crop, center, scale


def decode_heatmaps(heatmaps: np.ndarray, center: np.ndarray, scale: np.ndarray) -> Pose:
    """(K, h, w) heatmaps -> keypoints in the picture: argmax, a quarter pixel towards the higher neighbour,
    then transformers' unbiased heatmap -> picture transform."""
    from transformers.models.vitpose.image_processing_pil_vitpose import transform_preds

    count, h, w = heatmaps.shape
    flat = heatmaps.reshape(count, -1)
    index = flat.argmax(axis=1)
    scores = flat.max(axis=1).astype(np.float32)
    coords = np.stack([index % w, index // w], axis=1).astype(np.float32)
    for k in range(count):
        x, y = int(coords[k, 0]), int(coords[k, 1])
        if 0 < x < w - 1:
            coords[k, 0] += 0.25 * np.sign(heatmaps[k, y, x + 1] - heatmaps[k, y, x - 1])
        if 0 < y < h - 1:
            coords[k, 1] += 0.25 * np.sign(heatmaps[k, y + 1, x] - heatmaps[k, y - 1, x])
    keypoints = transform_preds(coords, center=center, scale=scale, output_size=[h, w])
    return Pose(keypoints[:, :2].astype(np.float32), scores)


def estimate_pose(image: Image.Image, folder: Path, device: str = "cpu") -> Pose:
    model, meta = _load(folder, "pose", device)
    crop, center, scale = _crop(image, meta["size"])
    pixels = (crop.astype(np.float32) / 255.0 - np.array(meta["mean"], np.float32)) / np.array(meta["std"], np.float32)
    tensor = torch.from_numpy(pixels.transpose(2, 0, 1)[None].copy()).to(device, model.dtype)
    kwargs: dict[str, Any] = {}
    if meta["experts"] > 1:  # ViTPose+: one expert per dataset; 0 is COCO's 17 body keypoints
        kwargs["dataset_index"] = torch.zeros(1, dtype=torch.long, device=device)
    with torch.inference_mode():
        heatmaps = model(pixel_values=tensor, **kwargs).heatmaps[0].float().cpu().numpy()
    if heatmaps.shape[0] < 17:
        raise AddonError(f"the pose estimator gives {heatmaps.shape[0]} keypoints; COCO's 17 are needed")
    return decode_heatmaps(heatmaps[:17], center, scale)


def openpose_points(pose: Pose, size: tuple[int, int]) -> list[tuple[float, float] | None]:
    """OpenPose's 18 keypoints as fractions of the picture (None: not found)."""
    w, h = size
    found = [
        (float(x) / w, float(y) / h) if s >= KEYPOINT_THRESHOLD else None
        for (x, y), s in zip(pose.keypoints, pose.scores, strict=True)
    ]
    points: list[tuple[float, float] | None] = []
    for coco in OPENPOSE_FROM_COCO:
        if coco is None:
            right, left = found[6], found[5]
            points.append(((right[0] + left[0]) / 2, (right[1] + left[1]) / 2) if right and left else None)
        else:
            points.append(found[coco])
    return points


def draw_openpose(points: list[tuple[float, float] | None], width: int, height: int) -> Image.Image:
    """ControlNet's OpenPose body map of `points` (fractions of the picture) at width x height."""
    ratio = POSE_CANVAS / max(width, height)
    cw, ch = max(1, round(width * ratio)), max(1, round(height * ratio))
    canvas = np.zeros((ch, cw, 3), np.uint8)
    for (a, b), colour in zip(LIMBS, COLOURS, strict=False):
        p, q = points[a - 1], points[b - 1]
        if p is None or q is None:
            continue
        (x0, y0), (x1, y1) = (p[0] * cw, p[1] * ch), (q[0] * cw, q[1] * ch)
        length = math.hypot(x1 - x0, y1 - y0)
        angle = math.degrees(math.atan2(y0 - y1, x0 - x1))
        centre = (int((x0 + x1) / 2), int((y0 + y1) / 2))
        polygon = cv2.ellipse2Poly(centre, (int(length / 2), _STICK_WIDTH), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, np.asarray(polygon, np.int32), colour)
    canvas = (canvas * 0.6).astype(np.uint8)
    for point, colour in zip(points, COLOURS, strict=True):
        if point is not None:
            cv2.circle(canvas, (int(point[0] * cw), int(point[1] * ch)), 4, colour, thickness=-1)
    return Image.fromarray(canvas, "RGB").resize((width, height), Image.Resampling.BILINEAR)


def pose_map(image: Image.Image, folder: Path, width: int, height: int, device: str = "cpu") -> Image.Image:
    """The pose control image of `image` at width x height."""
    pose = estimate_pose(image, folder, device)
    return draw_openpose(openpose_points(pose, image.size), width, height)
