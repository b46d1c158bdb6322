"""Writes tests/data/tiny_bert: a small random BERT checkpoint and what Hugging Face computes with it.

    pip install torch transformers   # in a side environment; the tests need neither
    python tests/data/make_tiny_bert.py

The checkpoint (config.json, vocab.txt, model.safetensors) is a randomly
initialised ``BertModel`` with a 2-layer, 16-wide encoder. ``expected.json``
holds, for a few texts, ``BertTokenizer``'s ids and the model's last hidden
states as computed by PyTorch; ``tests/test_language_model_featurizer.py``
checks that intently's numpy encoder and tokenizer give the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import BertConfig, BertModel, BertTokenizer

HERE = Path(__file__).resolve().parent / "tiny_bert"
PIECES = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + list("abcdefghijklmnopqrstuvwxyz0123456789")
    + list(".,!?'$-@")
    + ["book", "a", "table", "for", "two", "play", "music", "by", "the", "cafe", "naive", "resume", "日", "本"]
    + ["##s", "##ing", "##ed", "##e", "##a", "##o", "##i", "##n", "##t", "##r", "##l", "##y"]
)
TEXTS = [
    "book a table for two",
    "Playing MUSIC by the Beatles!",
    "naïve café résumé",
    "日本 tables",
    "e-mail me at a@b.com, $5",
    "zzzzq",
    "tab\tand\nnewline",
    "x" * 120,
]


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    (HERE / "vocab.txt").write_text("\n".join(PIECES) + "\n", encoding="utf-8")
    torch.manual_seed(7)
    config = BertConfig(
        vocab_size=len(PIECES), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=48, type_vocab_size=2,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    model.save_pretrained(HERE, safe_serialization=True)
    tokenizer = BertTokenizer(str(HERE / "vocab.txt"), do_lower_case=True)
    cases = []
    for text in TEXTS:
        ids = tokenizer(text)["input_ids"]
        with torch.no_grad():
            states = model(torch.tensor([ids])).last_hidden_state[0]
        cases.append({"text": text, "ids": ids, "states": states.tolist()})
    # A padded batch: the first two texts together, the shorter one padded.
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        padded = model(**batch).last_hidden_state
    expected = {"cases": cases, "padded_batch": {"ids": batch["input_ids"].tolist(),
                                                 "mask": batch["attention_mask"].tolist(),
                                                 "states": padded.tolist()}}
    (HERE / "expected.json").write_text(json.dumps(expected), encoding="utf-8")


if __name__ == "__main__":
    main()
