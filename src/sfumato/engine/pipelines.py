"""Loading diffusers text-to-image folders from local disk, and an LRU cache of them under a memory budget.

One loading path for every pipeline family (SD 1.x/2.x, SDXL, SD3, Flux...): `AutoPipelineForText2Image`
reads `model_index.json` and picks the pipeline class, so adding a family never touches this module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
from diffusers import AutoPipelineForText2Image, DiffusionPipeline
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from sfumato.engine.adapters import ResidentAdapters
from sfumato.engine.device import RuntimeOptions, prepare
from sfumato.engine.load_lock import LOAD_LOCK
from sfumato.engine.types import ModelNotFoundError
from sfumato.engine.video import follows_prompt_direction, is_video_folder
from sfumato.starter.motion.model import MotionPipeline

MODEL_INDEX = "model_index.json"
# Optional per-model settings an operator (or our training) writes next to model_index.json.
SFUMATO_MODEL_FILE = "sfumato_model.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
# Catching these (not Exception) keeps real faults such as MemoryError or KeyboardInterrupt visible.
_LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError, RuntimeError)


@dataclass
class LoadedPipeline:
    """A pipeline held by the cache. `scheduler` is the model's own scheduler as loaded: the engine builds a
    fresh scheduler from it for every call and never mutates it, so no request leaks into the next."""

    path: Path
    pipe: DiffusionPipeline
    nbytes: int
    scheduler: SchedulerMixin
    buckets: list[tuple[int, int]] = field(default_factory=list)
    # The LoRAs loaded on this pipeline (engine/adapters.py); they go when the pipeline leaves the cache.
    adapters: ResidentAdapters = field(default_factory=ResidentAdapters)


class PipelineKey(NamedTuple):
    """What makes two loaded pipelines different: the folder, the weights' dtype and the device. (Per-request
    LoRA adapters are set on the cached pipeline inside the engine's lock, not cached as separate copies.)"""

    path: Path
    dtype: torch.dtype
    device: str


def resolve_model_path(path: Path | str) -> Path:
    """The folder part of the cache key: the absolute, symlink-free folder path."""
    return Path(path).expanduser().resolve()


def pipeline_nbytes(pipe: DiffusionPipeline) -> int:
    """Bytes of parameters and buffers of the pipeline's torch modules (tied tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module):
            continue
        for tensor in (*component.parameters(), *component.buffers()):
            key = tensor.data_ptr()
            if key in seen:
                continue
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
    return total


def estimate_folder_nbytes(folder: Path) -> int:
    """Weight bytes on disk of the components model_index.json lists: a cheap guess of a model's size
    *before* loading it, so that we can evict first and not hold the old models and the new one at the
    peak. Only what the default load reads is counted: not a stray single-file checkpoint at the top, not
    variant files (`*.fp16.safetensors`), and `.bin` only where a component has no `.safetensors`."""
    try:
        index = json.loads((folder / MODEL_INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    total = 0
    for name, spec in index.items():
        component = folder / name
        if name.startswith("_") or not isinstance(spec, list) or None in spec or not component.is_dir():
            continue
        files = [f for f in component.iterdir() if f.suffix in _WEIGHT_SUFFIXES and f.name.count(".") == 1]
        safetensors = [f for f in files if f.suffix == ".safetensors"]
        total += sum(f.stat().st_size for f in (safetensors or files))
    return total


def read_buckets(folder: Path) -> list[tuple[int, int]]:
    """`sfumato_model.json` → `[(w, h), ...]`; no file means no buckets (render at the requested size)."""
    settings_file = folder / SFUMATO_MODEL_FILE
    if not settings_file.is_file():
        return []
    try:
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        buckets = [(int(w), int(h)) for w, h in settings.get("buckets", [])]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ModelNotFoundError(
            f'{settings_file} is unreadable: expected JSON like {{"buckets": [[1024, 1024], [1152, 896]]}} ({exc})'
        ) from exc
    if any(w <= 0 or h <= 0 for w, h in buckets):
        raise ModelNotFoundError(f"{settings_file}: bucket sizes must be positive, got {buckets}")
    return buckets


def check_model_folder(folder: Path) -> None:
    """Raise ModelNotFoundError, naming the path and what we expect, unless `folder` looks like a pipeline."""
    expected = f"a diffusers pipeline folder containing {MODEL_INDEX} (as written by save_pretrained)"
    if not folder.is_dir():
        raise ModelNotFoundError(f"Model folder {folder} does not exist; expected {expected}")
    index = folder / MODEL_INDEX
    if not index.is_file():
        raise ModelNotFoundError(f"Model folder {folder} has no {MODEL_INDEX}; expected {expected}")
    try:
        json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotFoundError(f"{index} is unreadable ({exc}); expected {expected}") from exc


def load_pipeline(folder: Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> DiffusionPipeline:
    """Load one text-to-image (or image-to-video) pipeline from local disk; never touches the network."""
    check_model_folder(folder)
    with LOAD_LOCK:
        return _load_pipeline(folder, device, dtype)


def _load_pipeline(folder: Path, device: str, dtype: torch.dtype) -> DiffusionPipeline:
    try:
        if is_video_folder(folder) and follows_prompt_direction(folder):
            # Starter Motion's layout: the stock SVD pipeline plus a prompt's direction (its own text encoder).
            return MotionPipeline.load(folder, device=device, dtype=dtype)
        # Video folders (SVD) have no auto pipeline: model_index.json's class name picks the pipeline.
        loader = DiffusionPipeline if is_video_folder(folder) else AutoPipelineForText2Image
        pipe = loader.from_pretrained(folder, dtype=dtype, local_files_only=True)
    except _LOAD_ERRORS as exc:
        raise ModelNotFoundError(f"Could not load a diffusers text-to-image pipeline from {folder}: {exc}") from exc
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)  # a server logs, it does not draw progress bars
    return pipe


def release_memory() -> None:
    """Make dropped pipelines' memory actually go back: collect cycles, then hand freed heap to the OS
    (glibc keeps freed arenas otherwise, and RSS creeps up with every model switch)."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    _malloc_trim()


def _malloc_trim() -> None:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    try:
        libc = ctypes.CDLL(libc_name)
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return


class PipelineCache:
    """LRU of loaded pipelines keyed by PipelineKey (folder, dtype, device), bounded by a memory budget in bytes.

    A load that would exceed the budget first evicts least-recently-used pipelines; a single model larger
    than the budget still loads, alone. Thread-safe: one lock guards the table *and* loading, so two threads
    asking for the same uncached model load it once and the budget check never races with a load.
    """

    def __init__(
        self,
        memory_budget_bytes: int,
        device: str = "cpu",
        dtype: torch.dtype | None = torch.float32,
        runtime: RuntimeOptions | None = None,
    ) -> None:
        """`runtime` (engine/device.py): the device, the dtype policy and the speed options applied at load;
        when given, its device is the default, and `dtype` None means its policy picks one per model folder."""
        if memory_budget_bytes <= 0:
            raise ValueError(f"memory_budget_bytes must be positive, got {memory_budget_bytes}")
        self.memory_budget_bytes = memory_budget_bytes
        self.runtime = runtime
        self.device = runtime.device if runtime is not None else device  # the defaults of `get`
        self.dtype = None if runtime is not None else dtype
        self._folder_dtypes: dict[Path, torch.dtype] = {}  # the policy's choice, read from disk once per folder
        self._entries: OrderedDict[PipelineKey, LoadedPipeline] = OrderedDict()  # LRU first, MRU last
        self._lock = threading.Lock()

    def key(self, path: Path | str, dtype: torch.dtype | None = None, device: str | None = None) -> PipelineKey:
        folder = resolve_model_path(path)
        return PipelineKey(folder, dtype or self.dtype or self._policy_dtype(folder), device or self.device)

    def _policy_dtype(self, folder: Path) -> torch.dtype:
        if self.runtime is None:
            return torch.float32
        if folder not in self._folder_dtypes:
            self._folder_dtypes[folder] = self.runtime.dtype_for(folder)
        return self._folder_dtypes[folder]

    def get(self, path: Path | str, dtype: torch.dtype | None = None, device: str | None = None) -> LoadedPipeline:
        """The pipeline for `path` in `dtype` on `device` (the cache's defaults when None), loading it on a
        miss; either way it becomes the most recently used."""
        key = self.key(path, dtype, device)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            check_model_folder(key.path)
            buckets = read_buckets(key.path)
            # Evict on the on-disk estimate first, to keep the peak low; then again on the true size.
            self._evict_for(estimate_folder_nbytes(key.path))
            pipe = load_pipeline(key.path, key.device, key.dtype)
            if self.runtime is not None and key.device == self.runtime.device:
                # SDPA, channels-last, compile + warm-up: under the lock, so nobody uses it half-prepared.
                prepare(pipe, self.runtime, key.path, buckets, is_video_folder(key.path))
            entry = LoadedPipeline(
                path=key.path, pipe=pipe, nbytes=pipeline_nbytes(pipe), scheduler=pipe.scheduler, buckets=buckets
            )
            self._evict_for(entry.nbytes)
            self._entries[key] = entry
            return entry

    def evict(self, path: Path | str) -> bool:
        """Drop every loaded copy of one model; True if one was loaded."""
        folder = resolve_model_path(path)
        with self._lock:
            dropped = [self._entries.pop(k) for k in list(self._entries) if k.path == folder]
        if not dropped:
            return False
        del dropped
        release_memory()
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        release_memory()

    def loaded_keys(self) -> list[PipelineKey]:
        """Loaded pipelines, least recently used first."""
        with self._lock:
            return list(self._entries)

    def loaded_paths(self) -> list[Path]:
        """Loaded model folders, least recently used first (a folder loaded twice, in two dtypes, once)."""
        return list(dict.fromkeys(k.path for k in self.loaded_keys()))

    def used_bytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, Path)):
            return False
        return resolve_model_path(path) in self.loaded_paths()

    def _evict_for(self, incoming_nbytes: int) -> None:
        """Evict LRU entries until `incoming_nbytes` fits beside the rest (caller holds the lock)."""
        evicted = False
        used = sum(entry.nbytes for entry in self._entries.values())
        while self._entries and used + incoming_nbytes > self.memory_budget_bytes:
            _, entry = self._entries.popitem(last=False)
            used -= entry.nbytes
            del entry
            evicted = True
        if evicted:
            release_memory()
