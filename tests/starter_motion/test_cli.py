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
