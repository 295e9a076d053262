"""Leonardo's `SdGenerationSchedulers` values → diffusers schedulers.

| Leonardo value            | diffusers scheduler                  | settings on top of the model's config      |
|---------------------------|--------------------------------------|--------------------------------------------|
| KLMS                      | LMSDiscreteScheduler (scipy-free)    | —                                          |
| EULER_ANCESTRAL_DISCRETE  | EulerAncestralDiscreteScheduler      | —                                          |
| EULER_DISCRETE            | EulerDiscreteScheduler               | —                                          |
| DDIM                      | DDIMScheduler                        | —                                          |
| DPM_SOLVER                | DPMSolverMultistepScheduler          | DPM++ 2M (algorithm dpmsolver++, order 2)  |
| PNDM                      | PNDMScheduler                        | skip_prk_steps (PLMS, as SD ships it)      |
| LEONARDO                  | DPMSolverMultistepScheduler          | DPM++ 2M Karras (Karras sigmas)            |

LEONARDO is our "house default": DPM++ 2M with Karras sigmas, the usual high-quality choice at 20-30 steps.
On a zero-terminal-SNR model (`rescale_betas_zero_snr`) it drops the Karras sigmas and keeps the model's
own timestep spacing, which such models are trained for (Karras sigmas would start from sigma 4096).

Every scheduler is built with `from_config(model_scheduler.config)`, so the model's prediction_type,
beta schedule, timestep spacing and zero-SNR settings carry over. LMS and PNDM have no zero-SNR switch:
for them the model's rescaled betas are passed as `trained_betas` (the terminal alpha clamped to 2**-24,
exactly as diffusers' own Euler/DPM schedulers do) so they sample the same noise schedule.

Flow-matching models (SD3, Flux...: FlowMatch* schedulers) and any other model whose scheduler is not
interchangeable with the one asked for (diffusers' `compatibles`) keep their own scheduler: a DDPM-family
scheduler cannot drive a rectified-flow model. The value is accepted and recorded, and has no effect there.

A fresh scheduler instance is built for every call, so nothing of one request (timesteps, step index,
multistep history) can leak into the next, and the cached pipeline's own scheduler is never mutated.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    PNDMScheduler,
)

# Imported from its module: diffusers' top-level name is a stub that demands scipy when scipy is absent.
from diffusers.schedulers.scheduling_lms_discrete import LMSDiscreteScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from numpy.polynomial import Polynomial


class ExactLMSDiscreteScheduler(LMSDiscreteScheduler):
    """diffusers' K-LMS without scipy: the LMS coefficient is the integral of a Lagrange basis polynomial,
    which numpy integrates exactly (diffusers uses scipy's adaptive quadrature to 1e-4). Same class
    otherwise, so the project needs no scipy."""

    def get_lms_coefficient(self, order: int, t: int, current_order: int) -> float:
        sigmas = [float(s) for s in self.sigmas]
        basis = Polynomial([1.0])
        for k in range(order):
            if k != current_order:
                denominator = sigmas[t - current_order] - sigmas[t - k]
                basis = basis * Polynomial([-sigmas[t - k], 1.0]) / denominator
        antiderivative = basis.integ()
        return float(antiderivative(sigmas[t + 1]) - antiderivative(sigmas[t]))


@dataclass(frozen=True)
class SchedulerChoice:
    """One Leonardo scheduler value: the diffusers class and the settings we put over the model's config."""

    cls: type[SchedulerMixin]
    overrides: dict[str, Any] = field(default_factory=dict)
    label: str = ""


SCHEDULERS: dict[str, SchedulerChoice] = {
    "KLMS": SchedulerChoice(ExactLMSDiscreteScheduler, label="K-LMS"),
    "EULER_ANCESTRAL_DISCRETE": SchedulerChoice(EulerAncestralDiscreteScheduler, label="Euler a"),
    "EULER_DISCRETE": SchedulerChoice(EulerDiscreteScheduler, label="Euler"),
    "DDIM": SchedulerChoice(DDIMScheduler, label="DDIM"),
    "DPM_SOLVER": SchedulerChoice(
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
        label="DPM++ 2M",
    ),
    "PNDM": SchedulerChoice(PNDMScheduler, {"skip_prk_steps": True}, label="PNDM (PLMS)"),
    "LEONARDO": SchedulerChoice(
        DPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        label="DPM++ 2M Karras",
    ),
}

_ZERO_SNR_ALPHA = 2.0**-24  # what diffusers' schedulers put in place of a terminal alpha_cumprod of 0


class UnknownSchedulerError(ValueError):
    """The scheduler name is not one of Leonardo's `SdGenerationSchedulers` values."""


def normalize_scheduler_name(name: str) -> str:
    """Leonardo's value in canonical case; callers send 'euler_discrete' or 'Euler_Discrete' too."""
    key = name.strip().upper()
    if key not in SCHEDULERS:
        raise UnknownSchedulerError(f"Unknown scheduler {name!r}; expected one of {', '.join(SCHEDULERS)}")
    return key


def is_flow_matching(scheduler: SchedulerMixin) -> bool:
    return type(scheduler).__name__.startswith("FlowMatch")


def is_interchangeable(model_scheduler: SchedulerMixin, cls: type[SchedulerMixin]) -> bool:
    """Whether `cls` may replace the model's own scheduler (diffusers' compatibility list)."""
    if is_flow_matching(model_scheduler):
        return False
    compatible = {c.__name__ for c in model_scheduler.compatibles}
    return any(base.__name__ in compatible for base in cls.__mro__)  # our LMS subclass counts as LMS


def build_scheduler(name: str | None, model_scheduler: SchedulerMixin) -> SchedulerMixin:
    """A fresh scheduler for one call. `None`, or a value the model cannot use, gives a fresh copy of the
    model's own scheduler."""
    own = type(model_scheduler)
    if name is None:
        return own.from_config(model_scheduler.config)
    choice = SCHEDULERS[normalize_scheduler_name(name)]
    if not is_interchangeable(model_scheduler, choice.cls):
        return own.from_config(model_scheduler.config)
    overrides = dict(choice.overrides)
    zero_snr = bool(model_scheduler.config.get("rescale_betas_zero_snr", False))
    if zero_snr:
        if "use_karras_sigmas" in overrides:  # keep the spacing a zero-SNR model is trained for
            overrides["use_karras_sigmas"] = False
        if not _accepts(choice.cls, "rescale_betas_zero_snr"):
            overrides["trained_betas"] = _zero_snr_betas(model_scheduler)
    return choice.cls.from_config(model_scheduler.config, **overrides)


def _accepts(cls: type[SchedulerMixin], parameter: str) -> bool:
    return parameter in inspect.signature(cls.__init__).parameters


def _zero_snr_betas(model_scheduler: SchedulerMixin) -> list[float]:
    """The model's rescaled betas with the terminal step clamped, so alpha_cumprod never reaches 0 (which
    would make LMS sigmas and PNDM's update divide by zero)."""
    alphas_cumprod = getattr(model_scheduler, "alphas_cumprod", None)
    if alphas_cumprod is None:  # a scheduler without the attribute: rebuild it from a DDIM of the same config
        alphas_cumprod = DDIMScheduler.from_config(model_scheduler.config).alphas_cumprod
    alphas_cumprod = alphas_cumprod.to(torch.float64).clone()
    alphas_cumprod[-1] = max(float(alphas_cumprod[-1]), _ZERO_SNR_ALPHA)
    previous = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
    return (1.0 - alphas_cumprod / previous).tolist()
