"""LoRA training (sfumato.engine.lora_train): the file loads with diffusers' own LoRA loader on a generic
SD 1.x folder and on the Starter, is deterministic, resumes after a stop, and keeps weight 0 = the base."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sfumato.engine.lora_train import (
    CHECKPOINT_NAME,
    WEIGHTS_NAME,
    LoraTrainSpec,
    TrainingStopped,
    caption_for,
    custom_model_spec,
    element_spec,
    native_size,
    train_lora,
)

STARTER = Path(__file__).resolve().parents[2] / "models" / "starter"


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _images(n: int, size: int = 48) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        arr = np.zeros((size, size, 3), np.uint8)
        arr[:] = rng.integers(0, 255, 3)
        arr[size // 4 : size // 2, size // 4 : 3 * size // 4] = rng.integers(0, 255, 3)
        out.append(Image.fromarray(arr))
    return out


def _spec(base: Path, **kw) -> LoraTrainSpec:
    args = dict(base_dir=base, images=_images(3), instance_token="cat", steps=4, rank=4, batch_size=2)
    args.update(kw)
    return LoraTrainSpec(**args)


def _gen(pipe, prompt: str, size: int) -> np.ndarray:
    return pipe(
        prompt,
        num_inference_steps=3,
        guidance_scale=5.0,
        width=size,
        height=size,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).images[0]


def _load_pipe(base: Path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        str(base), torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_generic_sd15_trains_loads_and_weight_zero_is_the_base(tiny_sd15: Path, tmp_path: Path):
    seen = []
    path = train_lora(_spec(tiny_sd15), tmp_path / "a", progress=lambda s, n, m: seen.append((s, n, m["loss"])))
    assert path == tmp_path / "a" / WEIGHTS_NAME and path.exists()
    assert [s for s, _, _ in seen] == [1, 2, 3, 4] and all(n == 4 and np.isfinite(x) for _, n, x in seen)
    keys = load_file(str(path))
    assert keys and all(k.startswith("unet.") for k in keys)
    size = native_size(tiny_sd15)[0]
    pipe = _load_pipe(tiny_sd15)
    base = _gen(pipe, "a cat", size)
    pipe.load_lora_weights(str(path.parent), weight_name=WEIGHTS_NAME, adapter_name="x")
    pipe.set_adapters(["x"], [0.0])
    assert np.array_equal(_gen(pipe, "a cat", size), base)
    pipe.set_adapters(["x"], [1.0])
    assert not np.array_equal(_gen(pipe, "a cat", size), base)


def test_same_spec_same_weights_and_resume_after_stop(tiny_sd15: Path, tmp_path: Path):
    spec = _spec(tiny_sd15, steps=6, checkpoint_every=2)
    ref = load_file(str(train_lora(spec, tmp_path / "ref")))
    again = load_file(str(train_lora(spec, tmp_path / "again")))
    assert ref.keys() == again.keys() and all(torch.equal(ref[k], again[k]) for k in ref)

    calls = {"n": 0}

    def stop_after_three() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(TrainingStopped) as err:
        train_lora(spec, tmp_path / "resumed", should_stop=stop_after_three)
    assert err.value.step == 3
    assert (tmp_path / "resumed" / CHECKPOINT_NAME).exists() and not (tmp_path / "resumed" / WEIGHTS_NAME).exists()
    resumed = load_file(str(train_lora(spec, tmp_path / "resumed")))
    assert all(torch.equal(ref[k], resumed[k]) for k in ref)


def test_deadline_checkpoints_and_raises(tiny_sd15: Path, tmp_path: Path):
    with pytest.raises(TrainingStopped) as err:
        train_lora(_spec(tiny_sd15), tmp_path / "d", deadline=time.monotonic() - 1)
    assert err.value.step == 0 and err.value.reason == "deadline"
    assert (tmp_path / "d" / CHECKPOINT_NAME).exists()


def test_a_checkpoint_of_another_spec_is_not_resumed(tiny_sd15: Path, tmp_path: Path):
    a = load_file(str(train_lora(_spec(tiny_sd15, seed=1), tmp_path / "x")))
    b = load_file(str(train_lora(_spec(tiny_sd15, seed=2), tmp_path / "x")))  # same folder, other spec
    fresh = load_file(str(train_lora(_spec(tiny_sd15, seed=2), tmp_path / "y")))
    assert all(torch.equal(b[k], fresh[k]) for k in b) and not all(torch.equal(a[k], b[k]) for k in a)


def test_text_encoder_lora_is_saved_and_loads(tiny_sd15: Path, tmp_path: Path):
    path = train_lora(_spec(tiny_sd15, train_text_encoder=True), tmp_path / "te")
    keys = load_file(str(path))
    assert any(k.startswith("text_encoder.") for k in keys) and any(k.startswith("unet.") for k in keys)
    pipe = _load_pipe(tiny_sd15)
    pipe.load_lora_weights(str(path.parent), weight_name=WEIGHTS_NAME, adapter_name="te")
    pipe.set_adapters(["te"], [0.5])
    assert np.isfinite(_gen(pipe, "a cat", native_size(tiny_sd15)[0])).all()


def test_no_images_is_a_value_error(tiny_sd15: Path, tmp_path: Path):
    with pytest.raises(ValueError):
        train_lora(_spec(tiny_sd15, images=[]), tmp_path / "e")


def test_starter_captions_read_the_pixels():
    from sfumato.starter.world import Obj, Scene, render, to_pil

    img = to_pil(render(Scene("blue", (Obj("circle", "red", "left", "large"),)), 32, 32, random.Random(0)))
    assert caption_for(STARTER, img, "<s3>") == "a large red <s3> on the left, on a blue background"
    assert caption_for(STARTER, img, None) == "a large red circle on the left, on a blue background"
    assert caption_for(STARTER, img.resize((256, 256)), "<s3>").startswith("a large red <s3> on the left")


def test_generic_captions_are_the_token(tiny_sd15: Path):
    img = _images(1)[0]
    assert caption_for(tiny_sd15, img, "cat") == "cat" and caption_for(tiny_sd15, img, None) == ""


def test_starter_lora_with_prior_preservation_and_reserved_token(tmp_path: Path):
    from sfumato.starter.world import Obj, Scene, render, to_pil

    rng = random.Random(0)
    imgs = [to_pil(render(Scene("white", (Obj("star", "green", "center", "large"),)), 32, 32, rng)) for _ in range(2)]
    spec = LoraTrainSpec(STARTER, imgs, "<s5>", steps=2, batch_size=4, train_text_encoder=True)
    path = train_lora(spec, tmp_path / "s")
    pipe = _load_pipe(STARTER)
    base = _gen(pipe, "a green <s5> in the center, on a white background", 32)
    pipe.load_lora_weights(str(path.parent), weight_name=WEIGHTS_NAME, adapter_name="s")
    pipe.set_adapters(["s"], [0.0])
    assert np.array_equal(_gen(pipe, "a green <s5> in the center, on a white background", 32), base)


def test_recipes_map_leonardo_knobs(tiny_sd15: Path):
    imgs = _images(2)
    med = custom_model_spec(tiny_sd15, imgs, "<s5>")
    assert med.instance_token == "<s5>" and med.prior_preservation
    steps = [custom_model_spec(tiny_sd15, imgs, "<s5>", s).steps for s in ("VERY_LOW", "LOW", "MEDIUM", "HIGH")]
    assert steps == sorted(steps) and len(set(steps)) == 4
    with pytest.raises(ValueError):
        custom_model_spec(tiny_sd15, imgs, "<s5>", "EXTREME")
    default = element_spec(tiny_sd15, imgs, "<s1>", "Object")
    assert element_spec(tiny_sd15, imgs, "<s1>", "Object", epochs=200).steps > default.steps
    assert element_spec(tiny_sd15, imgs, "<s1>", "Object", learning_rate=1e-5).learning_rate > default.learning_rate
    style = element_spec(tiny_sd15, imgs, None, "Style")
    assert style.instance_token is None and not style.prior_preservation
    assert element_spec(tiny_sd15, imgs, "<s1>", "Character", train_text_encoder=True).train_text_encoder


def test_concept_eval_runs_and_the_metric_separates_rings_from_circles(tmp_path: Path):
    from sfumato.engine.concept_eval import (
        concept_rate,
        concept_triples,
        heldout_prompts,
        render_concept_dataset,
        train_and_eval,
    )
    from sfumato.starter.world import Obj, Scene, render

    data = render_concept_dataset(12, seed=0)
    assert len(data) == 12 and concept_rate(data) == 1.0
    rng = random.Random(0)
    circles = [render(Scene("blue", (Obj("circle", "red", p, "large"),)), 32, 32, rng) for p in ("left", "top")]
    assert concept_rate(circles) == 0.0
    train = set(concept_triples(12, 0))
    assert not train & {t for _, t in heldout_prompts(18)}
    res = train_and_eval(tmp_path / "ce", n_images=12, n_concept=3, n_heldout=3, grid=False, steps=3, batch_size=4)
    assert [r["weight"] for r in res["rows"]] == [0.0, 1.0]
    assert all(0.0 <= r[k] <= 1.0 for r in res["rows"] for k in ("ring_rate", "color_right", "heldout_all_right"))
    assert (tmp_path / "ce" / "concept_eval.json").exists() and res["settings"]["instance_token"] == "<s5>"


def test_training_steps_wait_while_a_model_loads(tiny_sd15: Path, tmp_path: Path):
    """A load patches torch process-wide (meta-device init): a training step on another thread at that moment
    failed with "Tensor on device cpu is not on the expected device meta" (a server restarted mid-training while
    it preloaded its default model). Loads hold LOAD_LOCK and so does each step: no step runs during a load."""
    import threading

    from sfumato.engine.load_lock import LOAD_LOCK

    steps: list[int] = []
    done = threading.Event()

    def train() -> None:
        train_lora(_spec(tiny_sd15, steps=3), tmp_path / "run", progress=lambda s, n, m: steps.append(s))
        done.set()

    with LOAD_LOCK:  # "a model is loading"
        worker = threading.Thread(target=train, daemon=True)
        worker.start()
        time.sleep(2.0)
        assert steps == []  # it loaded its base (re-entrant lock, other thread: it waited) and ran no step
    assert done.wait(120) and steps == [1, 2, 3]
