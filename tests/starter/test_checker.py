import random

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
    for size in ((64, 64), (64, 48), (48, 64)):
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
    sc = score(a, read_scene(render(b, 64, 64, rng)))
    assert not sc.all_right and not sc.background
