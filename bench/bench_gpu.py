"""GPU benchmark: SD 1.5-sized and SDXL-sized pipelines, plain diffusers eager and compiled next to the server
(SFUMATO_DEVICE=cuda) eager and compiled (SFUMATO_COMPILE), in it/s and images/s, beside published H100 figures.

The pipelines have random weights built in code from the real configs (UNet, VAE, CLIP ViT-L and, for SDXL,
OpenCLIP bigG text encoders), so every step has the real shapes and cost; nothing is downloaded. They are
built on the GPU (no CPU-side init of 3.5 billion parameters), saved in fp16 to a temp folder, and served to
the server as an operator's model (a catalog entry pointing at the folder), exactly as a real one would be.

it/s: denoising steps per second, (S - S0) / (t(S) - t(S0)) from calls of S and S0 steps, so the fixed costs
(text encoders, VAE decode, PNG, HTTP) cancel. images/s: one image end to end at S steps (plain: the call and a
PNG encode; server: POST -> COMPLETE, polled every 10 ms (50 on the CPU) -> PNG downloaded). Medians of --runs.
The order puts the cheap rows first (eager, then compiled) and `--budget` skips what would start past it, so a
short lease still prints a table.

    python bench/bench_gpu.py                         # CUDA: both models, 30 steps, 3 runs
    python bench/bench_gpu.py --models sd15 --budget 300 --compile-mode default
    python bench/bench_gpu.py --tiny --quick          # tiny configs on the CPU: the script end to end
    python bench/bench_gpu.py --tiny --quick --compile  # ... with inductor on the CPU (minutes per graph)

Without CUDA (and without --tiny) it prints one line saying it was skipped and why, and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a benchmark never downloads

import httpx  # noqa: E402
import torch  # noqa: E402

PROMPT = "a red circle on the left on a blue background"
SEED = 7
# Published H100 figures, it/s: torch eager, torch.compile, stable-fast (issue 20).
PUBLISHED = {"sd15": (54.5, 66.0, 104.6), "sdxl": (14.9, 18.5, 21.6)}

# --- the real configs (diffusers' config.json of runwayml/stable-diffusion-v1-5 and stabilityai/sdxl-base-1.0) ---
SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
}
SDXL_UNET = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 2,
    "transformer_layers_per_block": (1, 2, 10),
    "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048,
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,  # 6 x 256 time ids + bigG's 1280 pooled projection
    "norm_num_groups": 32,
}
VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
}
CLIP_L = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
          "hidden_act": "quick_gelu", "projection_dim": 768}  # fmt: skip
CLIP_BIGG = {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 20,
             "hidden_act": "gelu", "projection_dim": 1280}  # fmt: skip
SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1,
             "timestep_spacing": "leading"}  # fmt: skip


@dataclass(frozen=True)
class Spec:
    key: str
    name: str
    size: tuple[int, int]
    guidance: float
    model_id: str


SPECS = {
    "sd15": Spec("sd15", "SD 1.5-sized", (512, 512), 7.5, "0b9e2c1a-0000-4000-8000-000000000015"),
    "sdxl": Spec("sdxl", "SDXL-sized", (1024, 1024), 5.0, "0b9e2c1a-0000-4000-8000-0000000000c1"),
}


def _tokenizer(folder: Path) -> object:
    from transformers import CLIPTokenizer

    from sfumato.engine.tiny import write_tiny_clip_vocab

    vocab, merges = write_tiny_clip_vocab(folder)  # byte-level BPE: the text encoders see 77 ids as usual
    return CLIPTokenizer(str(vocab), str(merges), model_max_length=77)


def _text_encoder(shape: dict, tokenizer: object, with_projection: bool) -> torch.nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    ids = {n: tokenizer.convert_tokens_to_ids(t) for n, t in (("bos", "<|startoftext|>"), ("eos", "<|endoftext|>"))}  # type: ignore[attr-defined]
    config = CLIPTextConfig(
        vocab_size=49408,
        max_position_embeddings=77,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["eos"],
        **shape,
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(config)


def build_full_size(key: str, folder: Path, device: str, dtype: torch.dtype) -> Path:
    """Random weights in the real shapes, created on `device` (fast on a GPU), saved in `dtype`."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )

    from sfumato.engine.tiny import write_tiny_clip_vocab

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = _tokenizer(Path(tmp))
    torch.manual_seed(0)
    scheduler = EulerDiscreteScheduler(**SCHEDULER)  # on the CPU: its constructor uses numpy
    with torch.device(device):  # weights created and initialised where they run: seconds, not minutes, on a GPU
        text_encoder = _text_encoder(CLIP_L, tokenizer, with_projection=False)
        if key == "sd15":
            vae = AutoencoderKL(**VAE, sample_size=512, scaling_factor=0.18215)
            unet = UNet2DConditionModel(**SD15_UNET)
        else:
            vae = AutoencoderKL(**VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=True)
            unet = UNet2DConditionModel(**SDXL_UNET)
            text_encoder_2 = _text_encoder(CLIP_BIGG, tokenizer, with_projection=True)
    if key == "sd15":
        pipe = StableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
    else:
        pipe = StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=tokenizer,
            unet=unet,
            scheduler=scheduler,
        )
    pipe.to(dtype=dtype)
    pipe.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):
        if (folder / name).is_dir():
            write_tiny_clip_vocab(folder / name)
    return folder  # its modules go with this frame; the caller releases the memory


def build_tiny(key: str, folder: Path) -> Path:
    from sfumato.engine.tiny import build_tiny_sd15, build_tiny_sdxl

    return (build_tiny_sd15 if key == "sd15" else build_tiny_sdxl)(folder)


def release() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class Row:
    spec: Spec
    path: str  # "plain eager", "server compiled", ...
    its: float = float("nan")
    ips: float = float("nan")
    note: str = ""


def measure(run: Callable[[int], float], steps: int, runs: int) -> tuple[float, float]:
    """(it/s, images/s) from `run(steps)` -> seconds; one warm-up call first."""
    short = max(10, steps // 3)
    run(steps)
    longs, shorts = [], []
    for _ in range(runs):  # interleaved, so a drift in clocks hits both alike
        longs.append(run(steps))
        shorts.append(run(short))
    t_long, t_short = statistics.median(longs), statistics.median(shorts)
    its = (steps - short) / (t_long - t_short) if t_long > t_short else float("nan")
    return its, 1 / t_long


def plain_rows(
    spec: Spec, folder: Path, device: str, dtype: torch.dtype, compile_mode: str | None, args: argparse.Namespace
) -> Row:
    """What a user writes by hand: load, (compile as diffusers' docs show), call, PNG."""
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(folder, dtype=dtype, local_files_only=True).to(device)
    pipe.set_progress_bar_config(disable=True)
    row = Row(spec, "plain " + ("compiled" if compile_mode else "eager"))
    width, height = spec.size

    def call(steps: int) -> float:
        started = time.perf_counter()
        image = pipe(
            PROMPT,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=spec.guidance,
            generator=torch.Generator("cpu").manual_seed(SEED),
        ).images[0]
        image.save(io.BytesIO(), format="PNG", compress_level=1)
        return time.perf_counter() - started

    if compile_mode:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        pipe.unet = torch.compile(pipe.unet, mode=compile_mode, fullgraph=True)
        row.note = f"compiled in {call(args.steps):.0f} s ({compile_mode})"
    row.its, row.ips = measure(call, args.steps, args.runs)
    return row  # the pipeline goes with this frame; the caller releases its memory


def server_rows(
    spec: Spec, folder: Path, device: str, compile_mode: str | None, args: argparse.Namespace, tmp: Path
) -> Row:
    """The same model as an operator's model of a real server process (embedded: in-process worker)."""
    from sfumato.testing.live_server import LiveServer, free_port, generate_and_download, server_env

    name = f"{spec.key}-{'compiled' if compile_mode else 'eager'}"
    catalog = tmp / f"catalog-{name}"
    catalog.mkdir()
    entry = {"id": spec.model_id, "name": spec.name, "description": "", "path": str(folder), "prompt_styles": False}
    (catalog / "bench.json").write_text(json.dumps([entry]))
    env = server_env(tmp / f"data-{name}", catalog, default_model_id=spec.model_id)
    env.update(
        SFUMATO_DEVICE=device,
        SFUMATO_COMPILE=compile_mode or "off",
        SFUMATO_MEMORY_BUDGET_MB="65536",
        SFUMATO_RATE_LIMIT_PER_MINUTE="1000000",  # polling every 10 ms is 6,000 requests a minute
    )
    if device == "cpu":
        env["SFUMATO_TORCH_THREADS"] = "1"
    server = LiveServer(env, free_port(), tmp / f"server-{name}.log")
    row = Row(spec, "server " + ("compiled" if compile_mode else "eager"))
    started = time.perf_counter()
    server.start(timeout=180)
    try:
        ready = wait_ready(server.base_url, timeout=args.ready_timeout)
        row.note = f"ready {ready - started:.0f} s after start" + (" (load, compile, warm-up)" if compile_mode else "")
        # The engine's load line: the attention processors, channels-last, the compile and its warm-up time.
        loaded = [line for line in server.log_path.read_text().splitlines() if f"{folder.name} on {device}:" in line]
        row.note += f"; {loaded[-1].split(f'{folder.name} on {device}: ')[-1]}" if loaded else ""
        client = server.client("bench")
        client.timeout = httpx.Timeout(120)
        width, height = spec.size

        def call(steps: int) -> float:
            body = {"prompt": PROMPT, "modelId": spec.model_id, "width": width, "height": height, "num_images": 1,
                    "num_inference_steps": steps, "guidance_scale": spec.guidance, "seed": SEED}  # fmt: skip
            begun = time.perf_counter()
            generate_and_download(client, body, poll=0.01 if device != "cpu" else 0.05)
            return time.perf_counter() - begun

        row.its, row.ips = measure(call, args.steps, args.runs)
    except Exception as exc:
        row.note = f"FAILED: {type(exc).__name__}: {exc}; log: {server.log_path.read_text()[-1500:]}"
    finally:
        server.stop()
    return row


def wait_ready(base_url: str, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if httpx.get(base_url + "/readyz", timeout=5).status_code == 200:
                return time.perf_counter()
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"/readyz not 200 after {timeout:.0f} s")


def table(rows: list[Row], header: str) -> str:
    lines = [header, f"{'model':24}{'path':18}{'it/s':>9}{'images/s':>10}{'vs plain':>10}  notes"]
    for row in rows:
        plain = next((r for r in rows if r.spec == row.spec and r.path == row.path.replace("server", "plain")), None)
        ratio = f"{row.its / plain.its:.2f}x" if plain is not None and row.path.startswith("server") else ""
        label = f"{row.spec.name} {row.spec.size[0]}x{row.spec.size[1]}"
        lines.append(f"{label:24}{row.path:18}{row.its:>9.2f}{row.ips:>10.3f}{ratio:>10}  {row.note}")
    for key in dict.fromkeys(r.spec.key for r in rows):
        eager, compiled, fast = PUBLISHED[key]
        name = {"sd15": "SD 1.5", "sdxl": "SDXL"}[key]
        lines.append(f"{name + ' published':24}{'H100':18}{eager:>9.1f}{'':>10}{'':>10}  "
                     f"eager; compiled {compiled}, stable-fast {fast} it/s")  # fmt: skip
    return "\n".join(lines)


def ratios(rows: list[Row]) -> list[dict]:
    """For bench/run_all.py: per model and mode, the server's time per step and per image over plain diffusers'."""
    out = []
    for row in rows:
        plain = next((r for r in rows if r.spec == row.spec and r.path == row.path.replace("server", "plain")), None)
        if not row.path.startswith("server") or plain is None or row.its != row.its or plain.its != plain.its:
            continue
        what = f"GPU {row.spec.key} {row.path.split()[1]}"
        out.append(
            {
                "measure": f"{what}: time per step, server / plain",
                "ratio": plain.its / row.its,
                "detail": f"server {row.its:.2f} it/s vs plain diffusers {plain.its:.2f} it/s",
            }
        )
        out.append(
            {
                "measure": f"{what}: time per image, server / plain",
                "ratio": plain.ips / row.ips,
                "detail": f"server {row.ips:.3f} images/s vs plain diffusers {plain.ips:.3f} images/s",
            }
        )
    return out


def main() -> None:
    from sfumato.engine.device import COMPILE_ON

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(SPECS), default=list(SPECS))
    parser.add_argument("--steps", type=int, default=30, help="S; it/s compares S with max(10, S/3) steps")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 run of 20 steps (bench/run_all.py)")
    parser.add_argument("--tiny", action="store_true", help="the tiny test configs on the CPU (no GPU needed)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="also the compiled rows (default: on CUDA yes, with --tiny no)")  # fmt: skip
    parser.add_argument("--compile-mode", default=COMPILE_ON, help=f"torch.compile mode (default {COMPILE_ON})")
    parser.add_argument("--budget", type=float, default=None, help="seconds: rows that would start later are skipped")
    parser.add_argument("--ready-timeout", type=float, default=900, help="seconds for a server to load and warm up")
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.steps = 1, 20
    if not args.tiny and not torch.cuda.is_available():
        why = f"no CUDA device (torch {torch.__version__}{'' if torch.version.cuda else ', a CPU build'})"
        print(f"bench_gpu: skipped: {why}; run it on a GPU machine, or with --tiny for the CPU", flush=True)
        if args.ratios_json:
            args.ratios_json.write_text(json.dumps({"skipped": f"skipped: {why}"}))
        return
    device = "cpu" if args.tiny else "cuda"
    if args.tiny:  # the tiny configs' own size: the script end to end in seconds, not the real cost
        for key, spec in SPECS.items():
            SPECS[key] = Spec(spec.key, spec.name.replace("-sized", " tiny"), (64, 64), spec.guidance, spec.model_id)
    dtype = torch.float32 if args.tiny else torch.float16  # what SFUMATO_DTYPE=auto picks for these models
    compile_mode = args.compile_mode if (args.compile if args.compile is not None else not args.tiny) else None
    if device == "cpu":
        torch.set_num_threads(1)
    started = time.perf_counter()
    where = "CPU (tiny configs)" if args.tiny else torch.cuda.get_device_name()
    short = max(10, args.steps // 3)
    header = (
        f"GPU benchmark on {where}: torch {torch.__version__}, {str(dtype).removeprefix('torch.')}, "
        f"{args.steps} steps (it/s: {args.steps} vs {short} steps), median of {args.runs}"
    )
    print(header, flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sfumato-bench-gpu-") as tmp_name:
        tmp = Path(tmp_name)
        folders = {}
        for key in args.models:
            begun = time.perf_counter()
            folder = tmp / f"model-{key}"
            folders[key] = build_tiny(key, folder) if args.tiny else build_full_size(key, folder, device, dtype)
            release()
            print(f"built {SPECS[key].name} in {time.perf_counter() - begun:.0f} s", flush=True)
        plan = [(key, where_, None) for key in args.models for where_ in ("plain", "server")]
        if compile_mode:
            plan += [(key, where_, compile_mode) for key in args.models for where_ in ("plain", "server")]
        for key, where_, mode in plan:
            spec = SPECS[key]
            label = f"{where_} {'compiled' if mode else 'eager'}"
            if args.budget is not None and time.perf_counter() - started > args.budget:
                rows.append(Row(spec, label, note=f"skipped: past the {args.budget:.0f} s budget"))
            elif where_ == "plain":
                rows.append(plain_rows(spec, folders[key], device, dtype, mode, args))
                torch._dynamo.reset()  # the plain pipeline is gone: its compiled graphs and memory too
                release()
            else:
                rows.append(server_rows(spec, folders[key], device, mode, args, tmp))
            row = rows[-1]
            if args.ratios_json:  # after every row: a run cut short by its lease still leaves what it measured
                args.ratios_json.write_text(json.dumps(ratios(rows)))
            print(f"{spec.name}: {row.path}: {row.its:.2f} it/s, {row.ips:.3f} images/s {row.note} "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)  # fmt: skip
    print()
    print(table(rows, header))


if __name__ == "__main__":
    main()
