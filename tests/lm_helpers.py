"""A tiny random BERT checkpoint made in the test (config.json, vocab.txt, model.safetensors), Chinese included."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from intently.plugins.featurizers.language_model.bert import BertConfig
from intently.plugins.featurizers.language_model.mlm import encoder_tensor_names
from intently.plugins.featurizers.language_model.safetensors import write_safetensors

PIECES = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + list("abcdefghijklmnopqrstuvwxyz0123456789")
    + list(".,!?'-，。")
    + ["book", "a", "table", "for", "two", "play", "music", "the", "cafe", "flight", "to", "paris", "weather"]
    + list("三国人物诸葛亮涛曹操刘备关羽我爱中华北京天气今明怎么样订一张机票去上海播放音乐的是了很聪明丞相蜀汉时期他")
    + ["##s", "##ing", "##ed", "##e", "##a", "##o", "##i", "##n", "##t", "##r", "##l", "##y"]
)

TINY_CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-12,
    "type_vocab_size": 2,
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "vocab_size": len(PIECES),
    "pad_token_id": 0,
}


def make_tiny_bert(directory: Path, *, seed: int = 3, tokenizer: dict | None = None, **config) -> Path:
    """Write a random BERT (no masked-LM head) to ``directory``; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    raw = {**TINY_CONFIG, **config}
    (directory / "config.json").write_text(json.dumps(raw), encoding="utf-8")
    (directory / "vocab.txt").write_text("\n".join(PIECES) + "\n", encoding="utf-8")
    if tokenizer is not None:
        (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    bert = BertConfig.from_dict(raw)
    rng = np.random.default_rng(seed)
    tensors = {}
    for name in encoder_tensor_names(bert):
        if name.endswith("LayerNorm.weight"):
            value = 1.0 + 0.1 * rng.standard_normal(bert.hidden_size)
        elif name.endswith("LayerNorm.bias") or name.endswith(".bias"):
            size = bert.intermediate_size if ".intermediate." in name else bert.hidden_size
            value = 0.05 * rng.standard_normal(size)
        elif name == "embeddings.word_embeddings.weight":
            value = 0.5 * rng.standard_normal((len(PIECES), bert.hidden_size))
        elif name == "embeddings.position_embeddings.weight":
            value = 0.1 * rng.standard_normal((bert.max_position_embeddings, bert.hidden_size))
        elif name == "embeddings.token_type_embeddings.weight":
            value = 0.1 * rng.standard_normal((bert.type_vocab_size, bert.hidden_size))
        elif ".intermediate." in name:
            value = 0.2 * rng.standard_normal((bert.intermediate_size, bert.hidden_size))
        elif ".output.dense." in name and ".attention." not in name:
            value = 0.2 * rng.standard_normal((bert.hidden_size, bert.intermediate_size))
        else:
            value = 0.2 * rng.standard_normal((bert.hidden_size, bert.hidden_size))
        tensors[name] = value.astype(np.float32)
    write_safetensors(directory / "model.safetensors", tensors)
    return directory
