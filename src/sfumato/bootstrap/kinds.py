"""Which job kinds exist: each registered with its handler, its model lookup, its lane and its finish hooks,
in the order they run inside the finishing transaction. Plugins (SFUMATO_JOB_KIND_PLUGINS) add theirs here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfumato.jobs.core.kinds import JobKinds
from sfumato.jobs.handlers.generation import GenerationEngine, generation_kind
from sfumato.jobs.handlers.motion import motion_kind
from sfumato.jobs.handlers.texture import texture_kind
from sfumato.jobs.handlers.training import training_kind
from sfumato.jobs.handlers.variation import variation_kind
from sfumato.jobs.handlers.video_upscale import video_upscale_kind
from sfumato.services.credits import Credits
from sfumato.services.webhooks import Webhooks
from sfumato.store.database import Database
from sfumato.store.files import FileStore


@dataclass(frozen=True)
class KindParts:
    """What a kind's handler may be built from (a plugin's `register(kinds, parts)` gets the same)."""

    db: Database
    files: FileStore
    engine: Any  # the engine (lazy until first use); each handler states what it needs as a Protocol
    work_dir: Path = Path("work")  # this worker's own disk: training checkpoints, copies of stored LoRAs
    training_time_limit_seconds: float = 1800.0
    training_steps_scale: float = 1.0
    # Runs when a generation, variation or motion job ends: a blueprint execution moves on (services/blueprints).
    step_hook: Any = None


def build_kinds(
    parts: KindParts, webhooks: Webhooks | None = None, plugins: str = "", credits: Credits | None = None
) -> JobKinds:
    kinds = JobKinds()
    # Finish hooks, in order: the refund of a FAILED job's credits, then the webhook outbox row (whose body
    # shows the job's cost after the refund).
    refund = (credits.refund_failed,) if credits else ()
    generation_hooks = refund + ((webhooks.on_generation_finished,) if webhooks else ())
    variation_hooks = refund + ((webhooks.on_variation_finished,) if webhooks else ())
    if parts.step_hook is not None:  # after the others: the next step's job is made once this one is final
        generation_hooks, variation_hooks = (*generation_hooks, parts.step_hook), (*variation_hooks, parts.step_hook)
    engine: GenerationEngine = parts.engine
    kinds.register(generation_kind(parts.files, engine, generation_hooks, parts.work_dir / "adapters"))
    kinds.register(variation_kind(parts.db, parts.files, parts.engine, variation_hooks))
    kinds.register(motion_kind(parts.files, parts.engine, generation_hooks))
    kinds.register(video_upscale_kind(parts.db, parts.files, refund))
    kinds.register(texture_kind(parts.db, parts.files, parts.engine, refund))
    training_hooks = refund + ((webhooks.on_training_finished,) if webhooks else ())
    kinds.register(
        training_kind(
            parts.db,
            parts.files,
            parts.engine,
            parts.work_dir / "training",
            parts.training_time_limit_seconds,
            training_hooks,
            parts.training_steps_scale,
        )
    )
    for plugin in filter(None, (p.strip() for p in plugins.split(","))):
        load_plugin(plugin)(kinds, parts)
    return kinds


def load_plugin(spec: str) -> Any:
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ValueError(f"SFUMATO_JOB_KIND_PLUGINS entry {spec!r}: write it as module:function")
    return getattr(importlib.import_module(module_name), function)
