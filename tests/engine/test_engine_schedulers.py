"""Leonardo scheduler values → diffusers schedulers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from diffusers import DDIMScheduler, FlowMatchEulerDiscreteScheduler

from sfumato.engine.engine import Engine
from sfumato.engine.schedulers import (
    SCHEDULERS,
    ExactLMSDiscreteScheduler,
    UnknownSchedulerError,
    build_scheduler,
)
from sfumato.engine.types import SCHEDULER_NAMES, GenerateRequest


def test_every_leonardo_value_is_mapped() -> None:
    assert tuple(SCHEDULERS) == SCHEDULER_NAMES


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_scheduler_value_generates(engine: Engine, tiny_sd15: Path, name: str) -> None:
    request = GenerateRequest(model_path=tiny_sd15, prompt="a cat", width=64, height=64, num_inference_steps=3)
    calls: list[tuple[int, int]] = []
    result = engine.generate(dataclasses.replace(request, scheduler=name), progress=lambda s, t: calls.append((s, t)))
    image = np.asarray(result.images[0])
    assert image.shape == (64, 64, 3)
    # PLMS (PNDM) repeats its first timestep to warm up, so it may report one step more than asked.
    assert calls[-1][0] == calls[-1][1] >= 3
    assert image.std() > 0  # not a blank (NaN-turned-black) image


def test_every_scheduler_value_generates_on_sdxl(engine: Engine, tiny_sdxl: Path) -> None:
    for name in SCHEDULER_NAMES:
        request = GenerateRequest(
            model_path=tiny_sdxl, prompt="a cat", width=64, height=64, num_inference_steps=2, scheduler=name
        )
        assert engine.generate(request).images[0].size == (64, 64)


def test_a_request_scheduler_does_not_leak_into_the_next_request(engine: Engine, tiny_sd15: Path) -> None:
    request = GenerateRequest(model_path=tiny_sd15, prompt="a cat", width=64, height=64, num_inference_steps=3)
    own = engine.cache.get(tiny_sd15).pipe.scheduler
    before = np.asarray(engine.generate(request).images[0])
    engine.generate(dataclasses.replace(request, scheduler="EULER_ANCESTRAL_DISCRETE"))
    after = np.asarray(engine.generate(request).images[0])
    assert np.array_equal(before, after)
    assert engine.cache.get(tiny_sd15).pipe.scheduler is own


def test_model_settings_carry_over_to_every_scheduler() -> None:
    model = DDIMScheduler(
        beta_schedule="scaled_linear",
        prediction_type="v_prediction",
        timestep_spacing="trailing",
        rescale_betas_zero_snr=True,
    )
    for name in SCHEDULER_NAMES:
        scheduler = build_scheduler(name, model)
        assert scheduler.config.prediction_type == "v_prediction", name
        assert scheduler.config.timestep_spacing == "trailing", name
        scheduler.set_timesteps(10)
        assert np.isfinite(scheduler.timesteps.numpy()).all(), name
        if hasattr(scheduler, "sigmas"):
            assert np.isfinite(scheduler.sigmas.numpy()).all(), name
        # Zero terminal SNR: natively, or through the rescaled betas for schedulers without the switch.
        alphas = scheduler.alphas_cumprod.numpy()
        assert alphas[-1] < 1e-6, name
    assert build_scheduler("LEONARDO", model).config.use_karras_sigmas is False


def test_leonardo_is_dpm_pp_2m_karras_on_an_ordinary_model() -> None:
    scheduler = build_scheduler("LEONARDO", DDIMScheduler(beta_schedule="scaled_linear"))
    assert type(scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert scheduler.config.use_karras_sigmas is True
    assert scheduler.config.algorithm_type == "dpmsolver++"


def test_flow_matching_models_keep_their_own_scheduler() -> None:
    model = FlowMatchEulerDiscreteScheduler(shift=3.0)
    for name in (*SCHEDULER_NAMES, None):
        scheduler = build_scheduler(name, model)
        assert type(scheduler) is FlowMatchEulerDiscreteScheduler
        assert scheduler is not model  # a fresh instance all the same
        assert scheduler.config.shift == 3.0


def test_names_are_case_insensitive_and_unknown_names_are_refused() -> None:
    model = DDIMScheduler()
    assert type(build_scheduler("euler_discrete", model)).__name__ == "EulerDiscreteScheduler"
    with pytest.raises(UnknownSchedulerError, match="EULER_DISCRETE"):
        build_scheduler("EULER", model)


def test_scipy_free_lms_coefficients_match_numerical_integration() -> None:
    scheduler = ExactLMSDiscreteScheduler(beta_schedule="scaled_linear")
    scheduler.set_timesteps(20)
    sigmas = scheduler.sigmas.numpy().astype(np.float64)
    order, t = 4, 10
    for current in range(order):
        tau = np.linspace(sigmas[t], sigmas[t + 1], 20001)
        basis = np.ones_like(tau)
        for k in range(order):
            if k != current:
                basis *= (tau - sigmas[t - k]) / (sigmas[t - current] - sigmas[t - k])
        expected = np.trapezoid(basis, tau)
        assert scheduler.get_lms_coefficient(order, t, current) == pytest.approx(expected, rel=1e-5)
