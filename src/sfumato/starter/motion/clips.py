"""Procedural clips of the Starter's world: the objects of a scene slide in a straight line.

Speed: every object moves SPEED * s pixels per frame at a 32-pixel short side (scaled with min(width, height)),
for motionStrength s in 1..10, along a unit direction vector (diagonals are as fast as straight moves). An
object stops where its disc (diameter d) would leave the frame: it slides to the edge and stays there.
Frames are drawn by the world's renderer (4x supersampled, box-downsampled), so sub-pixel motion is smooth.
Colours, sizes and position jitter are drawn once per clip and are the same in every frame.

The implied direction (the SVD path, no prompt), read from the objects' grid cells (world.POSITIONS: the
nearest of the 3x3 grid points, which is what checker.nearest_position reads from pixels):
- Take the cells of all objects together. Free cells on each side: left = min column, right = 2 - max column,
  top = min row, bottom = 2 - max row.
- Horizontal: right if more free cells on the right than the left, left if fewer, none if equal; vertical
  likewise (down / up). So a lone object moves away from its nearest edge: left -> right, top -> down,
  top left -> down right (away from both edges of the corner), and so on.
- Tie on both axes (a centred object; pairs centred on both axes): right if the horizontal free cells
  (left + right) are at least the vertical ones, else down. A centred object moves right; a left + right pair
  moves down; a top + bottom pair moves right.
- All objects of a scene move together in that one direction (they never collide: two objects are two
  cells apart on an axis, and that axis is never one they move along).
- Two objects in opposite corners have no free cell at all; the motion world never draws them
  (`motion_scene`), and for such an input image the rule above still says "right".
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from ..world import COLORS, POSITIONS, Scene, object_geometry, sample_scene, shape_coverage

NUM_FRAMES = 12
FPS = 8
SPEED = 0.12  # pixels per frame per unit of motionStrength at a 32-pixel short side: s=10 -> 13.2 px in 12 frames
BUCKETS: tuple[tuple[int, int], ...] = ((32, 32), (40, 32), (32, 40))
BUCKET_PROBS = (0.5, 0.25, 0.25)
JITTER = 10  # the world's colour jitter (world.JITTER)

# Directions in image coordinates (x right, y down), by canonical name.
DIRECTIONS: dict[str, tuple[int, int]] = {
    "right": (1, 0),
    "left": (-1, 0),
    "down": (0, 1),
    "up": (0, -1),
    "down right": (1, 1),
    "down left": (-1, 1),
    "up right": (1, -1),
    "up left": (-1, -1),
}
DIRECTION_NAMES: tuple[str, ...] = tuple(DIRECTIONS)
# The phrase fed to the Starter text encoder: words that are one token of its vocabulary each.
DIRECTION_PHRASES: dict[str, str] = {
    name: " ".join({"up": "top", "down": "bottom"}.get(w, w) for w in name.split()) for name in DIRECTIONS
}


def direction_name(dx: int, dy: int) -> str:
    for name, vec in DIRECTIONS.items():
        if vec == (dx, dy):
            return name
    raise ValueError(f"no direction ({dx}, {dy})")


def unit(direction: str) -> tuple[float, float]:
    dx, dy = DIRECTIONS[direction]
    n = math.hypot(dx, dy)
    return dx / n, dy / n


def free_cells(cells: list[tuple[int, int]]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) free grid cells around a group of (column, row) cells."""
    cols, rows = [c for c, _ in cells], [r for _, r in cells]
    return min(cols), 2 - max(cols), min(rows), 2 - max(rows)


def implied_direction_of_cells(cells: list[tuple[int, int]]) -> str:
    """The SVD path's rule (module docstring) for objects in these grid cells."""
    left, right, top, bottom = free_cells(cells)
    dx = (right > left) - (right < left)
    dy = (bottom > top) - (bottom < top)
    if dx == 0 and dy == 0:
        return "right" if left + right >= top + bottom else "down"
    return direction_name(dx, dy)


def implied_direction(scene: Scene) -> str:
    return implied_direction_of_cells([POSITIONS[o.position] for o in scene.objects])


def feasible_directions(scene: Scene) -> list[str]:
    """Directions with a free cell on every side the move goes towards (the object does not just stop)."""
    left, right, top, bottom = free_cells([POSITIONS[o.position] for o in scene.objects])
    room = {(1, 0): right, (-1, 0): left, (0, 1): bottom, (0, -1): top}
    out = []
    for name, (dx, dy) in DIRECTIONS.items():
        if (dx == 0 or room[(dx, 0)] > 0) and (dy == 0 or room[(0, dy)] > 0):
            out.append(name)
    return out


def bucket_id(strength: float) -> int:
    """motionStrength (1..10) -> SVD motion_bucket_id: 5 is SVD's default 127, 10 is 254."""
    return int(min(255, max(1, round(127 * strength / 5))))


def motion_scene(rng: random.Random, split: str = "train") -> Scene:
    """A world scene the motion world can move: redrawn while two objects sit in opposite corners."""
    while True:
        scene = sample_scene(rng, split)
        if any(feasible_directions(scene)):
            return scene


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # uint8 (F, H, W, 3)
    scene: Scene
    direction: str
    strength: int
    tracks: np.ndarray  # float (F, n_objects, 2): each object's centre in pixels, per frame
    masks: np.ndarray  # float (F, H, W): the objects' coverage, per frame


def _jitter(rgb: tuple[int, int, int], rng: random.Random) -> np.ndarray:
    return np.clip(np.array(rgb, dtype=np.float32) + [rng.uniform(-JITTER, JITTER) for _ in range(3)], 0, 255)


def render_clip(
    scene: Scene,
    width: int,
    height: int,
    rng: random.Random,
    direction: str,
    strength: int,
    num_frames: int = NUM_FRAMES,
) -> Clip:
    """The scene's objects sliding `direction` at motionStrength `strength`. Frame 0 is drawn with the same
    rng draws as world.render (the first frame of every strength is the same image)."""
    bg = _jitter(COLORS[scene.background], rng)
    objs = []
    for obj in scene.objects:
        cx, cy, d = object_geometry(obj, width, height, rng)
        objs.append((obj, cx, cy, d, _jitter(COLORS[obj.color], rng)))
    ux, uy = unit(direction)
    step = SPEED * strength * min(width, height) / 32
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    tracks = np.empty((num_frames, len(objs), 2), dtype=np.float32)
    masks = np.empty((num_frames, height, width), dtype=np.float32)
    for f in range(num_frames):
        img = np.empty((height, width, 3), dtype=np.float32)
        img[:] = bg
        free = np.ones((height, width), dtype=np.float32)
        for k, (obj, cx, cy, d, rgb) in enumerate(objs):
            r = d / 2
            x = min(max(cx + ux * step * f, min(cx, r)), max(cx, width - r))
            y = min(max(cy + uy * step * f, min(cy, r)), max(cy, height - r))
            cov = shape_coverage(obj.shape, x, y, d, width, height)
            img = img * (1 - cov[..., None]) + rgb * cov[..., None]
            free *= 1 - cov
            tracks[f, k] = (x, y)
        frames[f] = np.round(img).astype(np.uint8)
        masks[f] = 1 - free
    return Clip(frames, scene, direction, strength, tracks, masks)


@dataclass(frozen=True)
class ClipSpec:
    """What one training clip shows, and whether its prompt names the direction (i2v/t2v) or not (SVD)."""

    scene: Scene
    direction: str
    strength: int
    prompted: bool


def sample_spec(rng: random.Random, prompt_prob: float, split: str = "train") -> ClipSpec:
    scene = motion_scene(rng, split)
    strength = rng.randint(1, 10)
    if rng.random() < prompt_prob:
        return ClipSpec(scene, rng.choice(feasible_directions(scene)), strength, True)
    return ClipSpec(scene, implied_direction(scene), strength, False)


def sample_bucket(rng: random.Random) -> tuple[int, int]:
    return rng.choices(BUCKETS, weights=BUCKET_PROBS)[0]
