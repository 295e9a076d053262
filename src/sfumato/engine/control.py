"""Structural guidance (ControlNet) inputs and where their weights live; torch-free, so services can ask which
kinds a model serves without loading anything.

A ControlNet for a model is a diffusers ControlNetModel folder (config.json + weights), found in this order:
1. `<model folder>/controlnet/<kind>/` (an operator installs one for an operator's model);
2. `<model folder>-controlnet-<kind>/` beside the model folder (how models/starter-controlnet-edge/ ships
   beside models/starter/).
The kind is one of KINDS. A kind whose preprocessor needs an estimator model (depth, pose) is served only when
that estimator is installed in the ControlNet's folder too: `<controlnet folder>/preprocessor/`, a transformers
folder (config.json, weights, preprocessor_config.json) of a depth-estimation model (DPT, Depth Anything, ...:
anything `AutoModelForDepthEstimation` loads) or of ViTPose (engine/control_estimators.py runs them). This server
ships none; a symlink to one shared folder serves several ControlNets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

# Our kind -> how its control image is made from the user's picture.
KINDS: dict[str, str] = {
    "edge": "canny",  # in-process (OpenCV), no model needed
    "depth": "depth estimator",
    "pose": "pose estimator",
}
IN_PROCESS = frozenset({"edge"})  # preprocessors that need no installed model
ESTIMATOR_DIR = "preprocessor"  # inside the ControlNet folder: the estimator model of depth and pose


@dataclass(frozen=True)
class ControlInput:
    """One structural guidance: the user's picture (the preprocessor runs in the engine), its kind, the
    ControlNet folder that serves it, and diffusers' controlnet_conditioning_scale."""

    kind: str
    image: Image.Image
    folder: Path
    scale: float = 1.0
    # The image already is the control image (e.g. a depth map rendered from a mesh, engine/texture): no
    # preprocessor runs, so a kind without an installed estimator can still be guided.
    ready: bool = False


def controlnet_folder(model_path: Path, kind: str) -> Path | None:
    """The ControlNet folder of `kind` for the model at `model_path`, or None."""
    for folder in (model_path / "controlnet" / kind, model_path.parent / f"{model_path.name}-controlnet-{kind}"):
        if (folder / "config.json").is_file():
            return folder
    return None


def estimator_folder(controlnet: Path) -> Path:
    return controlnet / ESTIMATOR_DIR


def estimator_problem(kind: str, folder: Path) -> str | None:
    """None when `folder` holds an estimator of the kind `kind` needs (read from its config.json, no torch);
    else what is wrong with it."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return f"the {kind} preprocessor needs a {KINDS[kind]} model, and none is installed on this server"
    if not isinstance(config, dict):
        return f"{folder.name}/config.json of the {kind} estimator is not a transformers config"
    model_type, archs = config.get("model_type"), config.get("architectures") or []
    if kind == "pose" and model_type != "vitpose":
        return f"the pose estimator must be a ViTPose folder (model_type vitpose), got model_type {model_type!r}"
    if kind == "depth" and not any(str(a).endswith("ForDepthEstimation") for a in archs):
        return (
            "the depth estimator must be a depth-estimation model (architectures ending in ForDepthEstimation: "
            f"DPT, Depth Anything, ...), got {archs or model_type!r}"
        )
    return None


def unservable_reason(model_path: Path, kind: str) -> str | None:
    """None when `kind` can run on the model; else why not, in words an operator can act on."""
    folder = controlnet_folder(model_path, kind)
    if folder is None:
        return (
            f"no {kind} ControlNet is installed for this model (put a diffusers ControlNetModel folder at "
            f"<model>/controlnet/{kind}/)"
        )
    if kind not in IN_PROCESS:
        problem = estimator_problem(kind, estimator_folder(folder))
        if problem is not None:
            return f"{problem} (put one at <{kind} ControlNet folder>/{ESTIMATOR_DIR}/)"
    return None
