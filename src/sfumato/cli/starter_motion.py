"""`sfumato starter-motion ...`: train and evaluate Starter Motion (sfumato/starter/motion/)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from sfumato.cli.common import JsonFlag, emit

starter_motion_app = typer.Typer(
    help="Starter Motion: train the image-to-video model from scratch, evaluate it.", no_args_is_help=True
)


@starter_motion_app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoint, snapshots, and out/model at the end.")],
    minutes: Annotated[
        float, typer.Option(help="Budget; fixes the step plan (nominal rate of the 2-core CPU).")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Same seed and minutes give the same weights.")] = 0,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
    snapshot_every: Annotated[int, typer.Option(help="Export an EMA pipeline every N steps (0: never).")] = 500,
    device: Annotated[str, typer.Option(help="cpu (the recipe's machine) or cuda")] = "cpu",
    tiny: Annotated[bool, typer.Option(hidden=True, help="Tiny sizes, for tests.")] = False,
    stop_after: Annotated[
        float, typer.Option(hidden=True, help="Stop after N seconds (checkpoint; rerun resumes).")
    ] = 0.0,
) -> None:
    """Train on procedural clips of the Starter's world; rerun the same command to resume after an interruption."""
    from sfumato.starter.motion.train import train as run

    t0 = time.time()
    model = run(
        out, minutes, seed, threads, device, tiny, snapshot_every=snapshot_every, stop_after_s=stop_after or None
    )
    if model is None:
        typer.echo(f"stopped after {time.time() - t0:.0f} s; rerun the same command to resume")
        raise typer.Exit(3)
    typer.echo(f"done in {time.time() - t0:.0f} s: {model}")


@starter_motion_app.command("eval")
def eval_cmd(
    model: Annotated[Path, typer.Option("--model", help="Pipeline folder (out/model or out/snapshots/step-N).")],
    n: Annotated[int, typer.Option(help="Number of held-out scenes (4 clips each).")] = 50,
    steps: Annotated[int, typer.Option(help="Sampling steps (0: the model's recommended).")] = 0,
    guidance: Annotated[float, typer.Option(help="max_guidance_scale (0: the model's recommended).")] = 0.0,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
    no_i2v: Annotated[bool, typer.Option("--no-i2v", help="Score only the SVD path (no prompted clips).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Generate clips of held-out scenes and print what the Starter's checker reads from every frame."""
    import json

    import torch

    from sfumato.starter.motion.evaluate import evaluate, format_table

    info_path = model / "sfumato_motion.json"
    if not info_path.exists():
        typer.echo(f"--model {model}: no Starter Motion folder there (it needs sfumato_motion.json)", err=True)
        raise typer.Exit(2)
    info = json.loads(info_path.read_text())
    torch.set_num_threads(max(1, threads))
    res = evaluate(
        model,
        n,
        steps=steps or info["recommended_steps"],
        guidance=guidance or info["recommended_guidance"]["max_guidance_scale"],
        i2v=not no_i2v,
    )
    # NaN (no object found in any clip) is not JSON: null instead
    metrics = {k: (None if isinstance(v, float) and v != v else v) for k, v in res.metrics().items()}
    emit(as_json, metrics, format_table(res))
