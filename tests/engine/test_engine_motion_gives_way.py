"""A motion call lets a generation use the engine between its steps: the long lane gives way at each step (its
progress waits while an interactive job runs), so the engine's lock must not be held there, or both wait
for ever (a text-to-video with variations queued behind it once stopped both lanes)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PIL import Image

from sfumato.engine.engine import Engine
from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.engine.types import GenerateRequest, GenerateResult
from sfumato.engine.video import MotionRequest


@pytest.fixture(scope="module")
def tiny_svd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_svd(tmp_path_factory.mktemp("svd") / "tiny-svd", steps=3)


def test_a_generation_runs_while_a_motion_call_waits_between_its_steps(
    engine: Engine, tiny_svd: Path, tiny_sd15: Path
) -> None:
    generated: list[GenerateResult] = []
    steps_seen: list[int] = []

    def give_way(step: int, total: int) -> None:
        steps_seen.append(step)
        if step == 1:  # as EngineGate.yield_to_interactive does: wait until the waiting generation is done
            request = GenerateRequest(tiny_sd15, "a red cat", width=64, height=64, num_inference_steps=2)
            worker = threading.Thread(target=lambda: generated.append(engine.generate(request)))
            worker.start()
            worker.join(timeout=60)
            assert not worker.is_alive(), "the generation waited for the motion call's lock"

    result = engine.motion(MotionRequest(tiny_svd, Image.new("RGB", (32, 32), "blue")), progress=give_way)
    assert len(generated) == 1 and generated[0].images[0].size == (64, 64)
    assert steps_seen == [1, 2, 3] and len(result.frames) == 4


def test_a_cancel_raised_by_progress_leaves_the_engine_usable(engine: Engine, tiny_svd: Path, tiny_sd15: Path) -> None:
    def cancel(step: int, total: int) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        engine.motion(MotionRequest(tiny_svd, Image.new("RGB", (32, 32), "red")), progress=cancel)
    # The lock is free again (taken back before the exception left the call, released by its `with`).
    request = GenerateRequest(tiny_sd15, "ok", width=64, height=64, num_inference_steps=2)
    assert engine.generate(request).images
    assert engine.motion(MotionRequest(tiny_svd, Image.new("RGB", (32, 32), "red"))).frames
