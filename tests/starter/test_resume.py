"""Same seed -> same weights, and a run killed mid-way and resumed ends with the same weights."""

import pytest
import torch

from sfumato.starter.model import Components, StarterConfig, build_text_encoder, build_unet, build_vae
from sfumato.starter.recipe import world_unet_batch, world_vae_batch
from sfumato.starter.tokenizer import build_tokenizer
from sfumato.starter.train import UNetTrainConfig, VAETrainConfig, train_unet, train_vae


class Killed(Exception):
    pass


def _components(seed: int) -> Components:
    torch.manual_seed(seed)
    cfg = StarterConfig.tiny()
    tok = build_tokenizer(seed, n_captions=300)
    return Components(tok, build_text_encoder(cfg, tok), build_vae(cfg), build_unet(cfg), cfg)


def _train(tmp, kill_at: int | None) -> dict[str, torch.Tensor]:
    c = _components(0)
    vcfg = VAETrainConfig(steps=4, batch_size=4, full_batch_size=2, crop=16, checkpoint_every=2)
    ucfg = UNetTrainConfig(steps=6, batch_size=4, warmup=2, checkpoint_every=2)
    vb = world_vae_batch(c.cfg, 0, 4, 2, 16)
    ub = world_unet_batch(c.cfg, 0, 4)

    def killer(step, total, metrics):
        if kill_at is not None and step == kill_at:
            raise Killed  # like a kill -9 between two checkpoints: the last checkpoint is at step 2

    if kill_at is not None:
        with pytest.raises(Killed):
            train_vae(c, vb, vcfg, tmp / "vae.pt", killer)
        c = _components(0)  # a fresh process: fresh modules, state comes from the checkpoint only
    train_vae(c, vb, vcfg, tmp / "vae.pt")
    if kill_at is not None:
        with pytest.raises(Killed):
            train_unet(c, ub, ucfg, tmp / "unet.pt", killer)
        fresh = _components(0)
        fresh.vae.load_state_dict(c.vae.state_dict())
        c = fresh
    train_unet(c, ub, ucfg, tmp / "unet.pt")
    state = torch.load(tmp / "unet.pt", weights_only=False)
    return {"unet": state["unet"], "vae": c.vae.state_dict(), "ema": state["ema"]}


def _same(a, b) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_and_resume(tmp_path):
    torch.set_num_threads(1)
    for d in ("a", "b", "c"):
        (tmp_path / d).mkdir()
    a = _train(tmp_path / "a", None)
    b = _train(tmp_path / "b", None)
    c = _train(tmp_path / "c", kill_at=3)
    assert _same(a["unet"], b["unet"]) and _same(a["vae"], b["vae"])
    assert _same(a["unet"], c["unet"]) and _same(a["vae"], c["vae"])
    assert all(torch.equal(x, y) for x, y in zip(a["ema"], c["ema"], strict=True))


def test_a_plan_with_a_frozen_text_encoder_exports_its_model(tmp_path):
    # the EMA covers only what was trained: the export must not expect text-encoder averages
    import json

    from sfumato.starter.recipe import make_plan, run

    plan = make_plan(0.05, 0, tiny=True)
    plan["unet"]["train_text_encoder"] = False
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    model = run(tmp_path, tiny=True, progress=False, snapshot_every=0)
    assert model is not None and (model / "text_encoder" / "model.safetensors").exists()
