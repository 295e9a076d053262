import random

import numpy as np

from sfumato.starter.checker import read_scene, score
from sfumato.starter.world import render, sample_scene


def _accuracy(split: str, size: tuple[int, int], n: int) -> tuple[float, float]:
    rng = random.Random(hash((split, size)) % 1000)
    attrs = ok = scenes_ok = 0
    for _ in range(n):
        scene = sample_scene(rng, split)
        sc = score(scene, read_scene(render(scene, size[0], size[1], rng)))
        attrs += 1 + 3 * len(scene.objects)
        ok += sc.background + sum(sc.color) + sum(sc.shape) + sum(sc.position)
        scenes_ok += sc.all_right
    return ok / attrs, scenes_ok / n


def test_checker_reads_ground_truth_at_least_99_percent():
    # the Starter buckets, smaller and larger frames
    for size in ((32, 32), (40, 32), (32, 40), (24, 24), (64, 64), (64, 48)):
        for split in ("train", "heldout"):
            attr_acc, scene_acc = _accuracy(split, size, 120)
            assert attr_acc >= 0.99, (size, split, attr_acc)
            assert scene_acc >= 0.99, (size, split, scene_acc)


def test_checker_notices_a_wrong_scene():
    rng = random.Random(5)
    a = sample_scene(rng, "train")
    b = a
    while b.background == a.background:
        b = sample_scene(rng, "train")
    sc = score(a, read_scene(render(b, 32, 32, rng)))
    assert not sc.all_right and not sc.background


def test_checker_tells_every_shape_from_every_other_at_the_smallest_size():
    from sfumato.starter.world import SHAPES, Obj, Scene

    for truth in SHAPES:
        scene = Scene("white", (Obj(truth, "red", "center", "small"),))
        reading = read_scene(render(scene, 24, 24, random.Random(3)))
        assert [o.shape for o in reading.objects] == [truth]
        for other in SHAPES:
            if other != truth:
                wrong = Scene("white", (Obj(other, "red", "center", "small"),))
                assert score(wrong, reading).shape == [False]


def test_a_blob_is_not_read_as_a_pointed_shape():
    # a heavily blurred star has lost its points: the checker must not credit it as a star
    from PIL import Image, ImageFilter

    from sfumato.starter.world import Obj, Scene

    scene = Scene("black", (Obj("star", "yellow", "center", "small"),))
    img = render(scene, 32, 32, random.Random(0))
    blob = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(3)))
    reading = read_scene(blob)
    assert not reading.objects or reading.objects[0].shape != "star"
