"""Procedural clips: objects move as the implied-direction rule says, faster with motionStrength."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sfumato.starter.checker import read_scene
from sfumato.starter.motion.clips import (
    DIRECTION_PHRASES,
    FPS,
    NUM_FRAMES,
    bucket_id,
    feasible_directions,
    implied_direction,
    motion_scene,
    render_clip,
    unit,
)
from sfumato.starter.world import Obj, Scene


def _scene(*positions: str) -> Scene:
    colors = ("red", "blue")
    return Scene("white", tuple(Obj("square", colors[i], p, "small") for i, p in enumerate(positions)))


@pytest.mark.parametrize(
    ("positions", "expected"),
    [
        (("left",), "right"),
        (("right",), "left"),
        (("top",), "down"),
        (("bottom",), "up"),
        (("top left",), "down right"),
        (("bottom right",), "up left"),
        (("center",), "right"),  # tie on both axes: horizontal first
        (("left", "right"), "down"),  # the pair spans the width: no horizontal room, tie -> down
        (("top", "bottom"), "right"),
        (("left", "bottom right"), "up"),  # spans the width; one free row above
        (("top left", "top right"), "down"),
        (("top left", "bottom"), "right"),
    ],
)
def test_implied_direction_rule(positions: tuple[str, ...], expected: str) -> None:
    assert implied_direction(_scene(*positions)) == expected


def test_motion_world_never_draws_opposite_corners() -> None:
    rng = random.Random(0)
    for _ in range(400):
        scene = motion_scene(rng, "train")
        assert feasible_directions(scene)
        assert implied_direction(scene) in feasible_directions(scene)


def test_clip_moves_by_the_rule_and_faster_with_strength() -> None:
    rng = random.Random(3)
    for i in range(30):
        scene = motion_scene(rng, "train")
        w, h = ((32, 32), (40, 32), (32, 40))[i % 3]
        direction = implied_direction(scene)
        ux, uy = unit(direction)
        disp = []
        for s in (1, 5, 10):
            clip = render_clip(scene, w, h, random.Random(i), direction, s)
            assert clip.frames.shape == (NUM_FRAMES, h, w, 3)
            moves = clip.tracks[-1] - clip.tracks[0]
            for dx, dy in moves:  # every object along the direction (never backwards, never sideways)
                assert dx * ux + dy * uy > 0.99 * np.hypot(dx, dy) > 0
            disp.append(float(np.hypot(*moves.mean(0))))
        assert disp[0] < disp[1] < disp[2], (scene, disp)


def test_frame0_is_the_same_image_at_every_strength_and_colours_stay() -> None:
    scene = _scene("top left", "bottom")
    clips = [render_clip(scene, 32, 32, random.Random(1), "right", s) for s in (1, 10)]
    assert np.array_equal(clips[0].frames[0], clips[1].frames[0])
    for f in (0, NUM_FRAMES - 1):  # the checker reads the same scene in the first and the last frame
        reading = read_scene(clips[1].frames[f])
        assert reading.background == "white"
        assert sorted(o.color for o in reading.objects) == ["blue", "red"]
        assert {o.shape for o in reading.objects} == {"square"}


def test_objects_stop_at_the_edge() -> None:
    clip = render_clip(_scene("right"), 32, 32, random.Random(0), "right", 10)
    assert np.allclose(clip.tracks[-1], clip.tracks[-2])  # slid to the edge, then stopped
    assert clip.tracks[-1, 0, 0] > clip.tracks[0, 0, 0]
    assert abs(clip.masks[-1].sum() - clip.masks[0].sum()) < 0.02 * clip.masks[0].sum()  # whole, not clipped


def test_speed_and_bucket_mapping() -> None:
    scene = _scene("left")
    clip = render_clip(scene, 32, 32, random.Random(0), "right", 5)
    step = np.diff(clip.tracks[:, 0, 0])
    assert np.allclose(step, 0.6, atol=1e-4)  # 0.12 px per frame per unit of strength at 32 px
    assert [bucket_id(s) for s in (1, 5, 10)] == [25, 127, 254]
    assert bucket_id(0) == 1 and bucket_id(30) == 255
    assert NUM_FRAMES >= 12 and FPS == 8
    assert DIRECTION_PHRASES["up right"] == "top right" and DIRECTION_PHRASES["down"] == "bottom"
