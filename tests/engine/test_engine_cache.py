"""PipelineCache: loading from disk, LRU under a memory budget, helpful errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from sfumato.engine.pipelines import PipelineCache, pipeline_nbytes
from sfumato.engine.types import ModelNotFoundError


@pytest.fixture(scope="module")
def model_nbytes(three_models: list[Path]) -> int:
    return PipelineCache(1 << 30).get(three_models[0]).nbytes


def test_loads_sd15_and_sdxl_through_the_same_path(tiny_sd15: Path, tiny_sdxl: Path) -> None:
    cache = PipelineCache(1 << 30)
    assert type(cache.get(tiny_sd15).pipe).__name__ == "StableDiffusionPipeline"
    assert type(cache.get(tiny_sdxl).pipe).__name__ == "StableDiffusionXLPipeline"
    entry = cache.get(tiny_sd15)
    assert entry.nbytes == pipeline_nbytes(entry.pipe) > 0
    assert cache.used_bytes() == entry.nbytes + cache.get(tiny_sdxl).nbytes


def test_least_recently_used_model_is_evicted_when_the_budget_is_hit(
    three_models: list[Path], model_nbytes: int
) -> None:
    a, b, c = (p.resolve() for p in three_models)
    cache = PipelineCache(int(model_nbytes * 2.5))  # room for two
    cache.get(a)
    cache.get(b)
    cache.get(c)
    assert cache.loaded_paths() == [b, c]
    assert cache.used_bytes() <= cache.memory_budget_bytes


def test_touching_a_model_makes_it_most_recently_used(three_models: list[Path], model_nbytes: int) -> None:
    a, b, c = (p.resolve() for p in three_models)
    cache = PipelineCache(int(model_nbytes * 2.5))
    first_a = cache.get(a)
    cache.get(b)
    assert cache.get(a) is first_a  # a hit, not a reload
    cache.get(c)
    assert cache.loaded_paths() == [a, c]


def test_a_model_larger_than_the_budget_still_loads_alone(three_models: list[Path], model_nbytes: int) -> None:
    cache = PipelineCache(model_nbytes // 2)
    cache.get(three_models[0])
    cache.get(three_models[1])
    assert cache.loaded_paths() == [three_models[1].resolve()]


def test_the_key_is_the_resolved_folder(tiny_sd15: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tiny_sd15)
    cache = PipelineCache(1 << 30)
    assert cache.get(link) is cache.get(str(tiny_sd15))
    assert cache.loaded_paths() == [tiny_sd15.resolve()]
    assert tiny_sd15 in cache
    assert cache.evict(link)
    assert cache.loaded_paths() == []


def test_concurrent_requests_for_one_model_load_it_once(tiny_sd15: Path) -> None:
    cache = PipelineCache(1 << 30)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(tiny_sd15).pipe)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert all(pipe is results[0] for pipe in results)


def test_a_missing_folder_is_model_not_found_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ModelNotFoundError, match="model_index.json") as info:
        PipelineCache(1 << 30).get(missing)
    assert str(missing) in str(info.value)


def test_a_folder_without_model_index_is_model_not_found(tmp_path: Path) -> None:
    (tmp_path / "unet").mkdir()
    with pytest.raises(ModelNotFoundError, match="has no model_index.json") as info:
        PipelineCache(1 << 30).get(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_an_unreadable_or_broken_pipeline_is_model_not_found(tmp_path: Path) -> None:
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    (garbled / "model_index.json").write_text("{not json")
    with pytest.raises(ModelNotFoundError, match="unreadable"):
        PipelineCache(1 << 30).get(garbled)
    hollow = tmp_path / "hollow"
    hollow.mkdir()
    index = {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}
    (hollow / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelNotFoundError, match=str(hollow)):
        PipelineCache(1 << 30).get(hollow)


def test_the_size_estimate_counts_only_what_a_load_reads(tiny_sd15: Path, model_nbytes: int) -> None:
    from sfumato.engine.pipelines import estimate_folder_nbytes

    estimate = estimate_folder_nbytes(tiny_sd15)
    assert 0.8 * model_nbytes < estimate < 1.3 * model_nbytes


def test_the_key_holds_the_dtype_so_one_model_in_two_dtypes_is_two_entries(tiny_sd15: Path) -> None:
    import torch

    cache = PipelineCache(1 << 30)
    full = cache.get(tiny_sd15)
    half = cache.get(tiny_sd15, dtype=torch.bfloat16)
    assert half is not full and half.pipe.unet.dtype == torch.bfloat16 and full.pipe.unet.dtype == torch.float32
    assert cache.get(tiny_sd15, dtype=torch.float32) is full  # the default dtype is the same key
    keys = cache.loaded_keys()
    assert [(k.dtype, k.device) for k in keys] == [(torch.bfloat16, "cpu"), (torch.float32, "cpu")]  # LRU first
    assert cache.loaded_paths() == [tiny_sd15.resolve()] and tiny_sd15 in cache
    assert cache.evict(tiny_sd15) and cache.loaded_keys() == []  # evicting a model drops every copy
