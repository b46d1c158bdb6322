"""A BERT checkpoint's masked-language-model head in numpy, and reading and writing whole checkpoints.

``BertForMaskedLM`` checkpoints hold, beside the encoder (``bert.*``), the
head ``cls.predictions.*``: a dense layer, the activation, a layer norm, then
scores over the vocabulary with the word embeddings (tied weights, so
``cls.predictions.decoder.weight`` is usually not stored) plus a bias.
Checkpoints made for embeddings (sentence-transformers' MiniLM, LaBSE) have
no head: :func:`complete_head` then initialises one as BERT does (the dense
layer random with ``initializer_range``, the layer norm 1 and 0, the bias 0;
the decoder is the word embeddings) and says so.

:func:`write_checkpoint` writes a checkpoint folder atomically (``config.json``,
``vocab.txt``, ``tokenizer_config.json``, ``model.safetensors``; no pickle)
that :class:`.featurizer.LanguageModelFeaturizer` loads like any other.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from intently.plugins.featurizers.language_model.bert import BertConfig, BertEncoder, _activation, _layer_norm
from intently.plugins.featurizers.language_model.model_files import (
    CONFIG_FILE,
    TOKENIZER_CONFIG_FILE,
    VOCABULARY_FILE,
    WEIGHTS_FILE,
    ModelFiles,
    read_model_files,
)
from intently.plugins.featurizers.language_model.safetensors import read_safetensors, write_safetensors
from intently.plugins.featurizers.language_model.wordpiece import WordPieceTokenizer, read_vocabulary

#: The head's tensors (the decoder's weight is the word embeddings).
HEAD_TENSORS = (
    "cls.predictions.transform.dense.weight",
    "cls.predictions.transform.dense.bias",
    "cls.predictions.transform.LayerNorm.weight",
    "cls.predictions.transform.LayerNorm.bias",
    "cls.predictions.bias",
)
#: Special pieces never used as random replacements nor predicted by ``fill``.
SPECIAL_PIECES = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
#: A small file beside a finetuned checkpoint saying how it was made.
FINETUNE_RECORD = "intently_finetune.json"


def encoder_tensor_names(config: BertConfig) -> list[str]:
    """The encoder's tensor names (Hugging Face's, without the ``bert.`` prefix)."""
    names = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ]
    for index in range(config.num_hidden_layers):
        prefix = f"encoder.layer.{index}"
        for part in (
            "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
        ):
            names += [f"{prefix}.{part}.weight", f"{prefix}.{part}.bias"]
    return names


def strip_prefix(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Tensor names without ``bert.`` (pre-training checkpoints) so both layouts read alike."""
    return {name.removeprefix("bert."): value for name, value in tensors.items()}


def has_head(tensors: Mapping[str, np.ndarray]) -> bool:
    """Whether the checkpoint holds a masked-LM head."""
    names = set(tensors)
    return all(name in names for name in HEAD_TENSORS[:4]) and bool(
        {"cls.predictions.bias", "cls.predictions.decoder.bias"} & names
    )


def complete_head(
    config: BertConfig, raw_config: Mapping[str, Any], tensors: Mapping[str, np.ndarray], seed: int
) -> tuple[dict[str, np.ndarray], bool]:
    """``tensors`` with a masked-LM head: the checkpoint's own, or a new one (then True is returned too)."""
    tensors = dict(tensors)
    if has_head(tensors):
        if "cls.predictions.bias" not in tensors:
            tensors["cls.predictions.bias"] = tensors["cls.predictions.decoder.bias"]
        return tensors, False
    hidden = config.hidden_size
    vocabulary = tensors["embeddings.word_embeddings.weight"].shape[0]
    scale = float(raw_config.get("initializer_range", 0.02))
    rng = np.random.default_rng(seed)
    tensors.update({
        "cls.predictions.transform.dense.weight": (rng.standard_normal((hidden, hidden)) * scale).astype(np.float32),
        "cls.predictions.transform.dense.bias": np.zeros(hidden, np.float32),
        "cls.predictions.transform.LayerNorm.weight": np.ones(hidden, np.float32),
        "cls.predictions.transform.LayerNorm.bias": np.zeros(hidden, np.float32),
        "cls.predictions.bias": np.zeros(vocabulary, np.float32),
    })
    return tensors, True


@attrs.define
class Checkpoint:
    """A checkpoint read whole: files, settings, tensors (no ``bert.`` prefix), vocabulary and tokenizer."""

    files: ModelFiles
    config: BertConfig
    tensors: dict[str, np.ndarray]
    vocabulary: dict[str, int]
    tokenizer: WordPieceTokenizer

    @property
    def pieces(self) -> list[str]:
        """Pieces by id."""
        pieces = [""] * (max(self.vocabulary.values()) + 1)
        for piece, index in self.vocabulary.items():
            pieces[index] = piece
        return pieces

    def special_id(self, piece: str) -> int:
        return self.vocabulary[piece]


def read_checkpoint(directory: Path, *, component: str) -> Checkpoint:
    """Read a checkpoint directory whole (:func:`.model_files.read_model_files` checks it first).

    Raises:
        ComponentError: a file is missing or unreadable.
        ValueError, KeyError: the weights or vocabulary do not fit the config (callers wrap these).
    """
    files = read_model_files(directory, component=component)
    config = BertConfig.from_dict(files.config)
    tensors = strip_prefix(read_safetensors(files.weights))
    BertEncoder(config, tensors)  # checks every encoder tensor's presence and shape
    vocabulary = read_vocabulary(files.vocabulary)
    for piece in SPECIAL_PIECES:
        if piece not in vocabulary:
            raise KeyError(piece)
    tokenizer = WordPieceTokenizer(
        vocabulary, lowercase=files.lowercase, strip_accents=files.strip_accents, chinese_chars=files.chinese_chars
    )
    return Checkpoint(files=files, config=config, tensors=tensors, vocabulary=vocabulary, tokenizer=tokenizer)


class NumpyMaskedLM:
    """The encoder and its masked-LM head in numpy: vocabulary scores per position."""

    def __init__(self, config: BertConfig, tensors: Mapping[str, np.ndarray]) -> None:
        if not has_head(tensors):
            raise ValueError("the checkpoint has no masked-language-model head (cls.predictions.*)")
        self.encoder = BertEncoder(config, tensors)
        self.config = config
        bias = tensors.get("cls.predictions.bias", tensors.get("cls.predictions.decoder.bias"))
        assert bias is not None
        self.dense = np.ascontiguousarray(np.asarray(tensors["cls.predictions.transform.dense.weight"], np.float32).T)
        self.dense_bias = np.asarray(tensors["cls.predictions.transform.dense.bias"], np.float32)
        self.norm = (
            np.asarray(tensors["cls.predictions.transform.LayerNorm.weight"], np.float32),
            np.asarray(tensors["cls.predictions.transform.LayerNorm.bias"], np.float32),
        )
        self.bias = np.asarray(bias, np.float32)

    def logits(self, states: np.ndarray) -> np.ndarray:
        """Vocabulary scores of hidden states ``(n, hidden)`` → ``(n, vocabulary)``."""
        x = _activation(states @ self.dense + self.dense_bias, self.config.hidden_act)
        x = _layer_norm(x, *self.norm, self.config.layer_norm_eps)
        return x @ self.encoder.word_embeddings.T + self.bias


def fill_mask(
    checkpoint: Checkpoint, text: str, top_k: int = 5, *, mask_piece: str = "[MASK]"
) -> list[list[tuple[str, float]]]:
    """The ``top_k`` pieces (and probabilities) for each ``[MASK]`` of ``text``, in order.

    Raises:
        ValueError: ``text`` has no ``[MASK]``, is too long, or the checkpoint has no head.
    """
    parts = text.split(mask_piece)
    if len(parts) < 2:
        raise ValueError(f"the text has no {mask_piece}")
    tokenizer = checkpoint.tokenizer
    mask_id = checkpoint.special_id(mask_piece)
    ids = [checkpoint.special_id("[CLS]")]
    for index, part in enumerate(parts):
        if index:
            ids.append(mask_id)
        ids.extend(tokenizer.ids(part))
    ids.append(checkpoint.special_id("[SEP]"))
    if len(ids) > checkpoint.config.max_position_embeddings:
        raise ValueError(f"the text has {len(ids)} pieces, more than the model's {checkpoint.config.max_position_embeddings}")
    model = NumpyMaskedLM(checkpoint.config, checkpoint.tensors)
    array = np.asarray([ids], dtype=np.int64)
    states = model.encoder.encode(array, np.ones_like(array, dtype=bool))[0]
    positions = [position for position, piece in enumerate(ids) if piece == mask_id]
    logits = model.logits(states[positions]).astype(np.float64)
    pieces = checkpoint.pieces
    special = [checkpoint.vocabulary[piece] for piece in SPECIAL_PIECES]
    logits[:, special] = -np.inf
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    results = []
    for row in probabilities:
        best = np.argsort(-row, kind="stable")[:top_k]
        results.append([(pieces[index], float(row[index])) for index in best])
    return results


def check_checkpoint_out(out: Path) -> None:
    """Raises FileExistsError when ``out`` exists and is neither empty nor a checkpoint folder."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / CONFIG_FILE).is_file())):
        raise FileExistsError(f"{out} exists and is not a checkpoint folder")


def write_checkpoint(
    out: Path,
    *,
    raw_config: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
    vocabulary_file: Path,
    tokenizer_settings: Mapping[str, Any],
    record: Mapping[str, Any],
) -> None:
    """Write a ``BertForMaskedLM`` checkpoint folder at ``out``, atomically.

    The folder is written beside ``out`` under a temporary name and renamed into place; a
    checkpoint folder already at ``out`` is replaced only once the new one is complete.

    Raises:
        FileExistsError: ``out`` exists and is neither empty nor a checkpoint folder.
    """
    out = Path(out)
    check_checkpoint_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        config = dict(raw_config)
        config["architectures"] = ["BertForMaskedLM"]
        config["tie_word_embeddings"] = True
        (temporary / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        shutil.copyfile(vocabulary_file, temporary / VOCABULARY_FILE)
        tokenizer = {"tokenizer_class": "BertTokenizer", **tokenizer_settings}
        (temporary / TOKENIZER_CONFIG_FILE).write_text(json.dumps(tokenizer, indent=2) + "\n", encoding="utf-8")
        (temporary / FINETUNE_RECORD).write_text(
            json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        named = {(name if name.startswith("cls.") else f"bert.{name}"): value for name, value in tensors.items()}
        write_safetensors(temporary / WEIGHTS_FILE, named, metadata={"format": "pt"})
        os.chmod(temporary, 0o755)
        if out.exists():
            previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.rmdir(previous)
            os.rename(out, previous)
            os.rename(temporary, out)
            shutil.rmtree(previous, ignore_errors=True)
        else:
            os.rename(temporary, out)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
