"""The scorer itself: a perfect clip scores right, a wrong-direction or static clip scores wrong."""

from __future__ import annotations

import random

import numpy as np

from sfumato.starter.motion.clips import implied_direction, render_clip
from sfumato.starter.motion.evaluate import MotionEval, eval_cases, evaluate, format_table, score_clip
from sfumato.starter.world import Obj, Scene

SCENE = Scene("gray", (Obj("circle", "red", "left", "large"), Obj("star", "yellow", "top right", "small")))


def test_perfect_clip_is_right() -> None:
    direction = implied_direction(SCENE)  # cols 0..2 span the width, rows 0..1 -> down
    assert direction == "down"
    clip = render_clip(SCENE, 32, 32, random.Random(0), direction, 5)
    sc = score_clip(SCENE, clip.frames, direction)
    assert sc.frame0 and sc.last_kept and sc.direction
    assert abs(sc.displacement - 6.6) < 0.7


def test_wrong_direction_and_static_clips_are_wrong() -> None:
    wrong = render_clip(SCENE, 32, 32, random.Random(0), "right", 5)
    assert not score_clip(SCENE, wrong.frames, "down").direction
    still = np.repeat(wrong.frames[:1], len(wrong.frames), axis=0)
    sc = score_clip(SCENE, still, "down")
    assert sc.frame0 and sc.last_kept and not sc.direction and abs(sc.displacement) < 0.1


def test_changed_first_frame_and_lost_object_are_caught() -> None:
    clip = render_clip(SCENE, 32, 32, random.Random(0), "down", 5)
    frames = clip.frames.copy()
    frames[0] = frames[0][:, ::-1]  # mirrored: positions differ from the input
    assert not score_clip(SCENE, frames, "down").frame0
    frames = clip.frames.copy()
    frames[-1] = frames[-1, 0, 0]  # the last frame is only background
    sc = score_clip(SCENE, frames, "down")
    assert not sc.last_kept and not sc.direction


def test_ground_truth_clips_meet_every_bar() -> None:
    res = evaluate(None, n_scenes=8)
    m = res.metrics()
    assert m["svd_frame0"] == m["svd_last_kept"] == m["svd_direction"] == m["svd_monotonic"] == 100.0
    assert m["i2v_frame0"] == m["i2v_direction"] == 100.0
    assert "SVD (implied rule)" in format_table(res)


def test_reversed_clips_fail_direction_and_static_ones_monotonicity() -> None:
    res = MotionEval()
    for scene, (w, h), _, _ in eval_cases(4):
        rule = implied_direction(scene)
        scores = {}
        for s in (1, 5, 10):
            frames = render_clip(scene, w, h, random.Random(0), rule, s).frames
            scores[s] = score_clip(scene, frames[::-1] if s != 1 else frames[:1].repeat(len(frames), 0), rule)
        res.svd.append(scores)
    m = res.metrics()
    assert m["svd_direction"] == 0.0
    assert m["svd_monotonic"] == 0.0
