"""The text-encoder warm start: its targets follow the caption's order, it learns the task, it is a pure
function of the seed, and the recipe runs it once (a resumed run reuses the saved encoder)."""

from __future__ import annotations

import random

import torch
from transformers import CLIPTokenizer

from sfumato.starter.model import StarterConfig, build_text_encoder
from sfumato.starter.recipe import run
from sfumato.starter.text_pretrain import (
    FIELDS,
    SceneHeads,
    caption_summary,
    heads_accuracy,
    heads_loss,
    pretrain_text_encoder,
    targets,
)
from sfumato.starter.tokenizer import build_tokenizer
from sfumato.starter.world import COLOR_NAMES, Obj, Scene, caption, sample_scene

SCENE = Scene("white", (Obj("star", "red", "left", "small"), Obj("heart", "blue", "right", "large")))


def test_targets_follow_the_order_of_the_caption():
    red_first = targets(SCENE, "a small red star on the left and a large blue heart on the right, white background")
    blue_first = targets(SCENE, "a large blue heart on the right and a small red star on the left, white background")
    colors = FIELDS["color"]
    assert red_first[0] == COLOR_NAMES.index("white")
    assert colors[red_first[1]] == "red" and colors[red_first[5]] == "blue"
    assert colors[blue_first[1]] == "blue" and colors[blue_first[5]] == "red"
    assert FIELDS["position"][blue_first[3]] == "right"
    one = targets(Scene("black", SCENE.objects[:1]), "a red star on the left on a black background")
    assert one[5:] == [0, 0, 0, 0]  # the empty second slot is "none" in every field


def _encoder(seed: int = 0):
    torch.manual_seed(seed)
    tok = build_tokenizer(seed, n_captions=300)
    cfg = StarterConfig.tiny()
    return tok, build_text_encoder(cfg, tok)


def _accuracy(te, tok, n: int = 256) -> float:
    """Accuracy of a linear probe fitted briefly on the frozen encoder: how readable the scene is."""
    rng = random.Random("probe")
    scenes = [sample_scene(rng, "train") for _ in range(n)]
    texts = [caption(s, rng) for s in scenes]
    y = torch.tensor([targets(s, t) for s, t in zip(scenes, texts, strict=True)])
    with torch.no_grad():
        pooled = caption_summary(te, tok, texts)
    torch.manual_seed(0)
    heads = SceneHeads(pooled.shape[-1])
    opt = torch.optim.Adam(heads.parameters(), lr=1e-2)
    for _ in range(150):
        loss = heads_loss(heads(pooled), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return heads_accuracy(heads(pooled), y)


def test_warm_start_makes_the_scene_readable_and_is_deterministic():
    torch.set_num_threads(1)
    tok, te = _encoder()
    before = _accuracy(te, tok)
    acc = pretrain_text_encoder(te, tok, steps=120, seed=0, batch_size=64, lr=3e-3)
    after = _accuracy(te, tok)
    assert acc > 0.6 and after > before + 0.1, (before, after, acc)
    tok2, te2 = _encoder()
    pretrain_text_encoder(te2, tok2, steps=120, seed=0, batch_size=64, lr=3e-3)
    assert all(torch.equal(a, b) for a, b in zip(te.state_dict().values(), te2.state_dict().values(), strict=True))


def test_recipe_runs_the_warm_start_once(tmp_path):
    torch.set_num_threads(1)
    assert run(tmp_path, minutes=0.05, seed=0, tiny=True, progress=False, snapshot_every=0) is not None
    saved = torch.load(tmp_path / "text_done.pt", weights_only=True)
    torch.manual_seed(0)  # the recipe's initial encoder: built first from the seed, with the run's tokenizer
    initial = build_text_encoder(StarterConfig.tiny(), CLIPTokenizer.from_pretrained(str(tmp_path / "tokenizer")))
    assert saved.keys() == initial.state_dict().keys()
    assert any(not torch.equal(v, initial.state_dict()[k]) for k, v in saved.items())
    stamp = (tmp_path / "text_done.pt").stat().st_mtime_ns
    assert run(tmp_path, minutes=0.05, seed=0, tiny=True, progress=False, snapshot_every=0) is not None
    assert (tmp_path / "text_done.pt").stat().st_mtime_ns == stamp  # reused, not retrained
