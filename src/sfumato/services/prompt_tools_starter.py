"""Prompt tools for the Starter family (a folder with starter_config.json): its world is a closed language of
one or two flat shapes on a solid background (sfumato.starter.world), so a random prompt is a random scene of
that world, and "improve" reads what a vague prompt does say (colours, shapes, positions, sizes, background),
fills in what it leaves out, and writes the canonical caption the model was trained on."""

from __future__ import annotations

import hashlib
import random
import re

from sfumato.starter.motion.clips import DIRECTION_PHRASES
from sfumato.starter.world import (
    COLOR_NAMES,
    PAIRS,
    SHAPES,
    SIZES,
    Obj,
    Scene,
    canonical_caption,
    sample_scene,
)

# Words outside the caption language that people use for the same things.
_SHAPE_WORDS = {
    **{s: s for s in SHAPES},
    **{s + "s": s for s in SHAPES},
    "ball": "circle", "dot": "circle", "disc": "circle", "disk": "circle", "round": "circle", "ring": "circle",
    "box": "square", "block": "square", "cube": "square", "rectangle": "square",
    "pyramid": "triangle", "rhombus": "diamond", "gem": "diamond", "love": "heart",
}  # fmt: skip
_COLOUR_WORDS = {
    **{c: c for c in COLOR_NAMES},
    "grey": "gray", "violet": "purple", "magenta": "pink", "teal": "cyan", "turquoise": "cyan", "gold": "yellow",
    "golden": "yellow", "dark": "black", "silver": "gray", "tan": "brown", "navy": "blue", "lime": "green",
}  # fmt: skip
_SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "large": "large", "big": "large", "huge": "large"}
_POSITION_PATTERNS = [  # longest first: "top left" before "top" and "left"
    (r"\b(top|upper)[\s-]+left\b", "top left"),
    (r"\b(top|upper)[\s-]+right\b", "top right"),
    (r"\b(bottom|lower)[\s-]+left\b", "bottom left"),
    (r"\b(bottom|lower)[\s-]+right\b", "bottom right"),
    (r"\b(center|centre|middle)\b", "center"),
    (r"\b(top|upper|above)\b", "top"),
    (r"\b(bottom|lower|below)\b", "bottom"),
    (r"\bleft\b", "left"),
    (r"\bright\b", "right"),
]


def random_prompt(rng: random.Random) -> str:
    """A scene of the world the Starter was trained on (no held-out colour/shape pair), canonically phrased.
    Stars are left out and one object is more likely than two: a random prompt should be one the model draws
    right, and those are its weak spots (stars 72%, two objects 88% fully right: docs/starter-model.md)."""
    return canonical_caption(sample_scene(rng, "train", two_prob=0.25, star_weight=0.0))


def _positions(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, name in _POSITION_PATTERNS:
        for m in re.finditer(pattern, text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), name))
    return [name for _, name in sorted(found)]


def read_prompt(text: str) -> tuple[str | None, list[tuple[str | None, str | None, str | None]], list[str]]:
    """(background colour, [(colour, shape, size) per object], positions) as far as the text says them."""
    text = text.lower()
    positions = _positions(text)
    words = re.findall(r"[a-z]+", text)
    background = None
    for i, w in enumerate(words):
        if w == "background" and i > 0 and words[i - 1] in _COLOUR_WORDS:
            background = _COLOUR_WORDS[words[i - 1]]
    objects: list[tuple[str | None, str | None, str | None]] = []
    colour: str | None = None
    size: str | None = None
    for i, w in enumerate(words):
        if w in _COLOUR_WORDS and not (i + 1 < len(words) and words[i + 1] == "background"):
            colour = _COLOUR_WORDS[w]
        elif w in _SIZE_WORDS:
            size = _SIZE_WORDS[w]
        elif w in _SHAPE_WORDS:
            objects.append((colour, _SHAPE_WORDS[w], size))
            colour = size = None
    if len(objects) == 1 and ("two" in words or "pair" in words):  # "two stars": the same shape twice
        objects.append((None, objects[0][1], objects[0][2]))
    if colour is not None and len(objects) < 2:  # "something red": a colour with no shape after it
        objects.append((colour, None, size))
    return background, objects[:2], positions


def improve_prompt(prompt: str, instructions: str | None = None, is_video: bool = False) -> str:
    """The canonical caption of the scene `prompt` (and `instructions`, read after it: they win) describes, every
    attribute it leaves out chosen at random but repeatably (seeded by the text). A video prompt gets a motion
    direction the Starter Motion model follows."""
    text = f"{prompt} {instructions or ''}"
    rng = random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))
    background, described, positions = read_prompt(prompt)
    if instructions:  # "make it blue", "on a white background": the instruction's words override
        bg2, described2, positions2 = read_prompt(instructions)
        background = bg2 or background
        described = [
            tuple(b if b is not None else a for a, b in zip(old, new, strict=True))  # type: ignore[misc]
            for old, new in zip(described, described2 + [(None, None, None)] * 2, strict=False)
        ] or described2
        positions = positions2 or positions
    described = described or [(None, None, None)]
    if len(described) == 2 and len(positions) < 2:
        pair = [p for p in PAIRS if not positions or p[0] == positions[0]]
        positions = list(rng.choice(pair))
    elif len(described) == 2 and (positions[0], positions[1]) not in PAIRS:
        positions = list(rng.choice(PAIRS))  # two objects must be two grid steps apart: the world's rule
    elif not positions:
        positions = ["center"]
    used = {background} if background else set()
    objects = []
    for (colour, shape, size), position in zip(described, positions, strict=False):
        colour = colour if colour and colour not in used else rng.choice([c for c in COLOR_NAMES if c not in used])
        used.add(colour)
        objects.append(Obj(shape or rng.choice(SHAPES), colour, position, size or rng.choice(tuple(SIZES))))
    if background is None or background in {o.color for o in objects}:
        background = rng.choice([c for c in COLOR_NAMES if c not in {o.color for o in objects}])
    caption = canonical_caption(Scene(background, tuple(objects)))
    if is_video:
        caption += f", moving {rng.choice(sorted(DIRECTION_PHRASES.values()))}"
    return caption
