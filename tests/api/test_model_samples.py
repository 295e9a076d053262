"""GET /platformModels' `generated_image`: a model's sample image (the one the web app's card shows) at a
public, stable /cdn URL, read through both official SDKs."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.types.basemodel import Unset
from PIL import Image

from sfumato.starter import STARTER_MODEL_ID
from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
STARTER_SAMPLE = Path(__file__).resolve().parents[2] / "src" / "sfumato" / "catalog" / "samples" / "starter.png"


def test_python_sdk_reads_the_sample_and_its_url_downloads_the_png(live_server: LiveServer) -> None:
    client = LeonardoAiSDK(bearer_auth=live_server.user("samples")["api_key"], server_url=live_server.api_url)
    models = {m.id: m for m in client.models.list_platform_models().object.custom_models}
    starter = models[STARTER_MODEL_ID]
    assert starter.generated_image is not None, "the SDK did not parse generated_image"
    image_id, url = starter.generated_image.id, starter.generated_image.url
    assert isinstance(image_id, str) and image_id and url and url.startswith(live_server.base_url + "/cdn/")
    r = httpx.get(url)  # no auth header, like a CDN URL
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == STARTER_SAMPLE.read_bytes()
    assert Image.open(io.BytesIO(r.content)).format == "PNG"
    # The tiny models have no sample: the key is omitted, not null (the TS SDK would take null, Leonardo omits).
    for model_id in (TINY_MODEL_ID, TINY_XL_MODEL_ID):
        assert isinstance(models[model_id].generated_image, Unset)
    raw = {m["id"]: m for m in live_server.client("samples").get("/platformModels").json()["custom_models"]}
    assert "generated_image" not in raw[TINY_MODEL_ID]
    # Stable: the same id and URL on the next call (and for another user).
    again = LeonardoAiSDK(bearer_auth=live_server.user("samples-2")["api_key"], server_url=live_server.api_url)
    other = {m.id: m for m in again.models.list_platform_models().object.custom_models}[STARTER_MODEL_ID]
    assert other.generated_image is not None
    assert (other.generated_image.id, other.generated_image.url) == (image_id, url)


def test_sample_urls_that_name_no_current_sample_are_404(live_server: LiveServer) -> None:
    raw = {m["id"]: m for m in live_server.client("samples").get("/platformModels").json()["custom_models"]}
    url = raw[STARTER_MODEL_ID]["generated_image"]["url"]
    stale = url.rsplit("/", 1)[0] + "/00000000-0000-5000-8000-000000000000.png"
    assert httpx.get(stale).status_code == 404
    assert httpx.get(url.replace(STARTER_MODEL_ID, TINY_MODEL_ID)).status_code == 404  # a model without a sample
    assert httpx.get(url.replace(STARTER_MODEL_ID, "no-such-model")).status_code == 404


def test_typescript_sdk_parses_the_sample_and_downloads_it(live_server: LiveServer) -> None:
    node = shutil.which("node")
    if node is None or not (TS_DIR / "node_modules" / "@leonardo-ai" / "sdk" / "package.json").is_file():
        pytest.fail("the TypeScript SDK test needs node and tests/ts/node_modules (`cd tests/ts && npm ci`)")
    env = {
        **os.environ,
        "SERVER_URL": live_server.api_url,
        "API_KEY": live_server.user("samples")["api_key"],
        "WITH_SAMPLE_IDS": STARTER_MODEL_ID,
        "WITHOUT_SAMPLE_IDS": f"{TINY_MODEL_ID},{TINY_XL_MODEL_ID}",
    }
    proc = subprocess.run(
        [node, str(TS_DIR / "models.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, f"models.mjs failed\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: models scenario" in proc.stdout
