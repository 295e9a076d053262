import json

import torch
from diffusers import StableDiffusionPipeline
from safetensors import safe_open


def test_tiny_model_loads_through_stable_diffusion_pipeline(tiny_run):
    info = json.loads((tiny_run / "sfumato_model.json").read_text())
    assert "Starter" in info["name"] and info["sd_version"] == "v1_5"
    assert [info["native_width"], info["native_height"]] in info["buckets"]
    for key in ("recommended_steps", "recommended_guidance", "description"):
        assert key in info
    for name in ("vocab.json", "merges.txt", "tokenizer.json"):
        assert (tiny_run / "tokenizer" / name).exists()
    sched = json.loads((tiny_run / "scheduler" / "scheduler_config.json").read_text())
    assert sched["prediction_type"] == "v_prediction" and sched["rescale_betas_zero_snr"]
    assert sched["timestep_spacing"] == "trailing"
    with safe_open(str(tiny_run / "unet" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.float16  # stored in fp16

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_run), torch_dtype=torch.float32, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.unet.dtype == torch.float32

    def gen(w, h):
        return pipe(
            "a red circle on a blue background",
            width=w,
            height=h,
            num_inference_steps=3,
            generator=torch.Generator().manual_seed(0),
            output_type="np",
        ).images[0]

    a, b = gen(32, 32), gen(32, 32)
    assert a.shape == (32, 32, 3) and (a == b).all()
    assert gen(32, 16).shape == (16, 32, 3)


def test_pooled_caption_reaches_the_unet_and_survives_the_pipeline_folder(tmp_path):
    from sfumato.starter.model import (
        Components,
        StarterConfig,
        build_text_encoder,
        build_unet,
        build_vae,
        load_pipeline,
        save_pipeline,
    )
    from sfumato.starter.tokenizer import build_tokenizer
    from sfumato.starter.train import encode_text

    cfg = StarterConfig.tiny()
    assert cfg.unet_text_pool and StarterConfig().unet_text_pool  # the recipe's, in tests and shipped
    assert StarterConfig.from_json(json.loads(json.dumps(cfg.to_json()))).unet_text_pool
    old = cfg.to_json()
    del old["unet_text_pool"]  # a config written before the field: no pooled caption
    assert not StarterConfig.from_json(old).unet_text_pool

    torch.manual_seed(0)
    tok = build_tokenizer(0)
    c = Components(tok, build_text_encoder(cfg, tok), build_vae(cfg), build_unet(cfg), cfg)
    assert c.unet.config.addition_embed_type == "text"
    # the denoising loss trains the pooling: its weights get a gradient
    x = torch.randn(2, cfg.latent_channels, 16, 16)
    cond = encode_text(c, ["a red star on the left", "a blue circle at the top"])
    c.unet(x, torch.tensor([10, 500]), cond).sample.square().mean().backward()
    grads = [p.grad for p in c.unet.add_embedding.parameters()]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)

    save_pipeline(c, tmp_path / "m")
    pipe = load_pipeline(tmp_path / "m")
    assert pipe.unet.config.addition_embed_type == "text"
    with torch.no_grad():
        a = pipe.unet(x, torch.tensor([10, 500]), cond.detach()).sample
        b = pipe.unet(x, torch.tensor([10, 500]), cond.detach().flip(0)).sample
    assert not torch.allclose(a, b)  # the output follows the caption
