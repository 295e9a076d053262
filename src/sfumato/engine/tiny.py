"""Tiny random SD 1.5 / SDXL pipelines built in code, with no download (as diffusers' own tests do).

They exist so that tests and benchmarks can load real diffusers folders from disk on a CPU in well under a
second. Weights are random: images are noise-like, but shapes, dtypes, configs and the loading path are
exactly those of the real pipelines.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DiffusionPipeline,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

# Words whose merges we include so common prompt words become single tokens; the rest falls back to bytes.
_MERGE_WORDS = ("the", "cat", "photo", "tile", "red", "dog")
_MAX_TOKENS = 77  # CLIP's context length; the pipelines pad prompts to tokenizer.model_max_length


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2 / CLIP's reversible byte → printable unicode map (the byte-level BPE alphabet)."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def write_tiny_clip_vocab(folder: Path) -> tuple[Path, Path]:
    """Write a byte-level BPE vocab.json + merges.txt in CLIP's format (`</w>` marks a word's end)."""
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for ch in alphabet:
        vocab[ch] = len(vocab)
    for ch in alphabet:
        vocab[ch + "</w>"] = len(vocab)
    merges: list[str] = []
    for word in _MERGE_WORDS:
        # Left-to-right merges: "t h", "th e</w>" ... so the whole word ends up one token.
        left = word[0]
        for i, ch in enumerate(word[1:], start=1):
            right = ch + ("</w>" if i == len(word) - 1 else "")
            merge = f"{left} {right}"
            if merge not in merges:
                merges.append(merge)
                vocab.setdefault(left + right, len(vocab))
            left = left + right
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab_file, merges_file


def _tokenizer(folder: Path) -> CLIPTokenizer:
    vocab_file, merges_file = write_tiny_clip_vocab(folder)
    return CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=_MAX_TOKENS)


def _save(pipe: DiffusionPipeline, folder: Path, buckets: list[list[int]] | None) -> Path:
    pipe.save_pretrained(folder, safe_serialization=True)
    # transformers 5 saves only tokenizer.json; vocab.json + merges.txt keep older loaders working too.
    for name in ("tokenizer", "tokenizer_2"):
        if (folder / name).is_dir():
            write_tiny_clip_vocab(folder / name)
    if buckets:
        (folder / "sfumato_model.json").write_text(json.dumps({"buckets": buckets}), encoding="utf-8")
    return folder


def _text_config(vocab_size: int, projection_dim: int | None = None) -> CLIPTextConfig:
    extra = {"projection_dim": projection_dim} if projection_dim is not None else {}
    return CLIPTextConfig(
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_size=32,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=_MAX_TOKENS,
        vocab_size=vocab_size,
        hidden_act="gelu",
        **extra,
    )


def _vae(channels: tuple[int, ...] = (8, 16, 16, 16)) -> AutoencoderKL:
    # Four blocks → the usual 8x latent downscale, so request sizes map to latents as in real models.
    return AutoencoderKL(
        block_out_channels=list(channels),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * len(channels),
        up_block_types=["UpDecoderBlock2D"] * len(channels),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=64,
    )


def build_tiny_sd15(
    folder: Path,
    seed: int = 0,
    buckets: list[list[int]] | None = None,
    block_channels: tuple[int, int] = (32, 64),
) -> Path:
    """Save a tiny random StableDiffusionPipeline into `folder` and return it.

    `buckets` writes `sfumato_model.json`; larger `block_channels` make a heavier ("starter-like") model for
    memory benchmarks. Different seeds give different weights.
    """
    folder = Path(folder)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = _tokenizer(Path(tmp))
    unet = UNet2DConditionModel(
        block_out_channels=block_channels,
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=_vae(),
        text_encoder=CLIPTextModel(_text_config(len(tokenizer))),
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    return _save(pipe, folder, buckets)


def build_tiny_sdxl(folder: Path, seed: int = 0, buckets: list[list[int]] | None = None) -> Path:
    """Save a tiny random StableDiffusionXLPipeline (two text encoders, text_time conditioning)."""
    folder = Path(folder)
    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = _tokenizer(Path(tmp))
    text_config = _text_config(len(tokenizer), projection_dim=32)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=80,  # 6 * addition_time_embed_dim + text_encoder_2 projection
        cross_attention_dim=64,  # both encoders' hidden states concatenated (32 + 32)
        norm_num_groups=8,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        steps_offset=1,
        beta_schedule="scaled_linear",
        timestep_spacing="leading",
    )
    pipe = StableDiffusionXLPipeline(
        vae=_vae(),
        text_encoder=CLIPTextModel(text_config),
        text_encoder_2=CLIPTextModelWithProjection(text_config),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    return _save(pipe, folder, buckets)
