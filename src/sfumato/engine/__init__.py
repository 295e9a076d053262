"""The inference engine: diffusers pipelines from local folders, cached, behind one `Engine.generate`.

Importing this package is cheap: the torch/diffusers modules load on first use of a name that needs them,
so code that only needs the plain types (`sfumato.engine.types`) never pays for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sfumato.engine.types import (
    SCHEDULER_NAMES,
    AddonError,
    GenerateRequest,
    GenerateResult,
    ModelNotFoundError,
    ProgressCallback,
)

if TYPE_CHECKING:
    from sfumato.engine.engine import Engine
    from sfumato.engine.pipelines import PipelineCache
    from sfumato.engine.schedulers import SCHEDULERS, UnknownSchedulerError
    from sfumato.engine.tiny import build_tiny_sd15, build_tiny_sdxl

_LAZY = {
    "Engine": "sfumato.engine.engine",
    "PipelineCache": "sfumato.engine.pipelines",
    "SCHEDULERS": "sfumato.engine.schedulers",
    "UnknownSchedulerError": "sfumato.engine.schedulers",
    "build_tiny_sd15": "sfumato.engine.tiny",
    "build_tiny_sdxl": "sfumato.engine.tiny",
}

__all__ = [
    "SCHEDULER_NAMES",
    "SCHEDULERS",
    "AddonError",
    "Engine",
    "GenerateRequest",
    "GenerateResult",
    "ModelNotFoundError",
    "PipelineCache",
    "ProgressCallback",
    "UnknownSchedulerError",
    "build_tiny_sd15",
    "build_tiny_sdxl",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
