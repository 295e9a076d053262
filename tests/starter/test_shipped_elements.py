"""The shipped platform elements (models/elements): the manifest is complete, each LoRA loads on the
Starter with diffusers' own loader, weight 0 is the base bit for bit, each element's effect grows with its
weight (0 < 0.5 < 1), and two elements applied together both show."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch

from sfumato.starter.element_styles import effect, eval_prompts

ROOT = Path(__file__).resolve().parents[2]
ELEMENTS = ROOT / "models" / "elements"
STARTER = ROOT / "models" / "starter"
N = 6  # prompts per weight
SEED = 4321


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    return json.loads((ELEMENTS / "elements.json").read_text())


@pytest.fixture(scope="module")
def pipe(manifest):
    from sfumato.starter.model import load_pipeline

    torch.set_num_threads(1)
    p = load_pipeline(STARTER)
    for e in manifest:
        p.load_lora_weights(
            str(ELEMENTS / Path(e["file"]).parent), weight_name=Path(e["file"]).name, adapter_name=_slug(e)
        )
    return p


@pytest.fixture(scope="module")
def base(pipe) -> list[np.ndarray]:
    pipe.disable_lora()
    try:
        return _gen(pipe)
    finally:
        pipe.enable_lora()


def _slug(e: dict) -> str:
    return Path(e["file"]).parent.name


def _gen(pipe) -> list[np.ndarray]:
    from sfumato.engine.concept_eval import generate

    return generate(pipe, eval_prompts(N), [SEED + i for i in range(N)])


def test_manifest(manifest):
    platform = json.loads((ROOT / "src" / "sfumato" / "catalog" / "platform.json").read_text())
    starter_id = next(m["id"] for m in platform if m["path"] == "models/starter")
    assert len(manifest) == 3
    assert len({e["akUUID"] for e in manifest}) == 3 and len({e["name"] for e in manifest}) == 3
    for e in manifest:
        assert uuid.UUID(e["akUUID"]).version == 4
        assert e["baseModel"] == "v1_5" and e["base_model_id"] == starter_id and e["instance_token"] is None
        assert (e["weightMin"], e["weightMax"], e["weightDefault"]) == (0, 2, 1)
        assert e["name"] and e["description"]
        f, s = ELEMENTS / e["file"], ELEMENTS / e["sample"]
        assert f.exists() and f.stat().st_size < 1_000_000
        assert s.exists() and s.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_weight_zero_is_the_base(pipe, base, manifest):
    pipe.set_adapters([_slug(e) for e in manifest], [0.0] * len(manifest))
    assert all(np.array_equal(a, b) for a, b in zip(_gen(pipe), base, strict=True))


@pytest.mark.parametrize("slug", ["outlined", "pinstripe", "pastel"])
def test_effect_grows_with_weight(pipe, base, slug):
    values = [effect(slug, base, base)]  # weight 0 is the base (test_weight_zero_is_the_base)
    for w in (0.5, 1.0):
        pipe.set_adapters([slug], [w])
        values.append(effect(slug, _gen(pipe), base))
    assert values[0] < values[1] < values[2], values
    assert values[2] - values[0] > 0.02, values


@pytest.mark.parametrize("pair", [("outlined", "pinstripe"), ("outlined", "pastel")])
def test_two_elements_combine(pipe, base, pair):
    pipe.set_adapters(list(pair), [1.0, 1.0])
    both = _gen(pipe)
    for slug in pair:
        assert effect(slug, both, base) > effect(slug, base, base) + 0.03, slug
