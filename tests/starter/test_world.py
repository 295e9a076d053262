import random

import numpy as np

from sfumato.starter.world import (
    COLORS,
    HELD_OUT,
    PAIRS,
    POSITIONS,
    SHAPES,
    Obj,
    Scene,
    caption,
    caption_vocabulary,
    heldout_scenes,
    render,
    sample_scene,
)


def test_world_has_the_required_attributes():
    assert set(SHAPES) >= {"circle", "square", "triangle", "star", "heart", "diamond"}
    required = ["red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "black", "gray", "brown", "cyan"]
    assert set(COLORS) >= set(required)
    assert set(POSITIONS) >= {"left", "right", "top", "bottom", "center", "top left", "bottom right"}


def test_render_is_deterministic_and_draws_the_object():
    scene = Scene("blue", (Obj("circle", "red", "left", "large"),))
    a = render(scene, 64, 64, random.Random(1))
    b = render(scene, 64, 64, random.Random(1))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert (a == b).all()
    # the corner is background blue, the left-middle is red
    assert np.abs(a[2, 60].astype(int) - COLORS["blue"]).max() <= 12
    assert np.abs(a[32, 14].astype(int) - COLORS["red"]).max() <= 12


def test_non_square_buckets_keep_the_layout():
    scene = Scene("white", (Obj("square", "black", "top right", "small"),))
    img = render(scene, 64, 48, random.Random(0))
    ys, xs = np.nonzero(img.sum(-1) < 200)
    assert xs.mean() > 40 and ys.mean() < 20


def test_two_objects_never_overlap():
    for a, b in PAIRS:
        (ca, ra), (cb, rb) = POSITIONS[a], POSITIONS[b]
        assert abs(ca - cb) == 2 or abs(ra - rb) == 2


def test_training_never_sees_held_out_pairs():
    rng = random.Random(0)
    for _ in range(3000):
        s = sample_scene(rng, "train")
        for o in s.objects:
            assert (o.color, o.shape) not in HELD_OUT
            assert o.color != s.background
    assert ("red", "circle") in HELD_OUT


def test_held_out_scenes_use_held_out_pairs():
    scenes = heldout_scenes(100)
    assert scenes == heldout_scenes(100)
    assert all((s.objects[0].color, s.objects[0].shape) in HELD_OUT for s in scenes)
    assert any(len(s.objects) == 2 for s in scenes) and any(len(s.objects) == 1 for s in scenes)


def test_captions_vary_and_mention_every_attribute():
    rng = random.Random(3)
    texts = set()
    for _ in range(400):
        s = sample_scene(rng, "train")
        t = caption(s, rng)
        texts.add(t)
        assert s.background in t
        for o in s.objects:
            assert o.color in t and o.shape in t
    joined = " ".join(texts)
    for word in ("centre", "middle", "center", "two", "corner"):
        assert word in joined
    assert any(t.endswith("background") for t in texts)
    assert any(t.split()[1] == "background" or t.split()[0] == "background" for t in texts if "background" in t[:20])
    assert len(texts) > 390
    vocab = set(caption_vocabulary())
    for t in texts:
        for w in t.replace(",", " , ").replace(":", " : ").replace("-", " - ").split():
            assert w in vocab, w


def test_plural_form():
    rng = random.Random(0)
    scene = Scene("white", (Obj("star", "red", "left", "small"), Obj("star", "blue", "right", "small")))
    texts = {caption(scene, rng) for _ in range(200)}
    assert any(t.startswith("two stars") or "two stars" in t for t in texts)


def test_star_weight_makes_stars_likelier_and_weight_1_keeps_the_old_draws():
    plain, one = random.Random(5), random.Random(5)
    assert [sample_scene(plain, "train") for _ in range(200)] == [
        sample_scene(one, "train", star_weight=1.0) for _ in range(200)
    ]
    rng = random.Random(0)
    objs = [o for _ in range(6000) for o in sample_scene(rng, "train", star_weight=3.0).objects]
    share = sum(o.shape == "star" for o in objs) / len(objs)
    assert 0.33 < share < 0.43  # 3 / 8 = 0.375; unweighted it is 1 / 6
    assert all((o.color, o.shape) not in HELD_OUT for o in objs)
