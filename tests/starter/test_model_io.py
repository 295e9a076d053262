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
