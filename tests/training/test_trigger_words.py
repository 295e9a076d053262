"""Trigger words: a model with reserved tokens gives each training the slot its user uses least; a model without
them takes the instance prompt as it is when its tokenizer can spell it, else refuses and says which letters it
cannot; prompts get the token where the user wrote the instance prompt (whole words, any case)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfumato.services.errors import InvalidRequest
from sfumato.services.training.trigger import choose_token, reserved_tokens, substitute

STARTER = Path(__file__).resolve().parents[2] / "models" / "starter"


def folder(tmp_path: Path, vocab: list[str], reserved: list[str] | None = None) -> Path:
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    if reserved is not None:
        (tmp_path / "sfumato_model.json").write_text(json.dumps({"reserved_tokens": reserved}))
    return tmp_path


def test_the_starter_has_reserved_tokens_and_hands_out_the_least_used() -> None:
    tokens = reserved_tokens(STARTER)
    assert len(tokens) == 64 and tokens[0] == "<s0>"
    assert choose_token(STARTER, "jackthedog", [], "instance_prompt") == "<s0>"
    assert choose_token(STARTER, "jackthedog", ["<s0>", "<s1>", "<s0>"], "instance_prompt") == "<s2>"


def test_without_reserved_tokens_a_spellable_word_is_used_as_it_is(tmp_path: Path) -> None:
    model = folder(tmp_path, ["a", "b", "c</w>", "k", "s</w>", "s"])
    assert choose_token(model, "sks", [], "instance_prompt") == "sks"
    with pytest.raises(InvalidRequest) as refused:
        choose_token(model, "zebra", [], "instance_prompt")
    assert (
        "'z'" in refused.value.message and "'e'" in refused.value.message and refused.value.field == "instance_prompt"
    )


def test_a_long_instance_prompt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="at most 100 characters"):
        choose_token(STARTER, "x" * 101, [], "instance_prompt")


def test_prompts_get_the_token_for_whole_words_in_any_case() -> None:
    assert substitute("a red JackTheDog on the left", "jackthedog", "<s3>") == "a red <s3> on the left"
    assert substitute("jackthedogs and jackthedog", "jackthedog", "<s3>") == "jackthedogs and <s3>"
    assert substitute("nothing here", "jackthedog", "<s3>") == "nothing here"
