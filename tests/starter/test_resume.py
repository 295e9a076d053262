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


def _train(tmp, kill_at: int | None, recipe: bool) -> dict[str, torch.Tensor]:
    c = _components(0)
    vcfg = VAETrainConfig(
        steps=4, batch_size=4, full_batch_size=2, crop=16, checkpoint_every=2, bf16=recipe, edge_weight=10.0 * recipe
    )
    ucfg = UNetTrainConfig(steps=6, batch_size=4, warmup=2, checkpoint_every=2)
    # the shipped recipe's options: bfloat16, outline weighting (VAE), object weighting below t=700 and a late
    # high-noise share (UNet)
    if recipe:
        ucfg = UNetTrainConfig(
            steps=6,
            batch_size=4,
            warmup=2,
            checkpoint_every=2,
            bf16=True,
            object_weight=3.0,
            object_weight_max_t=700,
            high_noise_frac=0.5,
            high_noise_frac_late=0.25,
            high_noise_late_from=3,
        )
    vb = world_vae_batch(c.cfg, 0, 4, 2, 16, with_mask=recipe)
    ub = world_unet_batch(c.cfg, 0, 4, with_mask=recipe)

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


@pytest.mark.parametrize("recipe", [False, True], ids=["float32", "bf16-recipe"])
def test_same_seed_same_weights_and_resume(tmp_path, recipe):
    torch.set_num_threads(1)
    for d in ("a", "b", "c"):
        (tmp_path / d).mkdir()
    a = _train(tmp_path / "a", None, recipe)
    b = _train(tmp_path / "b", None, recipe)
    c = _train(tmp_path / "c", kill_at=3, recipe=recipe)
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


def test_the_plan_records_the_recipe_and_older_plans_keep_float32():
    from dataclasses import asdict

    from sfumato.starter import recipe

    plan = recipe.make_plan(60, 0)
    u, v = plan["unet"], plan["vae"]
    # bfloat16 where the hardware has it, in both stages; the caption reaches the UNet pooled too
    assert v["bf16"] is recipe.bf16_is_native("cpu") and u["bf16"] is recipe.bf16_is_native("cpu")
    assert recipe.make_plan(60, 0, overrides={"unet.bf16": False})["unet"]["bf16"] is False
    assert plan["config"]["unet_text_pool"] is True
    assert u["object_weight"] == recipe.OBJECT_WEIGHT and u["object_weight_max_t"] == recipe.OBJECT_WEIGHT_MAX_T
    assert u["high_noise_frac_late"] == recipe.HIGH_NOISE_FRAC_LATE
    assert u["high_noise_late_from"] == round(u["steps"] * recipe.HIGH_NOISE_EARLY_SHARE)
    # --object-weight 0 turns the weighting off in the plan (the CLI's -1 means the recipe's value)
    assert recipe.make_plan(60, 0, overrides={"unet.object_weight": 0.0})["unet"]["object_weight"] == 0.0
    # a plan written before these fields existed resumes with float32 and one constant high-noise share
    old = {k: x for k, x in u.items() if k not in ("bf16", "high_noise_frac_late", "high_noise_late_from")}
    again = asdict(UNetTrainConfig(**old))
    assert again["bf16"] is False and again["high_noise_frac_late"] == -1.0
    assert VAETrainConfig(**{k: x for k, x in v.items() if k != "bf16"}).bf16 is False


def test_the_plan_records_unet_lr_and_star_weight_and_older_plans_resume_unweighted(tmp_path, monkeypatch):
    import json

    from sfumato.starter import recipe

    plan = recipe.make_plan(60, 0)
    assert plan["unet"]["lr"] == recipe.UNET_LR and plan["star_weight"] == recipe.STAR_WEIGHT
    custom = recipe.make_plan(60, 0, overrides={"unet.lr": 2e-3, "star_weight": 2.5})
    assert custom["unet"]["lr"] == 2e-3 and custom["star_weight"] == 2.5
    # a plan from before star_weight existed resumes with every shape equally likely
    old = recipe.make_plan(0.05, 0, tiny=True)
    del old["star_weight"]
    (tmp_path / "plan.json").write_text(json.dumps(old))
    seen = []
    real = recipe.world_unet_batch

    def spy(*args, **kw):
        seen.append(kw.get("star_weight"))
        return real(*args, **kw)

    monkeypatch.setattr(recipe, "world_unet_batch", spy)
    assert recipe.run(tmp_path, tiny=True, progress=False, snapshot_every=0) is not None
    assert 1.0 in seen and set(seen) <= {1.0, None}


def test_an_ema_probe_ships_what_a_plan_with_its_decay_ships(tmp_path):
    # probes only observe training: the probe with decay d must equal the shipped EMA of a plan with
    # ema_decay=d, and the raw export must be the checkpoint's trained weights
    import json

    from diffusers import UNet2DConditionModel

    from sfumato.starter.recipe import make_plan, run

    def unet(path):
        return UNet2DConditionModel.from_pretrained(str(path / "unet")).state_dict()

    probed, plain = tmp_path / "probed", tmp_path / "plain"
    for out, changes in ((probed, {"ema_probe_decays": [0.5]}), (plain, {"ema_decay": 0.5})):
        out.mkdir()
        plan = make_plan(0.05, 0, tiny=True)
        # 12 steps: the decay warm-up, (1 + step) / (10 + step), passes 0.5 at step 9
        plan["unet"].update(changes, steps=12)
        (out / "plan.json").write_text(json.dumps(plan))
        assert run(out, tiny=True, progress=False, snapshot_every=0) is not None
    assert _same(unet(probed / "model-ema0.5"), unet(plain / "model"))
    assert not _same(unet(probed / "model"), unet(plain / "model"))
    raw = torch.load(probed / "unet.pt", weights_only=False)["unet"]
    assert _same(unet(probed / "model-raw"), {k: x.half().float() for k, x in raw.items()})  # shipped as fp16
    assert not (plain / "model-raw").exists()


def test_overrides_set_any_plan_setting_and_a_wrong_one_says_what_to_pass():
    from sfumato.starter.recipe import make_plan

    plan = make_plan(60, 0, overrides={"unet.steps": 900, "unet.ema_decay": 0.998, "text_steps": 0, "vae.lr": 1})
    assert plan["unet"]["steps"] == 900 and plan["unet"]["ema_decay"] == 0.998 and plan["text_steps"] == 0
    assert plan["vae"]["lr"] == 1.0 and isinstance(plan["vae"]["lr"], float)  # an int where a float goes
    # the late high-noise share starts a third of the way into the overridden step count
    assert plan["unet"]["high_noise_late_from"] == 300
    # more time for the UNet when the text stage is skipped
    assert make_plan(60, 0, overrides={"text_steps": 0})["unet"]["steps"] > make_plan(60, 0)["unet"]["steps"]
    with pytest.raises(ValueError, match="'unet.ema' is not a plan setting; use one of: .*unet.ema_decay"):
        make_plan(60, 0, overrides={"unet.ema": 0.9})
    with pytest.raises(ValueError, match="'seed' is not a plan setting"):
        make_plan(60, 0, overrides={"seed": 3})
    with pytest.raises(ValueError, match="unet.bf16 takes a bool .*, not 1"):
        make_plan(60, 0, overrides={"unet.bf16": 1})
    # the step counts feed the plan's arithmetic, and are checked like every other setting
    with pytest.raises(ValueError, match="unet.steps must be above 0"):
        make_plan(60, 0, overrides={"unet.steps": -5})
    with pytest.raises(ValueError, match="vae.steps takes a int"):
        make_plan(60, 0, overrides={"vae.steps": 1.5})
