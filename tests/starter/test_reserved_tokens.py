"""The reserved tokens <s0>..<s63> in models/starter: each is one id, every existing caption keeps its ids,
the original embedding rows and every other text-encoder tensor are unchanged, and a generation is
bit-identical to one with the pre-change text encoder (the new rows cut off again)."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sfumato.starter.reserved_tokens import RESERVED_TOKENS, add_reserved_tokens, reserved_tokens
from sfumato.starter.tokenizer import token_ids
from sfumato.starter.world import caption, sample_scene

STARTER = Path(__file__).resolve().parents[2] / "models" / "starter"
N_BEFORE = 185
# Hashes of the shipped files before the reserved tokens were added (commit 450e014): the ids of 2,000
# sampled captions, the 185 embedding rows (fp16 bytes), every other text-encoder tensor, the BPE files.
IDS_SHA = "47e99f29c56faca3de7a42f96e6862a9c46e6a3612b4e680223cf3ddee3dfbb2"
ROWS_SHA = "c17dec6cf0aaf4f7bfe05393359c2a54a635537c934258caa66e8f90ee377375"
OTHERS_SHA = "f3cc3166059e72ac6d2c753f72f1065027cbbf79f23e9498a51277182f3586fc"
VOCAB_SHA = "c1bf7eb7e39dc9cecb15f61b04cd370f59909c732d21100088d4cd790f023ce1"
MERGES_SHA = "65acf99736d31d0d15e19476097aed6922a733c30b028450f360f72e4d1315ab"


def _tok(folder: Path = STARTER):
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))


def _tensors(folder: Path = STARTER) -> dict[str, torch.Tensor]:
    with safe_open(str(folder / "text_encoder" / "model.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_existing_captions_tokenise_as_before():
    rng = random.Random(7)
    caps = [caption(sample_scene(rng, "train" if i % 2 else "heldout"), rng) for i in range(2000)]
    assert _sha(token_ids(_tok(), caps).numpy().tobytes()) == IDS_SHA
    assert _sha((STARTER / "tokenizer" / "vocab.json").read_bytes()) == VOCAB_SHA
    assert _sha((STARTER / "tokenizer" / "merges.txt").read_bytes()) == MERGES_SHA


def test_each_reserved_token_is_one_new_id():
    tok = _tok()
    assert len(tok) == N_BEFORE + len(RESERVED_TOKENS)
    ids = tok("a red <s3> on the left").input_ids
    assert ids[3] == N_BEFORE + 3 and len(ids) == 8
    assert tok.convert_tokens_to_ids(RESERVED_TOKENS) == list(range(N_BEFORE, N_BEFORE + 64))
    assert tok("<s12><s13>").input_ids[1:3] == [N_BEFORE + 12, N_BEFORE + 13]


def test_embedding_rows_old_unchanged_new_at_the_mean_norm():
    tensors = _tensors()
    key = next(k for k in tensors if k.endswith("token_embedding.weight"))
    emb = tensors[key]
    assert emb.shape[0] == N_BEFORE + 64
    assert _sha(emb[:N_BEFORE].numpy().tobytes()) == ROWS_SHA
    h = hashlib.sha256()
    for k in sorted(tensors):
        if k != key:
            h.update(k.encode())
            h.update(tensors[k].numpy().tobytes())
    assert h.hexdigest() == OTHERS_SHA
    old, new = emb[:N_BEFORE].float().norm(dim=1).mean(), emb[N_BEFORE:].float().norm(dim=1)
    assert torch.allclose(new, old.expand_as(new), rtol=1e-2)
    cfg = json.loads((STARTER / "text_encoder" / "config.json").read_text())
    assert cfg["vocab_size"] == N_BEFORE + 64


def test_reserved_tokens_listed(tmp_path: Path):
    assert reserved_tokens(STARTER) == RESERVED_TOKENS
    assert json.loads((STARTER / "sfumato_model.json").read_text())["reserved_tokens"] == RESERVED_TOKENS
    assert reserved_tokens(tmp_path) == []


def test_add_is_idempotent(tmp_path: Path):
    copy = tmp_path / "starter"
    shutil.copytree(STARTER, copy)
    before = {p.name: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert add_reserved_tokens(copy) == RESERVED_TOKENS
    after = {p.name: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    assert before == after


def _gen(pipe) -> np.ndarray:
    return pipe(
        ["a red circle on the left on a blue background", "a large green star at the top, on a white background"],
        width=32,
        height=32,
        num_inference_steps=20,
        guidance_scale=5.0,
        generator=[torch.Generator().manual_seed(s) for s in (1, 2)],
        output_type="np",
    ).images


@pytest.mark.parametrize("threads", [1])
def test_generation_bit_identical_to_the_pre_change_text_encoder(tmp_path: Path, threads: int):
    from sfumato.starter.model import load_pipeline

    torch.set_num_threads(threads)
    old = tmp_path / "old"
    shutil.copytree(STARTER, old)
    tensors = _tensors(old)
    key = next(k for k in tensors if k.endswith("token_embedding.weight"))
    tensors[key] = tensors[key][:N_BEFORE].contiguous()
    save_file(tensors, str(old / "text_encoder" / "model.safetensors"), metadata={"format": "pt"})
    cfg_path = old / "text_encoder" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["vocab_size"] = N_BEFORE
    cfg_path.write_text(json.dumps(cfg))
    assert np.array_equal(_gen(load_pipeline(STARTER)), _gen(load_pipeline(old)))


def test_representable_instance_prompts():
    from sfumato.starter.reserved_tokens import representable

    assert representable(STARTER, "<s5>") and representable(STARTER, "sks") and representable(STARTER, "red")
    for bad in ("zxq", "jackthedog", "my_style_01", ""):
        assert not representable(STARTER, bad), bad
