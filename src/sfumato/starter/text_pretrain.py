"""Text-encoder warm start: teach the from-scratch CLIP text encoder to read scenes out of captions before
the UNet stage, so the UNet's cross-attention sees attribute-bearing states from its first step instead of
random ones.

The task: from the caption's final hidden states (every token after the last word is the end-of-text token,
which under CLIP's causal mask has read the whole caption), predict the background colour and, for each of
the first two objects in caption order, its colour, shape, position and size (or "none"). Linear heads, cross
entropy; the heads are thrown away afterwards, only the encoder's weights are kept.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers import CLIPTextModel, CLIPTokenizer

from .tokenizer import token_ids
from .world import COLOR_NAMES, POSITION_NAMES, SHAPES, SIZES, Obj, Scene, caption, sample_scene

NONE = "none"
FIELDS: dict[str, tuple[str, ...]] = {
    "color": (NONE, *COLOR_NAMES),
    "shape": (NONE, *SHAPES),
    "position": (NONE, *POSITION_NAMES),
    "size": (NONE, *SIZES),
}
SLOTS = 2


def objects_in_caption_order(scene: Scene, text: str) -> list[Obj]:
    """The scene's objects in the order the caption names them (by where each object's colour word first
    appears: the two colours of a scene always differ)."""

    def where(o: Obj) -> int:
        m = re.search(rf"\b{o.color}\b", text)
        return m.start() if m else len(text)

    return sorted(scene.objects, key=where)


def targets(scene: Scene, text: str) -> list[int]:
    """Class indices: background colour, then (colour, shape, position, size) per slot."""
    out = [COLOR_NAMES.index(scene.background)]
    objs = objects_in_caption_order(scene, text)
    for k in range(SLOTS):
        o = objs[k] if k < len(objs) else None
        for name, classes in FIELDS.items():
            out.append(classes.index(getattr(o, name)) if o else 0)
    return out


class SceneHeads(torch.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        sizes = [len(COLOR_NAMES)] + [len(c) for _ in range(SLOTS) for c in FIELDS.values()]
        self.sizes = sizes
        self.proj = torch.nn.Linear(hidden, sum(sizes))

    def forward(self, pooled: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(self.proj(pooled), self.sizes, dim=-1))


def heads_loss(logits: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """Mean cross entropy over the fields (y: (B, fields) class indices, as from `targets`)."""
    return sum(F.cross_entropy(lg, y[:, i]) for i, lg in enumerate(logits)) / len(logits)


def heads_accuracy(logits: list[torch.Tensor], y: torch.Tensor) -> float:
    """Share of (example, field) pairs read right."""
    return float(torch.stack([lg.argmax(-1) == y[:, i] for i, lg in enumerate(logits)]).float().mean())


def caption_summary(text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer, texts: list[str]) -> torch.Tensor:
    """(B, hidden): the mean of the padding states. Padding is the end-of-text token, and under CLIP's causal
    mask each of them has read the whole caption."""
    ids = token_ids(tokenizer, texts).to(text_encoder.device)
    states = text_encoder(ids)[0]
    pad = (ids == tokenizer.pad_token_id).float().unsqueeze(-1)
    return (states * pad).sum(1) / pad.sum(1).clamp(min=1)


def pretrain_text_encoder(
    text_encoder: CLIPTextModel,
    tokenizer: CLIPTokenizer,
    steps: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 2e-3,
    progress: Callable[[int, int, dict], None] | None = None,
) -> float:
    """Train the encoder in place on the scene-reading task; returns the final batch accuracy (all fields)."""
    device = text_encoder.device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the heads' initial weights: a function of the seed, not of the global state
        heads = SceneHeads(text_encoder.config.hidden_size).to(device)
    params = list(text_encoder.parameters()) + list(heads.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    text_encoder.train()
    acc = 0.0
    for step in range(steps):
        rng = random.Random(f"{seed}-text-{step}")
        scenes = [sample_scene(rng, "train") for _ in range(batch_size)]
        texts = [caption(s, rng) for s in scenes]
        y = torch.tensor([targets(s, t) for s, t in zip(scenes, texts, strict=True)], device=device)
        pooled = caption_summary(text_encoder, tokenizer, texts)
        logits = heads(pooled)
        loss = heads_loss(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            acc = heads_accuracy(logits, y)
        if progress:
            progress(step + 1, steps, {"loss": float(loss.detach()), "acc": acc})
    text_encoder.eval()
    return acc
