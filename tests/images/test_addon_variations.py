"""Variations through operator-installed add-ons (DATA_DIR/addons/), built tiny in code: an ESRGAN upscaler
and a TorchScript background-removal model; and the clear failures of broken ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image
from safetensors.torch import save_file

from sfumato.engine.tiny_addons import build_disk_mask_model, old_esrgan_layout, tiny_esrgan_state
from tests.images.support import AddonServer, fetch, generate, pixels, wait

BIAS = 10  # grey levels the tiny ESRGAN adds to every pixel: the mark that its output was used


@pytest.fixture(scope="module")
def client(addon_server: AddonServer) -> httpx.Client:
    return addon_server.server.client("addon-user")


@pytest.fixture(scope="module")
def image(client: httpx.Client) -> dict:
    return generate(client, {"seed": 3})["generated_images"][0]


@pytest.fixture(autouse=True)
def no_addons(addon_server: AddonServer) -> Iterator[None]:
    addon_server.clear()
    yield
    addon_server.clear()


def vary(client: httpx.Client, kind: str, image_id: str) -> dict:
    r = client.post(f"/variations/{kind}", json={"id": image_id})
    assert r.status_code == 200, r.text
    return wait(client, f"/variations/{next(iter(r.json().values()))['id']}")


def shift_when_downscaled(image: dict, done: dict) -> tuple[float, float]:
    """The upscale shrunk back minus the original: its mean (a uniform shift) and the mean absolute
    difference left once that shift is taken out."""
    original, upscaled = fetch(image["url"]), fetch(done["url"])
    assert upscaled.size == (original.width * 2, original.height * 2)
    diff = pixels(upscaled.resize(original.size, Image.Resampling.LANCZOS)) - pixels(original)
    return float(diff.mean()), float(np.abs(diff - diff.mean()).mean())


def _pth_params_ema(file: Path) -> None:
    torch.save({"params_ema": tiny_esrgan_state(bias=BIAS / 255)}, file)


def _safetensors_old_layout(file: Path) -> None:
    save_file(old_esrgan_layout(tiny_esrgan_state(bias=BIAS / 255)), str(file))


@pytest.mark.parametrize(
    ("name", "write"), [("4x-tiny.pth", _pth_params_ema), ("4x-old-layout.safetensors", _safetensors_old_layout)]
)
def test_installed_esrgan_runs_the_upscale(
    addon_server: AddonServer, client: httpx.Client, image: dict, name: str, write: Callable[[Path], None]
) -> None:
    server = addon_server.server
    sdk = LeonardoAiSDK(bearer_auth=server.user("addon-user")["api_key"], server_url=server.api_url)
    plain = vary(client, "upscale", image["id"])  # nothing installed: Lanczos
    assert addon_server.variation_method(plain["id"]) == "lanczos+diffusion-detail"
    write(addon_server.folder("upscaler") / name)
    job = sdk.variation.create_variation_upscale(request={"id": image["id"]}).object.sd_upscale_job
    done = wait(client, f"/variations/{job.id}")
    assert done["status"] == "COMPLETE", done.get("failureReason")
    assert addon_server.variation_method(done["id"]) == f"esrgan:{Path(name).stem}+diffusion-detail"
    assert done["method"] == f"esrgan:{Path(name).stem}+diffusion-detail"  # shown by GET /variations/{id}
    plain_shift, plain_error = shift_when_downscaled(image, plain)
    shift, error = shift_when_downscaled(image, done)
    assert error < 12 and plain_error < 12, (error, plain_error)  # close to the input when downscaled back
    assert shift - plain_shift > BIAS / 2, (shift, plain_shift)  # ... and it went through the model


def _garbage(file: Path) -> None:
    file.write_bytes(b"\x80\x04 this is not a checkpoint")


def _truncated(file: Path) -> None:
    torch.save(tiny_esrgan_state(), file)
    file.write_bytes(file.read_bytes()[:500])


def _not_esrgan(file: Path) -> None:
    save_file({"encoder.weight": torch.zeros(4, 4)}, str(file))


def _wrong_shape(file: Path) -> None:
    state = tiny_esrgan_state()
    state["conv_hr.weight"] = torch.zeros(8, 5, 3, 3)
    torch.save(state, file)


def _pickled_module(file: Path) -> None:
    torch.save(torch.nn.Conv2d(3, 3, 3), file)  # a whole pickled object: refused unopened (weights_only)


@pytest.mark.parametrize(
    ("name", "write", "words"),
    [
        ("x.pth", _garbage, "could not be read: it is not a PyTorch checkpoint"),
        ("x.pth", _truncated, "could not be read: PytorchStreamReader failed"),
        ("x.safetensors", _garbage, "could not be read"),
        ("x.safetensors", _not_esrgan, "not an ESRGAN (RRDBNet) state dict"),
        ("x.pth", _wrong_shape, "size mismatch for conv_hr.weight"),
        ("x.pth", _pickled_module, "pickled torch.nn.modules.conv.Conv2d object, not only tensors, and is refused"),
    ],
)
def test_broken_upscaler_fails_with_a_reason(
    addon_server: AddonServer, client: httpx.Client, image: dict, name: str, write: Callable[[Path], None], words: str
) -> None:
    write(addon_server.folder("upscaler") / name)
    done = vary(client, "upscale", image["id"])
    assert done["status"] == "FAILED" and not done.get("url")
    reason = done["failureReason"]
    assert reason.startswith(f"AddonError: the upscaler addons/upscaler/{name}") and words in reason, reason


def disk_radius(size: tuple[int, int]) -> np.ndarray:
    """Each pixel's distance from the centre, as a fraction of the side (the mask model's own measure)."""
    w, h = size
    ys = (np.arange(h) + 0.5) / h - 0.5
    xs = (np.arange(w) + 0.5) / w - 0.5
    return np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)


def assert_disk_alpha(img: Image.Image) -> None:
    assert img.mode == "RGBA"
    alpha, r = np.asarray(img)[..., 3], disk_radius(img.size)
    assert (alpha[r > 0.36] == 0).all() and (alpha[r < 0.24] == 255).all()


@pytest.mark.parametrize(("config", "logits"), [('{"size": 48}', True), (None, False)])
def test_installed_mask_model_removes_the_background(
    addon_server: AddonServer, client: httpx.Client, image: dict, config: str | None, logits: bool
) -> None:
    folder = addon_server.folder("nobg")
    build_disk_mask_model(folder / "model.pt", radius=0.3, logits=logits)
    if config:
        (folder / "config.json").write_text(config)
    done = vary(client, "nobg", image["id"])
    assert done["status"] == "COMPLETE", done.get("failureReason")
    assert addon_server.variation_method(done["id"]) == "salient-model"
    assert_disk_alpha(fetch(done["url"]))
    gen = generate(client, {"seed": 8, "transparency": "foreground_only"})
    assert gen["status"] == "COMPLETE", gen.get("failureReason")
    assert addon_server.generation_methods(gen["id"])["transparency"] == "salient-model"
    assert_disk_alpha(fetch(gen["generated_images"][0]["url"]))


def _three_channel_mask(folder: Path) -> None:
    build_disk_mask_model(folder / "model.pt", channels=3)
    (folder / "config.json").write_text('{"size": 48}')


def _not_torchscript(folder: Path) -> None:
    torch.save({"weight": torch.zeros(2)}, folder / "model.pt")


def _bad_config(folder: Path) -> None:
    build_disk_mask_model(folder / "model.pt")
    (folder / "config.json").write_text('{"size": "big"}')


@pytest.mark.parametrize(
    ("write", "words"),
    [
        (_three_channel_mask, "returned (1, 3, 48, 48); it must return one mask, shaped (1, 1, H, W)"),
        (_not_torchscript, "could not be loaded as TorchScript"),
        (_bad_config, "addons/nobg/config.json is not valid"),
    ],
)
def test_broken_mask_model_fails_with_a_reason(
    addon_server: AddonServer, client: httpx.Client, image: dict, write: Callable[[Path], None], words: str
) -> None:
    write(addon_server.folder("nobg"))
    done = vary(client, "nobg", image["id"])
    assert done["status"] == "FAILED" and words in done["failureReason"], done
    assert done["failureReason"].startswith("AddonError:")
    gen = generate(client, {"seed": 8, "transparency": "foreground_only"})  # the same removal, the same failure
    assert gen["status"] == "FAILED" and words in gen["failureReason"], gen
