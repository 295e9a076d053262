"""Instance prompts ("trigger words") and what stands for them in the model's own text.

A trigger word must mean something to the base model's tokenizer. The Starter's tokenizer knows only its
caption language: letters outside it become padding, so "jackthedog" would train nothing. Models whose folder
declares reserved tokens (sfumato_model.json `reserved_tokens`, e.g. the Starter's "<s0>".."<s63>") get one of
them per custom model or element: captions in training and prompts at generation say the token where the user
wrote the instance prompt. Other models use the instance prompt as it is, once every character of it is in
their vocabulary; otherwise it is refused with the reason. Reads files only (no tokenizer library)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from sfumato.services.errors import InvalidRequest

MAX_INSTANCE_PROMPT = 100


def reserved_tokens(model_dir: Path) -> list[str]:
    try:
        meta = json.loads((model_dir / "sfumato_model.json").read_text())
    except (OSError, ValueError):
        return []
    return [str(t) for t in meta.get("reserved_tokens") or []]


def _vocabulary(model_dir: Path) -> set[str] | None:
    try:
        return set(json.loads((model_dir / "tokenizer" / "vocab.json").read_text()))
    except (OSError, ValueError):
        return None  # not a CLIP-style folder: nothing to check against


def unknown_characters(model_dir: Path, text: str) -> list[str]:
    """Characters of `text` (lower-cased, as CLIP normalises) the tokenizer has no piece for."""
    vocab = _vocabulary(model_dir)
    if vocab is None:
        return []
    known = {piece.removesuffix("</w>") for piece in vocab if len(piece.removesuffix("</w>")) == 1}
    return sorted({c for c in text.lower() if not c.isspace() and c not in known})


def choose_token(model_dir: Path, instance_prompt: str, in_use: Iterable[str], field: str) -> str:
    """What stands for `instance_prompt` in captions and prompts on this base model: the reserved token this
    user uses least (so their elements rarely share one), else the instance prompt itself when representable."""
    instance_prompt = instance_prompt.strip()
    if len(instance_prompt) > MAX_INSTANCE_PROMPT:
        raise InvalidRequest(
            f"{field} is at most {MAX_INSTANCE_PROMPT} characters, got {len(instance_prompt)}; send one short, "
            "uncommon word (e.g. jackthedog)",
            field=field,
        )
    tokens = reserved_tokens(model_dir)
    if tokens:
        used = list(in_use)
        return min(tokens, key=lambda t: (used.count(t), tokens.index(t)))
    bad = unknown_characters(model_dir, instance_prompt)
    if bad:
        raise InvalidRequest(
            f"{field} {instance_prompt!r} cannot be represented by this base model's tokenizer: it has no "
            f"piece for {' '.join(repr(c) for c in bad)}, so those letters would train nothing; use only letters "
            "it knows, or train on a model with reserved tokens (docs/custom-models.md)",
            field=field,
        )
    return instance_prompt


def substitute(prompt: str, instance_prompt: str, token: str) -> str:
    """`prompt` with each whole-word occurrence of `instance_prompt` (any case) replaced by `token`."""
    if not instance_prompt.strip() or instance_prompt == token:
        return prompt
    pattern = re.compile(rf"(?<!\w){re.escape(instance_prompt.strip())}(?!\w)", re.IGNORECASE)
    return pattern.sub(token, prompt)
