"""The price table: the shipped default loads, an operator's file overrides only what it names, and a bad file is
refused at load with a message naming the file and the key."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from sfumato.services.credits import DEFAULT_TABLE, PriceTable, PriceTableError, calculate
from sfumato.testing.live_server import cli, server_env


def test_the_default_table_prices_leonardos_example_at_24() -> None:
    table = PriceTable.load()
    assert table.source == DEFAULT_TABLE and table.price("image_generation.per_image") == 2
    body = {"alchemyMode": True, "imageHeight": 768, "imageWidth": 1024, "inferenceSteps": 15, "numImages": 4}
    assert calculate(table, "IMAGE_GENERATION", {"IMAGE_GENERATION": body}) == 24


def test_an_operators_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text("[image_generation]\nper_image = 0.1\n\n[motion_video]\nRESOLUTION_240 = 7\n")
    table = PriceTable.load(path)
    assert table.price("image_generation.per_image") == Fraction(1, 10)  # exactly, not the binary float
    assert table.price("motion_svd.per_video") == 25  # the default's
    assert (
        calculate(table, "MOTION_VIDEO_GENERATION", {"MOTION_VIDEO_GENERATION": {"resolution": "RESOLUTION_240"}}) == 7
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (
            "[image_generation]\nper_imgae = 3\n",
            "unknown key 'image_generation.per_imgae'; the keys of [image_generation]",
        ),
        ("[image_generation]\nper_image = -1\n", "image_generation.per_image must be 0 or more"),
        ('[lcm]\nrefine = "4"\n', "lcm.refine must be a number of credits"),
        ("[variations]\nnobg = true\n", "variations.nobg must be a number of credits"),
        ("[bogus]\nx = 1\n", "unknown key 'bogus'"),
        ("minimum = [1]\n", "minimum must be a number"),
        ("variations = 3\n", "variations must be a section"),
        ('[motion_video]\ndefault = "RESOLUTION_999"\n', "motion_video.default is 'RESOLUTION_999'"),
        ("[model_training.resolution]\nhigh = 5\n", "unknown key 'model_training.resolution.high'"),
        ("[lcm\nrefine = 1\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(PriceTableError) as refused:
        PriceTable.load(path)
    assert words in str(refused.value) and str(path) in str(refused.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PriceTableError, match="no such file"):
        PriceTable.load(tmp_path / "nope.toml")


def test_the_server_does_not_start_on_a_bad_table(tmp_path: Path, tiny_catalog: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text("[variations]\nupscale = -5\n")
    env = {**server_env(tmp_path / "data", tiny_catalog), "SFUMATO_PRICE_TABLE": str(path)}
    done = cli(env, "users", "create", "x", check=False)
    assert done.returncode != 0 and "variations.upscale must be 0 or more" in done.stderr
