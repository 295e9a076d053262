"""Side-by-side work on images between a job's last step and COMPLETE (resizes, PNG encodes): Pillow releases
the GIL in both, so on a 2-core machine two threads take about half the time of one loop, and that time is on
every generation's critical path."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def side_by_side(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`[fn(item) for item in items]`, in order, on up to one thread per core."""
    if len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(len(items), os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items))
