"""The price table (catalog/prices.toml, or the file SFUMATO_PRICE_TABLE names): loaded and checked once.

An operator's file may hold only the prices it changes; every other price is the shipped default's. A key the
default does not have (a typo) is an error, as is a price that is not a number of 0 or more; the message names
the key as `section.key` and the file. Prices are kept as exact fractions (the TOML text of 0.1 is 1/10), so a
price computed from them rounds the same way on every machine."""

from __future__ import annotations

import functools
import re
import tomllib
from fractions import Fraction
from pathlib import Path
from typing import Any

from sfumato.services.errors import SfumatoError

DEFAULT_TABLE = Path(__file__).resolve().parents[2] / "catalog" / "prices.toml"

# Sections whose keys an operator may add to (a new resolution), with the shape those keys must have.
OPEN_SECTIONS = {
    "motion_video": re.compile(r"RESOLUTION_\d+"),
    "veo3_motion_video": re.compile(r"RESOLUTION_\d+"),
    "video_upscale": re.compile(r"RESOLUTION_\d+"),
    "model_training.resolution": re.compile(r"\d+"),
}
TEXT_KEYS = {"motion_video.default"}  # the only values that are not prices


class PriceTableError(SfumatoError, ValueError):
    """The price table cannot be used; the message names the file and the key (the CLI prints it as an error)."""


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out[name] = {}  # the section itself
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PriceTableError(f"price table {path}: no such file (SFUMATO_PRICE_TABLE names a missing file)") from None
    except tomllib.TOMLDecodeError as exc:
        raise PriceTableError(f"price table {path}: not valid TOML: {exc}") from None


class PriceTable:
    def __init__(self, values: dict[str, Any], source: Path) -> None:
        self._values = values  # flat: "image_generation.per_image" -> Fraction (or str for TEXT_KEYS)
        self.source = source

    @classmethod
    @functools.cache
    def default(cls) -> PriceTable:
        """The shipped table, read once per process (services built outside the composition root use it)."""
        return cls.load()

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The default table, with the operator's file (when given) laid over it, checked key by key."""
        values = _flatten(_read(DEFAULT_TABLE))
        source = DEFAULT_TABLE
        if path is not None and Path(path).resolve() != DEFAULT_TABLE:
            source = Path(path)
            for key, value in _flatten(_read(source)).items():
                section = key.rpartition(".")[0]
                known = key in values or (
                    section in OPEN_SECTIONS and OPEN_SECTIONS[section].fullmatch(key.rpartition(".")[2])
                )
                if not known:
                    hint = f"; the keys of [{section}] are {_keys_of(values, section)}" if section in values else ""
                    raise PriceTableError(f"price table {source}: unknown key {key!r}{hint}")
                if isinstance(values.get(key), dict) != isinstance(value, dict):
                    what = "a section (a [table])" if isinstance(values.get(key), dict) else "a value"
                    raise PriceTableError(f"price table {source}: {key} must be {what}")
                values[key] = value
        table = cls({k: _checked(source, k, v) for k, v in values.items() if not isinstance(v, dict)}, source)
        table._check_links()
        return table

    def _check_links(self) -> None:
        default = self.text("motion_video.default")
        if f"motion_video.{default}" not in self._values:
            raise PriceTableError(
                f"price table {self.source}: motion_video.default is {default!r}, which [motion_video] does not price; "
                f"name one of {', '.join(self.keys('motion_video'))}"
            )

    def price(self, key: str) -> Fraction:
        value = self._values[key]
        assert isinstance(value, Fraction), key
        return value

    def get(self, key: str) -> Fraction | None:
        value = self._values.get(key)
        return value if isinstance(value, Fraction) else None

    def text(self, key: str) -> str:
        return str(self._values[key])

    def keys(self, section: str) -> list[str]:
        """The priced keys directly inside `section` (e.g. the resolutions of motion_video)."""
        prefix = section + "."
        return [
            k[len(prefix) :]
            for k, v in self._values.items()
            if k.startswith(prefix) and "." not in k[len(prefix) :] and isinstance(v, Fraction)
        ]


def _keys_of(values: dict[str, Any], section: str) -> str:
    prefix = section + "."
    return ", ".join(k[len(prefix) :] for k in values if k.startswith(prefix) and "." not in k[len(prefix) :])


def _checked(source: Path, key: str, value: Any) -> Fraction | str:
    if key in TEXT_KEYS:
        if not isinstance(value, str):
            raise PriceTableError(f'price table {source}: {key} must be a text such as "RESOLUTION_480", got {value!r}')
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceTableError(f"price table {source}: {key} must be a number of credits (0 or more), got {value!r}")
    if value < 0 or value != value or value in (float("inf"),):
        raise PriceTableError(f"price table {source}: {key} must be 0 or more (and finite), got {value!r}")
    # str() first: the TOML text 0.1 becomes exactly 1/10, not the binary float's expansion.
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)
