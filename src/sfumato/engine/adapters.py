"""LoRA adapters set on a cached pipeline for one request (a custom model's, elements), through diffusers' peft
integration. Adapter activation is state of the pipeline's modules, shared by every request on it, so the
engine calls `apply_adapters` inside its lock on every request, including those with none (which disables
LoRA, so a request without elements gets exactly the base model's pixels even right after one with them).

Loaded adapters stay resident (least recently used first out, at most `MAX_RESIDENT` per pipeline): switching
between recent adapters costs a `set_adapters` call, not a file read."""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfumato.engine.load_lock import LOAD_LOCK

MAX_RESIDENT = 8  # set_adapters' cost grows with the adapters loaded (diffusers#11816): keep few resident


@dataclass(frozen=True)
class LoraAdapter:
    path: Path  # a diffusers-format LoRA file (pytorch_lora_weights.safetensors)
    weight: float

    @property
    def name(self) -> str:
        """An adapter name unique to the file (its path and size and mtime), stable across requests."""
        stat = self.path.stat()
        return "a" + hashlib.sha1(f"{self.path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]


class AdapterError(ValueError):
    """A LoRA that does not fit the model (other shapes or module names): the job fails with this reason."""


class ResidentAdapters:
    """The adapters loaded on one pipeline, least recently used first. Only ever used under the engine's lock."""

    def __init__(self) -> None:
        self._names: OrderedDict[str, None] = OrderedDict()

    def apply(self, pipe: Any, adapters: tuple[LoraAdapter, ...]) -> None:
        if not adapters:
            if self._names:
                pipe.disable_lora()
            return
        names = []
        for adapter in adapters:
            name = adapter.name
            if name not in self._names:
                self._load(pipe, adapter, name)
            self._names.move_to_end(name)
            names.append(name)
        self._evict(pipe, keep=set(names))
        pipe.enable_lora()
        pipe.set_adapters(names, adapter_weights=[a.weight for a in adapters])

    def _load(self, pipe: Any, adapter: LoraAdapter, name: str) -> None:
        try:
            # low_cpu_mem_usage patches torch globally (diffusers#14347) and tiny LoRAs gain nothing from it.
            with LOAD_LOCK:
                pipe.load_lora_weights(
                    str(adapter.path.parent), weight_name=adapter.path.name, adapter_name=name, low_cpu_mem_usage=False
                )
        except (ValueError, KeyError, RuntimeError) as exc:
            with contextlib.suppress(Exception):  # nothing may have been injected
                pipe.delete_adapters([name])
            raise AdapterError(f"the LoRA {adapter.path.name} does not fit this model: {exc}") from exc
        self._names[name] = None

    def _evict(self, pipe: Any, keep: set[str]) -> None:
        while len(self._names) > MAX_RESIDENT:
            oldest = next((n for n in self._names if n not in keep), None)
            if oldest is None:
                return
            pipe.delete_adapters([oldest])
            del self._names[oldest]

    def resident(self) -> list[str]:
        return list(self._names)
