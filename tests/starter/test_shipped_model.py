"""The shipped weights in models/starter: they load, follow held-out captions (colour, shape, position read
from the pixels) at every bucket, and are deterministic."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sfumato.starter.checker import read_scene

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "starter"
GUIDANCE = json.loads((SHIPPED / "sfumato_model.json").read_text())["recommended_guidance"]


@pytest.fixture(scope="module")
def pipe():
    from sfumato.starter.model import load_pipeline

    torch.set_num_threads(1)
    return load_pipeline(SHIPPED)


def _gen(pipe, prompt: str, seed: int, w: int = 32, h: int = 32) -> np.ndarray:
    img = pipe(
        prompt,
        width=w,
        height=h,
        num_inference_steps=20,
        guidance_scale=GUIDANCE,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images[0]
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def test_size_budget():
    total = sum(p.stat().st_size for p in SHIPPED.rglob("*.safetensors"))
    assert total <= 20 * 1024 * 1024


def test_held_out_caption_has_the_right_background(pipe):
    hits = sum(read_scene(_gen(pipe, "a red circle on a blue background", s)).background == "blue" for s in range(3))
    assert hits >= 2


def test_held_out_caption_has_the_right_colours_and_shape(pipe):
    # (red, circle) is a held-out pair: training never saw a red circle
    hits = 0
    for seed in range(3):
        r = read_scene(_gen(pipe, "a red circle on a blue background", seed), max_objects=1)
        hits += (
            r.background == "blue"
            and bool(r.objects)
            and (r.objects[0].color, r.objects[0].shape)
            == (
                "red",
                "circle",
            )
        )
    assert hits >= 2


@pytest.mark.parametrize("size", [(40, 32), (32, 40)])
def test_left_and_right_at_the_non_square_buckets(pipe, size):
    # (yellow, star) and (blue, triangle) are held out too
    hits = 0
    for seed in range(3):
        left = read_scene(_gen(pipe, "a yellow star on the left, on a black background", seed, *size), max_objects=1)
        right = read_scene(_gen(pipe, "a blue triangle on the right, on a white background", seed, *size), 1)
        hits += bool(left.objects) and left.objects[0].color == "yellow" and left.objects[0].centroid[0] < 0.4
        hits += bool(right.objects) and right.objects[0].color == "blue" and right.objects[0].centroid[0] > 0.6
    assert hits >= 5


@pytest.mark.parametrize("size", [(32, 32), (32, 40)])
def test_top_and_bottom(pipe, size):
    # (green, square) is held out; "at the top" / "at the bottom" must move it vertically
    hits = 0
    for seed in range(3):
        top = read_scene(_gen(pipe, "a green square at the top, on a white background", seed, *size), 1)
        bottom = read_scene(_gen(pipe, "a green square at the bottom, on a white background", seed, *size), 1)
        hits += bool(top.objects) and top.objects[0].color == "green" and top.objects[0].centroid[1] < 0.4
        hits += bool(bottom.objects) and bottom.objects[0].color == "green" and bottom.objects[0].centroid[1] > 0.6
    assert hits >= 5


def test_two_objects_colours_at_top_and_bottom(pipe):
    prompt = "a cyan diamond at the top and a white square at the bottom, on a purple background"
    hits = 0
    for seed in range(3):
        r = read_scene(_gen(pipe, prompt, seed), max_objects=2)
        found = {(o.color, o.position) for o in r.objects}
        hits += r.background == "purple" and found == {("cyan", "top"), ("white", "bottom")}
    assert hits >= 2


def test_two_objects_with_their_shapes(pipe):
    # (cyan, diamond) and (white, square) are held out; both shapes must be right at their own positions
    prompt = "a cyan diamond at the top and a white square at the bottom, on a purple background"
    hits = 0
    for seed in range(3):
        r = read_scene(_gen(pipe, prompt, seed), max_objects=2)
        found = {(o.color, o.position, o.shape) for o in r.objects}
        hits += r.background == "purple" and found == {("cyan", "top", "diamond"), ("white", "bottom", "square")}
    assert hits >= 2


def test_same_seed_same_pixels(pipe):
    a = _gen(pipe, "a green heart in the top right corner, on a white background", 7)
    b = _gen(pipe, "a green heart in the top right corner, on a white background", 7)
    assert (a == b).all()


def test_autoencoder_eval_scores_the_vae_alone():
    # the ceiling any UNet on this VAE can reach: the encode/decode of the true images, read back by the checker
    from typer.testing import CliRunner

    from sfumato.cli.starter import starter_app
    from sfumato.starter.evaluate import evaluate

    res = evaluate(SHIPPED, n=24, autoencoder=True)
    m = res.metrics()
    assert m["background"] == m["color"] == m["position"] == 100.0
    kinds = res.shape_by_kind()
    assert set(kinds) <= {"circle", "square", "triangle", "star", "heart", "diamond"} and len(kinds) >= 5
    assert kinds["circle"] == kinds["heart"] == 100.0
    out = CliRunner().invoke(starter_app, ["eval", "--model", str(SHIPPED), "--n", "6", "--autoencoder"])
    assert out.exit_code == 0, out.output
    assert "autoencoder only" in out.output and "shape by kind: " in out.output


def test_eval_with_a_lora_applied_scores_the_adapted_model(tmp_path):
    # `evaluate(lora=...)` checks that a custom model or element keeps the base's bar; the Pastel Palette
    # element (saturation down) must change the pixels and still read as scenes.
    from sfumato.starter.evaluate import evaluate

    pastel = SHIPPED.parent / "elements" / "pastel" / "pytorch_lora_weights.safetensors"
    base = evaluate(SHIPPED, n=4, steps=10, grid_path=tmp_path / "base.png")
    adapted = evaluate(SHIPPED, n=4, steps=10, grid_path=tmp_path / "pastel.png", lora=pastel)
    assert adapted.metrics()["n"] == base.metrics()["n"] == 4
    a = np.asarray(Image.open(tmp_path / "base.png"), dtype=np.float32)
    b = np.asarray(Image.open(tmp_path / "pastel.png"), dtype=np.float32)
    assert a.shape == b.shape and np.abs(a - b).mean() > 1.0
