"""The procedural world: scenes of one or two flat shapes on a solid background, their renderer and captions.

Everything is driven by an explicit `random.Random`, so a (seed, index) pair always gives the same scene,
the same pixels and the same caption; the training loop relies on that for exact resume.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "heart", "diamond")
PLURALS: dict[str, str] = {s: s + "s" for s in SHAPES}

# Fixed RGB per colour name; chosen so that any two are far apart (the checker reads them back).
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 35),
    "green": (35, 165, 55),
    "blue": (35, 65, 225),
    "yellow": (245, 230, 40),
    "orange": (240, 130, 20),
    "purple": (130, 40, 175),
    "pink": (245, 135, 195),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "gray": (128, 128, 128),
    "brown": (120, 70, 30),
    "cyan": (30, 210, 220),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
JITTER = 10  # per-channel RGB jitter, so colours are a small region rather than one point

# Positions as (column, row) on a 3x3 grid; the centre of each cell as a fraction of width/height.
POSITIONS: dict[str, tuple[int, int]] = {
    "center": (1, 1),
    "left": (0, 1),
    "right": (2, 1),
    "top": (1, 0),
    "bottom": (1, 2),
    "top left": (0, 0),
    "top right": (2, 0),
    "bottom left": (0, 2),
    "bottom right": (2, 2),
}
POSITION_NAMES: tuple[str, ...] = tuple(POSITIONS)
GRID = (0.22, 0.5, 0.78)
POS_JITTER = 0.025
SIZES: dict[str, float] = {"small": 0.28, "large": 0.42}  # diameter as a fraction of min(width, height)

# Held-out (colour, shape) pairs: training never draws an object with one of these; eval uses only them.
# Each colour is held out with one shape and each shape with two colours ("a red circle" is held out).
HELD_OUT: frozenset[tuple[str, str]] = frozenset((c, SHAPES[i % len(SHAPES)]) for i, c in enumerate(COLOR_NAMES))

# Two objects never overlap: their cells differ by two steps in x or in y.
PAIRS: tuple[tuple[str, str], ...] = tuple(
    (a, b)
    for a in POSITION_NAMES
    for b in POSITION_NAMES
    if a != b and (abs(POSITIONS[a][0] - POSITIONS[b][0]) == 2 or abs(POSITIONS[a][1] - POSITIONS[b][1]) == 2)
)


@dataclass(frozen=True)
class Obj:
    shape: str
    color: str
    position: str
    size: str


@dataclass(frozen=True)
class Scene:
    background: str
    objects: tuple[Obj, ...]


# --- geometry -------------------------------------------------------------------------------------------


def _heart(n: int = 40) -> list[tuple[float, float]]:
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x, y))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    s = max(max(xs) - min(xs), max(ys) - min(ys)) / 2
    return [((x - cx) / s, (y - cy) / s) for x, y in pts]


def _star() -> list[tuple[float, float]]:
    pts = []
    for i in range(10):
        r = 1.0 if i % 2 == 0 else 0.42
        a = -math.pi / 2 + i * math.pi / 5
        pts.append((r * math.cos(a), r * math.sin(a) + 0.1))  # +0.1 centres the star's bounding box
    return pts


# Unit polygons (radius ~1, centred on the bounding box); the circle is drawn as an ellipse.
POLYGONS: dict[str, list[tuple[float, float]]] = {
    "square": [(-0.82, -0.82), (0.82, -0.82), (0.82, 0.82), (-0.82, 0.82)],
    "triangle": [(0.0, -0.95), (1.0, 0.8), (-1.0, 0.8)],
    "star": _star(),
    "heart": _heart(),
    "diamond": [(0.0, -1.0), (0.72, 0.0), (0.0, 1.0), (-0.72, 0.0)],
}

SS = 4  # supersampling factor: anti-aliased edges like a real image


def shape_coverage(shape: str, cx: float, cy: float, diameter: float, width: int, height: int) -> np.ndarray:
    """Fraction of each pixel covered by `shape` centred at (cx, cy) pixels; float32 (height, width)."""
    img = Image.new("L", (width * SS, height * SS), 0)
    draw = ImageDraw.Draw(img)
    r = diameter / 2 * SS
    x0, y0 = cx * SS, cy * SS
    if shape == "circle":
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=255)
    else:
        draw.polygon([(x0 + px * r, y0 + py * r) for px, py in POLYGONS[shape]], fill=255)
    small = img.resize((width, height), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def object_geometry(obj: Obj, width: int, height: int, rng: random.Random | None) -> tuple[float, float, float]:
    """Centre (pixels) and diameter of an object in a width x height image, with optional jitter."""
    col, row = POSITIONS[obj.position]
    jx = rng.uniform(-POS_JITTER, POS_JITTER) if rng else 0.0
    jy = rng.uniform(-POS_JITTER, POS_JITTER) if rng else 0.0
    js = rng.uniform(0.93, 1.07) if rng else 1.0
    return (GRID[col] + jx) * width, (GRID[row] + jy) * height, SIZES[obj.size] * js * min(width, height)


def _jitter(rgb: tuple[int, int, int], rng: random.Random) -> np.ndarray:
    return np.clip(np.array(rgb, dtype=np.float32) + [rng.uniform(-JITTER, JITTER) for _ in range(3)], 0, 255)


def render(scene: Scene, width: int, height: int, rng: random.Random) -> np.ndarray:
    """RGB uint8 (height, width, 3) image of the scene."""
    return render_with_mask(scene, width, height, rng)[0]


def render_with_mask(scene: Scene, width: int, height: int, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """The image of `render` (same rng draws, so the same pixels) and the objects' coverage mask: float32
    (height, width) in [0, 1], the union of the objects' anti-aliased coverages."""
    img = np.empty((height, width, 3), dtype=np.float32)
    img[:] = _jitter(COLORS[scene.background], rng)
    free = np.ones((height, width), dtype=np.float32)
    for obj in scene.objects:
        cx, cy, d = object_geometry(obj, width, height, rng)
        cov = shape_coverage(obj.shape, cx, cy, d, width, height)
        img = img * (1 - cov[..., None]) + _jitter(COLORS[obj.color], rng) * cov[..., None]
        free *= 1 - cov
    return np.round(img).astype(np.uint8), 1 - free


# --- sampling -------------------------------------------------------------------------------------------


def _pick_obj_attrs(
    rng: random.Random, held_out: bool, exclude_colors: set[str], star_weight: float = 1.0
) -> tuple[str, str]:
    if held_out:
        pairs = sorted(p for p in HELD_OUT if p[0] not in exclude_colors)
    else:
        pairs = [(c, s) for c in COLOR_NAMES for s in SHAPES if (c, s) not in HELD_OUT and c not in exclude_colors]
    if star_weight == 1.0:
        return rng.choice(pairs)  # the draw of every plan written before star_weight existed
    return rng.choices(pairs, weights=[star_weight if s == "star" else 1.0 for _, s in pairs])[0]


def sample_scene(rng: random.Random, split: str = "train", two_prob: float = 0.4, star_weight: float = 1.0) -> Scene:
    """A random scene. split="train" never uses a held-out (colour, shape) pair; split="heldout" makes
    every first object a held-out pair (the second of a two-object scene may be any pair). star_weight
    makes a star that many times as likely as each other shape (stars are the shape learned last)."""
    bg = rng.choice(COLOR_NAMES)
    n = 2 if rng.random() < two_prob else 1
    used = {bg}
    positions = list(rng.choice(PAIRS)) if n == 2 else [rng.choice(POSITION_NAMES)]
    objs = []
    for i in range(n):
        held = split == "heldout" and (i == 0 or rng.random() < 0.5)
        color, shape = _pick_obj_attrs(rng, held, used, star_weight)
        used.add(color)
        objs.append(Obj(shape, color, positions[i], rng.choice(tuple(SIZES))))
    return Scene(bg, tuple(objs))


# --- captions -------------------------------------------------------------------------------------------


def _pos_phrase(pos: str, rng: random.Random) -> str:
    if pos == "center":
        word = rng.choice(("center", "centre", "middle"))
        return rng.choice((f"in the {word}", f"at the {word}", f"in the {word}", word))
    if " " in pos:
        v, h = pos.split()
        corner = rng.choice((f"{v} {h}", f"{v}-{h}", f"{v} {h}"))
        return rng.choice((f"in the {corner} corner", f"at the {corner}", f"in the {corner}", corner))
    prep = (
        rng.choice(("on the", "at the", "on the"))
        if pos in ("left", "right")
        else rng.choice(("at the", "on the", "at the"))
    )
    return rng.choice((f"{prep} {pos}", pos)) if rng.random() < 0.2 else f"{prep} {pos}"


def _article(word: str, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.15:
        return ""
    if r < 0.22:
        return "one "
    return ("an " if word[0] in "aeiou" else "a ") if r < 0.92 else "the "


def _obj_phrase(obj: Obj, rng: random.Random, size: bool) -> str:
    """The object alone, attributes in varying order: "a large red circle", "a red circle", "a circle in red"."""
    form = rng.random()
    if not size:
        core = f"{obj.color} {obj.shape}" if form < 0.85 else f"{obj.shape} in {obj.color}"
    elif form < 0.55:
        core = f"{obj.size} {obj.color} {obj.shape}"
    elif form < 0.75:
        core = f"{obj.color} {obj.size} {obj.shape}"
    elif form < 0.9:
        core = f"{obj.size} {obj.shape} in {obj.color}"
    else:
        core = f"{obj.color} {obj.shape}, {obj.size}"
    return _article(core, rng) + core


def _bg_phrase(bg: str, rng: random.Random, first: bool) -> str:
    if first:
        return rng.choice(
            (
                f"a {bg} background with",
                f"{bg} background,",
                f"{bg} background:",
                f"on a {bg} background,",
                f"{bg} background with",
            )
        )
    return rng.choice(
        (
            f"on a {bg} background",
            f"on {bg} background",
            f"against a {bg} background",
            f"with a {bg} background",
            f"{bg} background",
        )
    )


def _placed(obj: Obj, rng: random.Random, size: bool) -> str:
    pos = _pos_phrase(obj.position, rng)
    phrase = _obj_phrase(obj, rng, size)
    if rng.random() < 0.8:
        return f"{phrase} {pos}"
    return f"{pos}, {phrase}"


def caption(scene: Scene, rng: random.Random) -> str:
    """One of many phrasings of the scene (sizes mentioned with probability 0.6)."""
    size = rng.random() < 0.6
    objs = scene.objects
    if len(objs) == 1:
        body = _placed(objs[0], rng, size)
    else:
        a, b = objs if rng.random() < 0.5 else objs[::-1]
        if a.shape == b.shape and rng.random() < 0.4:
            # plural form: "two stars, a red one on the left and a blue one on the right"
            one = [f"a {o.size + ' ' if size else ''}{o.color} one {_pos_phrase(o.position, rng)}" for o in (a, b)]
            body = f"two {PLURALS[a.shape]}{rng.choice((',', ':', ''))} {one[0]} and {one[1]}"
        else:
            joint = rng.choice((" and ", ", ", " and ", ", and "))
            body = _placed(a, rng, size) + joint + _placed(b, rng, size)
            if rng.random() < 0.15:
                body = f"two shapes{rng.choice((':', ','))} {body}"
    if rng.random() < 0.5:
        text = f"{_bg_phrase(scene.background, rng, True)} {body}"
    else:
        sep = rng.choice((", ", " ", ", "))
        text = f"{body}{sep}{_bg_phrase(scene.background, rng, False)}"
    if rng.random() < 0.3:
        text = text.replace(",", "")
    return " ".join(text.split())


def caption_vocabulary() -> list[str]:
    """Every word and punctuation mark a caption can contain (the tokenizer must cover all of them)."""
    words = set(COLOR_NAMES) | set(SHAPES) | set(PLURALS.values()) | set(SIZES)
    words |= {"top", "bottom", "left", "right", "center", "centre", "middle", "corner", "background"}
    words |= {"a", "an", "one", "the", "two", "on", "at", "in", "with", "against", "and", "shapes", "-", ",", ":"}
    return sorted(words)


def canonical_caption(scene: Scene) -> str:
    """The plain phrasing, used for eval grids and examples."""
    parts = [f"a {o.size} {o.color} {o.shape} {_canon_pos(o.position)}" for o in scene.objects]
    return " and ".join(parts) + f", on a {scene.background} background"


def _canon_pos(pos: str) -> str:
    if pos == "center":
        return "in the center"
    if " " in pos:
        return f"in the {pos} corner"
    return f"on the {pos}" if pos in ("left", "right") else f"at the {pos}"


@lru_cache(maxsize=8)
def heldout_scenes(n: int, seed: int = 1234) -> tuple[Scene, ...]:
    """A fixed list of held-out scenes (about 40% with two objects)."""
    rng = random.Random(seed)
    return tuple(sample_scene(rng, "heldout") for _ in range(n))


def to_pil(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(arr, "RGB")
