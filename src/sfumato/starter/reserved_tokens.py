"""Reserved identifier tokens `<s0>` ... `<s63>` in a Starter-format model folder.

The Starter's tokenizer is a 185-token BPE built from the caption language only: letters outside it (j, v,
x, z, digits, `_`) become the end-of-text/padding token, so a trigger word such as "jackthedog" or "zxq"
cannot be represented. Custom models and elements therefore bind their concept to a reserved token: an
added token (matched whole, before the BPE) with its own row in the text encoder's embedding table.

`add_reserved_tokens(folder)` appends the tokens and the rows (new rows only: a seeded random direction
scaled to the mean norm of the existing rows), so every existing caption keeps its ids and every existing
generation its pixels; the rest of the text encoder's file is copied tensor for tensor. The tokens are
recorded in the folder's sfumato_model.json as "reserved_tokens". Running it again changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

N_RESERVED = 64
RESERVED_TOKENS: list[str] = [f"<s{i}>" for i in range(N_RESERVED)]
EMBEDDING_SUFFIX = "token_embedding.weight"
INIT_SEED = 23  # the new rows' random directions (issue 23)


def reserved_tokens(folder: Path) -> list[str]:
    """The reserved tokens the tokenizer of a model folder has (in order); [] for a folder without (or
    without a tokenizer)."""
    tok_dir = Path(folder) / "tokenizer"
    if not tok_dir.is_dir():
        return []
    from transformers import CLIPTokenizer

    try:
        tok = CLIPTokenizer.from_pretrained(str(tok_dir))
    except (OSError, ValueError):
        return []
    vocab = tok.get_vocab()
    return [t for t in RESERVED_TOKENS if t in vocab]


def _new_rows(old: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n rows: seeded random directions with the mean L2 norm of the existing rows, in old's dtype."""
    mean_norm = old.float().norm(dim=1).mean()
    g = torch.Generator().manual_seed(seed)
    rows = torch.randn(n, old.shape[1], generator=g)
    rows = rows / rows.norm(dim=1, keepdim=True) * mean_norm
    return rows.to(old.dtype)


def add_reserved_tokens(folder: Path, tokens: list[str] | None = None, seed: int = INIT_SEED) -> list[str]:
    """Add the reserved tokens to `folder`'s tokenizer and text encoder (idempotent; returns the folder's
    reserved tokens afterwards). Refuses a folder whose tokenizer already has other added tokens in the way
    (the new ids must follow the existing vocabulary)."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    tokens = list(RESERVED_TOKENS if tokens is None else tokens)
    tok = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    te_dir = folder / "text_encoder"
    cfg = json.loads((te_dir / "config.json").read_text())
    weights = te_dir / "model.safetensors"
    with safe_open(str(weights), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    key = next(k for k in tensors if k.endswith(EMBEDDING_SUFFIX))
    emb = tensors[key]
    missing = [t for t in tokens if t not in tok.get_vocab()]
    if missing:
        first = len(tok)
        if emb.shape[0] != first:
            raise ValueError(f"{folder}: {emb.shape[0]} embedding rows but {first} tokens; refusing to add tokens")
        tok.add_tokens(missing)
        ids = tok.convert_tokens_to_ids(missing)
        if ids != list(range(first, first + len(missing))):
            raise RuntimeError(f"added tokens got ids {ids}, expected {first}..")
        # only tokenizer.json changes (the added tokens live there); vocab.json, merges.txt and
        # tokenizer_config.json stay byte for byte as they were
        tok.backend_tokenizer.save(str(folder / "tokenizer" / "tokenizer.json"))
    n_rows = len(tok)
    if emb.shape[0] < n_rows:
        tensors[key] = torch.cat([emb, _new_rows(emb, n_rows - emb.shape[0], seed)]).contiguous()
        save_file(tensors, str(weights), metadata=metadata)
        cfg["vocab_size"] = n_rows
        (te_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    info_path = folder / "sfumato_model.json"
    have = reserved_tokens(folder)
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("reserved_tokens") != have:
            info["reserved_tokens"] = have
            info_path.write_text(json.dumps(info, indent=2) + "\n")
    return have


def main() -> None:  # pragma: no cover - the one-off update of models/starter
    import sys

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "models/starter")
    print(f"{folder}: {len(add_reserved_tokens(folder))} reserved tokens")


if __name__ == "__main__":  # pragma: no cover
    main()


def representable(folder: Path, text: str) -> bool:
    """Whether `text` survives the folder's tokenizer: no piece of it becomes the unknown token (on the
    Starter the unknown token is end-of-text, i.e. padding: "zxq" tokenises like the empty prompt). A real
    CLIP tokenizer (byte-level BPE) represents everything; the Starter's only caption letters and its
    reserved tokens. An instance prompt that is not representable must be mapped to a reserved token (or
    refused)."""
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(Path(folder) / "tokenizer"))
    if not text.strip():
        return False
    ids = tok(text, add_special_tokens=False).input_ids
    unk = tok.unk_token_id
    return bool(ids) and unk not in ids
