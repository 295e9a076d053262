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
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Plan setting KEY=VALUE (e.g. lr=0.002, steps=500); only for a new run."),
    ] = None,
) -> None:
    """Train on procedural clips of the Starter's world; rerun the same command to resume after an interruption."""
    from sfumato.starter.motion.train import train as run

    overrides: dict[str, str] = {}
    for item in set_ or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            typer.echo(f"--set {item!r}: write KEY=VALUE, e.g. --set lr=0.002", err=True)
            raise typer.Exit(2)
        overrides[key.strip()] = value.strip()
    t0 = time.time()
    try:
        model = run(
            out,
            minutes,
            seed,
            threads,
            device,
            tiny,
            snapshot_every=snapshot_every,
            stop_after_s=stop_after or None,
            overrides=overrides,
        )
    except ValueError as exc:  # an unknown or malformed --set
        typer.echo(f"--set: {exc}", err=True)
        raise typer.Exit(2) from exc
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


@starter_motion_app.command()
def samples(
    model: Annotated[Path, typer.Option("--model", help="Pipeline folder (out/model or out/snapshots/step-N).")],
    out: Annotated[Path, typer.Option("--out", help="PNG to write.")] = Path("docs/starter-motion-samples.png"),
    n: Annotated[int, typer.Option(help="Held-out scenes (three rows each).")] = 4,
    steps: Annotated[int, typer.Option(help="Sampling steps (0: the model's recommended).")] = 0,
    threads: Annotated[int, typer.Option(help="torch intra-op threads.")] = 1,
) -> None:
    """A sample strip: the first N eval scenes, rows SVD s=5, SVD s=10 and prompted s=5; the input, then every frame."""
    import json

    import torch

    from sfumato.starter.motion.evaluate import sample_strip

    info_path = model / "sfumato_motion.json"
    if not info_path.exists():
        typer.echo(f"--model {model}: no Starter Motion folder there (it needs sfumato_motion.json)", err=True)
        raise typer.Exit(2)
    torch.set_num_threads(max(1, threads))
    sample_strip(model, out, n, steps=steps or json.loads(info_path.read_text())["recommended_steps"])
    typer.echo(f"wrote {out}")
