"""`sfumato starter ...`: train and evaluate the Starter model (sfumato/starter/)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

starter_app = typer.Typer(help="The Starter model: train it from scratch, evaluate it.", no_args_is_help=True)

# The weights shipped in the repository checkout (src/sfumato/cli/ -> the checkout's models/starter).
DEFAULT_MODEL = Path(__file__).resolve().parents[3] / "models" / "starter"


def _threads(n: int) -> None:
    """One thread by default: on a small shared CPU two threads stall on each other's barriers."""
    import torch

    torch.set_num_threads(max(1, n))


@starter_app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, snapshots, and out/model at the end.")],
    minutes: Annotated[
        float, typer.Option(help="Budget; fixes the step plan (nominal rates of the 2-core CPU).")
    ] = 60.0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    seed: Annotated[int, typer.Option(help="Same seed and minutes give the same weights.")] = 0,
    snapshot_every: Annotated[int, typer.Option(help="Export an EMA pipeline every N UNet steps (0: never).")] = 500,
    threads: Annotated[int, typer.Option(help="torch intra-op threads (1 is fastest on a busy 2-core CPU).")] = 1,
    vae_steps: Annotated[int, typer.Option(help="Override the planned VAE steps (0: from --minutes).")] = 0,
    unet_steps: Annotated[int, typer.Option(help="Override the planned UNet steps (0: from --minutes).")] = 0,
    decoder_steps: Annotated[
        int, typer.Option(help="Decoder-refinement steps (-1: from --minutes, 0: skip the stage).")
    ] = -1,
    object_weight: Annotated[
        float,
        typer.Option(
            help="UNet loss weight on object pixels, 1 + w * mask, at t < 700 (-1: the recipe's default, 0: off)."
        ),
    ] = -1.0,
    text_steps: Annotated[
        int, typer.Option(help="Text-encoder warm-start steps (-1: the recipe's default, 0: skip the stage).")
    ] = -1,
    high_noise_frac: Annotated[
        float,
        typer.Option(
            help="Share of each UNet batch drawn from the noisiest timesteps, t >= 700 (-1: the recipe's default)."
        ),
    ] = -1.0,
    unet_lr: Annotated[float, typer.Option(help="UNet peak learning rate (-1: the recipe's default).")] = -1.0,
    star_weight: Annotated[
        float, typer.Option(help="A star is N times as likely as each other shape in UNet batches (-1: the recipe's).")
    ] = -1.0,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Any other plan setting, KEY=JSON (repeatable): --set unet.ema_decay=0.998 "
            "--set 'unet.ema_probe_decays=[0.995]'. A wrong key lists the valid ones.",
        ),
    ] = None,
    tiny: Annotated[bool, typer.Option(hidden=True, help="Tiny sizes, for tests.")] = False,
    stop_after: Annotated[
        float, typer.Option(hidden=True, help="Stop after N seconds (checkpoint; rerun resumes).")
    ] = 0.0,
) -> None:
    """Train tokenizer, VAE, text encoder and UNet; rerun the same command to resume after an interruption."""
    from sfumato.starter.recipe import make_plan, run

    # the named options, where given (their defaults mean "the recipe's"), then the --set ones
    named = {
        "vae.steps": ("--vae-steps", vae_steps, 0),
        "unet.steps": ("--unet-steps", unet_steps, 0),
        "decoder_steps": ("--decoder-steps", decoder_steps, -1),
        "unet.object_weight": ("--object-weight", object_weight, -1.0),
        "text_steps": ("--text-steps", text_steps, -1),
        "unet.high_noise_frac": ("--high-noise-frac", high_noise_frac, -1.0),
        "unet.lr": ("--unet-lr", unet_lr, -1.0),
        "star_weight": ("--star-weight", star_weight, -1.0),
    }
    overrides = {key: value for key, (_, value, unset) in named.items() if value != unset}
    for item in set_ or []:
        key, value = _parse_setting(item)
        overrides[key] = value
    for key, value in overrides.items():  # each one checked before any work starts
        try:
            make_plan(minutes, seed, tiny, device, {key: value})
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint=named[key][0] if key in named else "--set") from None
    _threads(threads)
    t0 = time.time()
    model = run(out, minutes, seed, device, tiny, snapshot_every, stop_after or None, overrides=overrides)
    if model is None:
        typer.echo(f"stopped after {time.time() - t0:.0f} s; rerun the same command to resume")
        raise typer.Exit(3)
    typer.echo(f"done in {time.time() - t0:.0f} s: {model}")


def _parse_setting(item: str) -> tuple[str, Any]:
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{item!r}: write KEY=VALUE, e.g. unet.lr=2e-3", param_hint="--set")
    try:
        return key.strip(), json.loads(text)
    except json.JSONDecodeError:
        raise typer.BadParameter(
            f"{item!r}: the value must be JSON (a number, true/false, or a list like [0.995])", param_hint="--set"
        ) from None


@starter_app.command("eval")
def eval_cmd(
    model: Annotated[Path, typer.Option("--model", help="Pipeline folder.")] = DEFAULT_MODEL,
    n: Annotated[int, typer.Option(help="Number of held-out scenes.")] = 200,
    steps: Annotated[int, typer.Option(help="Sampling steps.")] = 20,
    guidance: Annotated[float, typer.Option(help="Guidance scale (0: the model's recommended).")] = 0.0,
    bucket: Annotated[str, typer.Option(help="all, or WxH of one bucket.")] = "all",
    grid: Annotated[Path | None, typer.Option(help="Also write a grid PNG of samples here.")] = None,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
    autoencoder: Annotated[
        bool, typer.Option(help="Score the VAE's encode/decode of the true images instead (the UNet's ceiling).")
    ] = False,
) -> None:
    """Render held-out captions with fixed seeds and print per-attribute adherence measured from pixels."""
    from sfumato.starter.evaluate import evaluate, format_table

    if not (model / "sfumato_model.json").exists():
        missing = f"--model {model}: no Starter pipeline folder there (it needs sfumato_model.json)"
        typer.echo(f"{missing}; pass the model/ folder of a finished run or a snapshots/step-N folder", err=True)
        raise typer.Exit(2)
    _threads(threads)
    res = evaluate(
        model, n=n, steps=steps, guidance=guidance or None, bucket=bucket, grid_path=grid, autoencoder=autoencoder
    )
    typer.echo(format_table(res))


@starter_app.command("train-edge-controlnet")
def train_edge_controlnet_cmd(
    out: Annotated[Path, typer.Option("--out", help="Run folder: out/controlnet.pt (rerun to resume), out/model.")],
    model: Annotated[Path, typer.Option("--model", help="The Starter folder it guides.")] = DEFAULT_MODEL,
    steps: Annotated[int, typer.Option(help="Optimiser steps.")] = 900,
    batch_size: Annotated[int, typer.Option(help="Scenes per step.")] = 24,
    minutes: Annotated[float, typer.Option(help="Stop (checkpoint saved, resumable) after this long; 0: none.")] = 0,
    seed: Annotated[int, typer.Option(help="Data, noise and initialisation seed.")] = 0,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
) -> None:
    """Train the Starter's edge ControlNet (a scene's Canny edges -> the scene) and write it in diffusers format
    to out/model; copy that folder to models/starter-controlnet-edge/ to serve preprocessorId 19."""
    from sfumato.starter.edge_controlnet import EdgeTrainConfig, train_edge_controlnet

    cfg = EdgeTrainConfig(steps=steps, batch_size=batch_size, seed=seed, threads=threads)
    t0 = time.time()

    def progress(step: int, total: int, metrics: dict) -> None:
        if step % 25 == 0 or step == total:
            typer.echo(f"step {step}/{total} loss {metrics['loss']:.4f} ({time.time() - t0:.0f} s)")

    deadline = t0 + minutes * 60 if minutes else None
    if not train_edge_controlnet(model, out, cfg, progress, deadline):
        typer.echo(f"stopped at the time limit; rerun the same command to resume from {out / 'controlnet.pt'}")
        raise typer.Exit(3)
    typer.echo(f"done in {time.time() - t0:.0f} s: {out / 'model'}")


@starter_app.command("eval-edge-controlnet")
def eval_edge_controlnet_cmd(
    controlnet: Annotated[Path, typer.Option("--controlnet", help="ControlNet folder.")] = DEFAULT_MODEL.parent
    / "starter-controlnet-edge",
    model: Annotated[Path, typer.Option("--model", help="The Starter folder.")] = DEFAULT_MODEL,
    n: Annotated[int, typer.Option(help="Number of held-out scenes.")] = 48,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
) -> None:
    """Edge F-score (1-px tolerance) of images made from held-out scenes' edge maps, with and without the
    ControlNet, the prompt without positions (layout from the edges) and with them."""
    from sfumato.starter.edge_controlnet import evaluate

    _threads(threads)
    for placed in (False, True):
        typer.echo(json.dumps(evaluate(model, controlnet, n=n, placed=placed)))
