import random

from transformers import CLIPTokenizer

from sfumato.starter.tokenizer import MAX_LENGTH, build_tokenizer, save_tokenizer
from sfumato.starter.world import caption, caption_vocabulary, sample_scene


def test_every_word_is_one_token_and_round_trips(tmp_path):
    tok = build_tokenizer(seed=0, n_captions=1000)
    for w in caption_vocabulary():
        ids = tok(w).input_ids
        assert len(ids) == 3 and tok.unk_token_id not in ids[1:-1], w
    save_tokenizer(tok, tmp_path)
    assert {"vocab.json", "merges.txt", "tokenizer.json"} <= {p.name for p in tmp_path.iterdir()}
    loaded = CLIPTokenizer.from_pretrained(str(tmp_path))
    assert loaded.model_max_length == MAX_LENGTH
    rng = random.Random(0)
    for _ in range(200):
        text = caption(sample_scene(rng), rng)
        ids = loaded(text).input_ids
        assert ids == tok(text).input_ids
        assert len(ids) <= MAX_LENGTH
        decoded = loaded.decode(ids, skip_special_tokens=True)
        assert decoded.replace(" ", "") == text.replace(" ", "")
