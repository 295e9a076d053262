import json

from typer.testing import CliRunner

from sfumato.cli.starter import starter_app


def test_cli_train_resumes_and_eval_prints_a_table(tmp_path, tiny_run):
    runner = CliRunner()
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--minutes", "0.05", "--tiny", "--snapshot-every", "0"]
    args += ["--unet-lr", "7e-4", "--star-weight", "2", "--set", "unet.ema_decay=0.99"]
    first = runner.invoke(starter_app, [*args, "--stop-after", "0.001"])
    assert first.exit_code == 3, first.output  # stopped: checkpoint written, rerun resumes
    done = runner.invoke(starter_app, args)
    assert done.exit_code == 0, done.output
    assert (out / "model" / "model_index.json").exists()
    plan = json.loads((out / "plan.json").read_text())
    assert plan["unet"]["lr"] == 7e-4 and plan["star_weight"] == 2.0 and plan["unet"]["ema_decay"] == 0.99

    res = runner.invoke(starter_app, ["eval", "--model", str(tiny_run), "--n", "4", "--steps", "2"])
    assert res.exit_code == 0, res.output
    for word in ("background", "colour", "shape", "position", "two objects"):
        assert word in res.output


def test_eval_of_a_missing_model_says_what_to_pass(tmp_path):
    from typer.testing import CliRunner

    from sfumato.cli.starter import starter_app

    res = CliRunner().invoke(starter_app, ["eval", "--model", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "sfumato_model.json" in res.output and "snapshots/step-N" in res.output


def test_train_with_a_wrong_setting_says_what_to_pass_and_writes_nothing(tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    base = ["train", "--out", str(out), "--tiny"]
    for setting, expected in (
        ("unet.lrr=1e-3", "use one of:"),
        ("unet.lr", "write KEY=VALUE"),
        ("unet.lr=fast", "must be JSON"),
        ("unet.train_text_encoder=1", "takes a bool"),
    ):
        res = runner.invoke(starter_app, [*base, "--set", setting])
        assert res.exit_code == 2, res.output
        assert expected in res.output and "--set" in res.output
    res = runner.invoke(starter_app, [*base, "--unet-lr", "-0.5"])  # a named option: its own name in the error
    assert res.exit_code == 2 and "unet.lr must be above 0" in res.output and "--unet-lr" in res.output
    assert not out.exists()
