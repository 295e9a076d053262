"""The ControlNet and canvas tests share one real server: the platform catalog (the Starter, with its shipped
edge ControlNet beside it), a tiny SD 1.5 with tiny random edge, depth and pose ControlNets installed in its folder
(the depth and pose ones with tiny random estimators in their preprocessor/ folders), one with a depth ControlNet
but no estimator and a pose ControlNet whose estimator is of the wrong kind, and one without any ControlNet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK

from sfumato.testing.live_server import LiveServer, free_port, server_env

GUIDED_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000c0a01"  # tiny SD 1.5 + controlnet/edge/, depth/ and pose/
PLAIN_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000c0a02"  # tiny SD 1.5, no ControlNet
HALF_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000c0a03"  # depth and pose ControlNets, no usable estimator
SMALL = {"num_images": 1, "width": 64, "height": 64, "num_inference_steps": 10}


@dataclass
class ControlServer:
    server: LiveServer

    def client(self, user: str = "guide") -> httpx.Client:
        return self.server.client(user)

    def sdk(self, user: str = "guide") -> LeonardoAiSDK:
        return LeonardoAiSDK(bearer_auth=self.server.user(user)["api_key"], server_url=self.server.api_url)


@pytest.fixture(scope="session")
def control_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The model folders by name (guided, half, plain) and the catalog folder that lists them."""
    from sfumato.engine.control_tiny import build_tiny_controlnet, build_tiny_depth_estimator, build_tiny_pose_estimator
    from sfumato.engine.tiny import build_tiny_sd15

    root = tmp_path_factory.mktemp("control-models")
    guided = build_tiny_sd15(root / "tiny-guided", seed=0, buckets=[[64, 64]])
    build_tiny_controlnet(guided, "edge", seed=3)
    build_tiny_depth_estimator(build_tiny_controlnet(guided, "depth", seed=4) / "preprocessor", seed=5)
    build_tiny_pose_estimator(build_tiny_controlnet(guided, "pose", seed=6) / "preprocessor", seed=7)
    half = build_tiny_sd15(root / "tiny-half", seed=0, buckets=[[64, 64]])
    build_tiny_controlnet(half, "depth", seed=4)  # installed, but no depth estimator to make its maps
    build_tiny_depth_estimator(build_tiny_controlnet(half, "pose", seed=6) / "preprocessor")  # not a pose model
    plain = build_tiny_sd15(root / "tiny-plain", seed=0, buckets=[[64, 64]])
    catalog = root / "catalog"
    catalog.mkdir()
    entries = [
        {"id": GUIDED_MODEL_ID, "name": "Tiny guided", "description": "edge, depth, pose", "path": str(guided)},
        {"id": HALF_MODEL_ID, "name": "Tiny half", "description": "no estimators", "path": str(half)},
        {"id": PLAIN_MODEL_ID, "name": "Tiny plain", "description": "no ControlNet", "path": str(plain)},
    ]
    (catalog / "control.json").write_text(json.dumps([{**e, "recommended_steps": 10} for e in entries]))
    return {"guided": guided, "half": half, "plain": plain, "catalog": catalog}


@pytest.fixture(scope="session")
def control_server(
    control_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlServer]:
    catalog = control_models["catalog"]
    data = tmp_path_factory.mktemp("control-data")
    server = LiveServer(server_env(data, catalog, default_model_id=GUIDED_MODEL_ID), free_port(), data / "server.log")
    server.start()
    yield ControlServer(server)
    server.stop()
