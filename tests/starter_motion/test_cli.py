"""`sfumato starter-motion train/eval` on the tiny config."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sfumato.cli.app import app


def test_train_then_eval(tmp_path: Path, tiny_motion: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["starter-motion", "train", "--out", str(tmp_path / "run"), "--minutes", "0.03", "--tiny"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "model" / "sfumato_motion.json").exists()
    res = runner.invoke(app, ["starter-motion", "eval", "--model", str(tiny_motion), "--n", "1", "--steps", "2"])
    assert res.exit_code == 0, res.output
    assert "SVD (implied rule)" in res.output and "i2v (prompted)" in res.output
    res = runner.invoke(
        app, ["starter-motion", "eval", "--model", str(tiny_motion), "--n", "1", "--steps", "1", "--json"]
    )
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("{"))
    assert json.loads(line)["scenes"] == 1


def test_eval_rejects_a_folder_without_the_model_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["starter-motion", "eval", "--model", str(tmp_path)])
    assert res.exit_code == 2


def test_train_set_reaches_the_plan_and_bad_sets_are_refused(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["starter-motion", "train", "--out", str(tmp_path / "run"), "--minutes", "0.03", "--tiny"]
    res = runner.invoke(app, [*args, "--set", "lr=0.0007", "--set", "recommended_steps=3"])
    assert res.exit_code == 0, res.output
    plan = json.loads((tmp_path / "run" / "plan.json").read_text())
    assert plan["train"]["lr"] == 0.0007 and plan["config"]["recommended_steps"] == 3
    info = json.loads((tmp_path / "run" / "model" / "sfumato_motion.json").read_text())
    assert info["recommended_steps"] == 3
    for bad, words in (("lr", "KEY=VALUE"), ("nope=1", "not a plan setting"), ("lr=fast", "expected a float")):
        res = runner.invoke(app, ["starter-motion", "train", "--out", str(tmp_path / "x"), "--tiny", "--set", bad])
        assert res.exit_code == 2 and words in res.output, res.output


def test_samples_writes_the_strip(tmp_path: Path, tiny_motion: Path) -> None:
    import numpy as np
    from PIL import Image

    out = tmp_path / "strip.png"
    args = ["starter-motion", "samples", "--model", str(tiny_motion), "--out", str(out), "--n", "2"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    img = Image.open(out)
    # 2 scenes x 3 rows of (input + 4 frames of the tiny config), 3x cells of 40 px plus gaps
    assert img.width == 5 * (120 + 2) + 24 and img.height == 6 * (120 + 2) + 2 * 12
    colours = np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 10  # frames were drawn, not a blank canvas
