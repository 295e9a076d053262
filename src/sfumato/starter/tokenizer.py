"""An offline CLIP tokenizer for the caption language: BPE trained on generated captions, so every word of
the vocabulary is one token (no hub download, no hand-written merges)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from tokenizers import trainers
from transformers import CLIPTokenizer

from .world import caption, caption_vocabulary, sample_scene

MAX_LENGTH = 40  # longest caption is ~30 tokens with BOS/EOS
SPECIALS = ["<|startoftext|>", "<|endoftext|>"]


def _corpus(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [" ".join(caption_vocabulary())] * 50  # every word appears even if sampling missed it
    for split in ("train", "heldout"):
        texts += [caption(sample_scene(rng, split), rng) for _ in range(n // 2)]
    return texts


def build_tokenizer(seed: int = 0, n_captions: int = 4000) -> CLIPTokenizer:
    """Train BPE with CLIP's own normaliser and pre-tokeniser, then wrap it as a CLIPTokenizer."""
    base = CLIPTokenizer()  # empty vocab, but the exact CLIP normaliser / pre-tokeniser / suffix
    backend = base.backend_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=2000,  # larger than needed: training stops once every word is a single token
        special_tokens=SPECIALS,
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    backend.train_from_iterator(_corpus(n_captions, seed), trainer=trainer)
    model = json.loads(backend.to_str())["model"]
    # The trainer breaks ties in hash order, so ids differ from run to run (the token set does not):
    # renumber canonically (specials, then sorted) so that the same seed gives the same embeddings.
    tokens = sorted(model["vocab"], key=lambda t: (t not in SPECIALS, SPECIALS.index(t) if t in SPECIALS else 0, t))
    vocab = {t: i for i, t in enumerate(tokens)}
    # (the merge order may differ too, but every word still ends as one whole token: checked below)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges])
    tok.model_max_length = MAX_LENGTH
    for word in caption_vocabulary():
        if len(tok(word).input_ids) != 3:
            raise RuntimeError(f"tokenizer splits {word!r}; raise the corpus size")
    return tok


def token_ids(tok: CLIPTokenizer, texts: list[str]) -> torch.Tensor:
    """(B, MAX_LENGTH) ids, padded with the end-of-text token: what the text encoder reads in training."""
    return tok(
        texts, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids


def save_tokenizer(tok: CLIPTokenizer, path: Path) -> None:
    """save_pretrained writes tokenizer.json; older loaders also want vocab.json + merges.txt."""
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(path))
    model = json.loads(tok.backend_tokenizer.to_str())["model"]
    (path / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False))
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
