"""Domain adaptation: continue a BERT checkpoint's masked-language-model training on your texts.

``intently lm finetune`` calls :func:`finetune_language_model`: the texts are
split into WordPieces as :class:`.featurizer.LanguageModelFeaturizer` splits
them, masked by BERT's rule every epoch (:mod:`.masking`), and the encoder
and its head train in TensorFlow (:mod:`.tf_bert`) with AdamW and a linear
warm-up (the first 10 % of steps) and decay of the learning rate. The result
is a checkpoint folder (:func:`.mlm.write_checkpoint`). One seed gives one
checkpoint (numpy draws the batches and masks, a TensorFlow generator the
dropout).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from intently.errors import ComponentError, MissingDependencyError, UsageError
from intently.plugins.featurizers.language_model.masking import Masker, jieba_segmenter, pieces_and_words
from intently.plugins.featurizers.language_model.mlm import (
    SPECIAL_PIECES,
    check_checkpoint_out,
    complete_head,
    read_checkpoint,
    write_checkpoint,
)
from intently.plugins.featurizers.language_model.model_files import file_sha256, resolve_model_directory
from intently.plugins.featurizers.language_model.safetensors import SafetensorsError
from intently.plugins.featurizers.language_model.wordpiece import is_cjk
from intently.progress import ProgressBar

logger = logging.getLogger(__name__)

WHAT = "intently lm finetune"


@attrs.frozen
class FinetuneSettings:
    """The knobs of :func:`finetune_language_model` (the command line's options)."""

    epochs: int = 3
    learning_rate: float = 5e-5
    batch_size: int = 32
    random_seed: int = 42
    weight_decay: float = 0.01
    whole_word_masking: bool = True

    def check(self) -> None:
        """Raises UsageError for values that cannot train."""
        if self.epochs < 1:
            raise UsageError(f"--epochs must be at least 1, got {self.epochs}")
        if not self.learning_rate > 0:
            raise UsageError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, got {self.batch_size}")


@attrs.frozen
class FinetuneResult:
    """What a finetuning run did."""

    out: Path
    texts: int
    steps: int
    first_loss: float
    last_loss: float
    head_initialised: bool
    seconds: float


def read_text_files(paths: Sequence[str | Path]) -> list[str]:
    """The non-empty lines of plain-text files (UTF-8, one text per line).

    Raises:
        UsageError: a file is missing or not UTF-8 (names the file and line).
    """
    texts: list[str] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise UsageError(f"text file {path} does not exist", hint="--text takes plain-text files, one text per line")
        raw = path.read_bytes()
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise UsageError("the file is not UTF-8 text", file=path, line=line,
                             hint="save it as UTF-8, one text per line") from None
        texts.extend(line.strip() for line in content.splitlines() if line.strip())
    return texts


def finetune_language_model(
    model_weights: str,
    texts: Sequence[str],
    out: Path,
    settings: FinetuneSettings | None = None,
    *,
    cache_dir: str | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """Continue masked-language-model training of ``model_weights`` on ``texts``; write ``out``.

    Raises:
        UsageError: no texts, or settings that cannot train.
        ComponentError: the checkpoint is missing or unusable.
        MissingDependencyError: TensorFlow is not installed.
    """
    settings = settings or FinetuneSettings()
    settings.check()
    texts = [text for text in texts if text.strip()]
    if not texts:
        raise UsageError("there are no texts to finetune on", hint="give training data (--data) or text files (--text) with texts in them")
    try:
        check_checkpoint_out(Path(out))
    except FileExistsError as error:
        raise UsageError(str(error), hint="choose a new --out folder, or remove that one") from None
    directory = resolve_model_directory(model_weights, cache_dir, component=WHAT)
    try:
        checkpoint = read_checkpoint(directory, component=WHAT)
    except KeyError as missing:
        raise ComponentError(f"{WHAT}: {directory / 'vocab.txt'} has no {missing} piece") from None
    except (ValueError, SafetensorsError, OSError) as error:
        raise ComponentError(f"{WHAT}: cannot use the checkpoint in {directory}: {error}",
                             hint="--model-weights must name a BERT-architecture checkpoint") from None
    try:
        from intently.plugins.featurizers.language_model import tf_bert
    except ImportError as error:
        raise MissingDependencyError(f"{WHAT} needs TensorFlow ({error})",
                                     hint="pip install 'intently[tensorflow]'") from error
    started = time.monotonic()
    config = checkpoint.config
    tensors, initialised = complete_head(config, checkpoint.files.config, checkpoint.tensors, settings.random_seed)
    if initialised:
        logger.warning(
            "%s has no masked-language-model head: a new one was initialised (its dense layer random, "
            "its decoder the word embeddings); the first epochs train it", directory,
        )
    segment = None
    if settings.whole_word_masking and any(is_cjk(char) for text in texts for char in text):
        segment = jieba_segmenter()
        if segment is None:
            logger.warning("jieba is not installed: Chinese is masked a character at a time "
                           "(pip install 'intently[zh]' for whole-word masking)")
    limit = config.max_position_embeddings - 2
    sequences = []
    for text in texts:
        ids, groups = pieces_and_words(checkpoint.tokenizer, text, segment)
        if ids:
            sequences.append((ids[:limit], groups[:limit]))
    if not sequences:
        raise UsageError("none of the texts has a piece the model knows")
    vocabulary = checkpoint.vocabulary
    special = {vocabulary[piece] for piece in SPECIAL_PIECES}
    replacements = np.asarray(
        [index for piece, index in vocabulary.items() if index not in special and not piece.startswith("[unused")],
        dtype=np.int32,
    )
    masker = Masker(mask_id=vocabulary["[MASK]"], replacement_ids=replacements)
    cls_id, sep_id, pad_id = vocabulary["[CLS]"], vocabulary["[SEP]"], vocabulary["[PAD]"]

    tf_bert.set_seed(settings.random_seed)
    raw = checkpoint.files.config
    model = tf_bert.TFBertMaskedLM(
        config, tensors, trainable_layers=None, seed=settings.random_seed,
        dropout=float(raw.get("hidden_dropout_prob", 0.1)),
        attention_dropout=float(raw.get("attention_probs_dropout_prob", 0.1)),
    )
    step_function = model.make_train_step(settings.weight_decay)
    rng = np.random.default_rng(settings.random_seed)
    batches_per_epoch = -(-len(sequences) // settings.batch_size)
    total_steps = batches_per_epoch * settings.epochs
    losses: list[float] = []
    step = 0
    with ProgressBar(total_steps, WHAT, enabled=None if progress else False) as bar:
        for _ in range(settings.epochs):
            order = rng.permutation(len(sequences))
            for start in range(0, len(order), settings.batch_size):
                chosen = order[start : start + settings.batch_size]
                length = max(len(sequences[index][0]) for index in chosen) + 2
                ids = np.full((len(chosen), length), pad_id, dtype=np.int32)
                labels = np.full((len(chosen), length), -1, dtype=np.int32)
                mask = np.zeros((len(chosen), length), dtype=np.float32)
                for row, index in enumerate(chosen):
                    pieces, groups = sequences[index]
                    inputs, targets = masker.mask(pieces, groups, rng)
                    ids[row, : len(pieces) + 2] = [cls_id, *inputs.tolist(), sep_id]
                    labels[row, 1 : len(pieces) + 1] = targets
                    mask[row, : len(pieces) + 2] = 1.0
                step += 1
                rate = tf_bert.warmup_linear_decay(settings.learning_rate, step, total_steps)
                if (labels >= 0).any():
                    loss = float(step_function(ids, mask, labels, np.float32(rate)))
                    losses.append(loss)
                bar.update(loss=f"{np.mean(losses[-batches_per_epoch:]) if losses else float('nan'):.3f}")
    trained = model.numpy_tensors()
    record: dict[str, Any] = {
        "made_by": WHAT,
        "base_model": str(directory),
        "base_weights_sha256": file_sha256(checkpoint.files.weights),
        "texts": len(sequences),
        "texts_sha256": hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest(),
        "epochs": settings.epochs,
        "learning_rate": settings.learning_rate,
        "batch_size": settings.batch_size,
        "random_seed": settings.random_seed,
        "whole_word_masking": segment is not None,
        "head_initialised": initialised,
        "first_epoch_loss": float(np.mean(losses[:batches_per_epoch])) if losses else None,
        "last_epoch_loss": float(np.mean(losses[-batches_per_epoch:])) if losses else None,
    }
    try:
        write_checkpoint(
            out, raw_config=raw, tensors=trained, vocabulary_file=checkpoint.files.vocabulary,
            tokenizer_settings=checkpoint.files.tokenizer_settings, record=record,
        )
    except FileExistsError as error:
        raise UsageError(str(error), hint="choose a new --out folder, or remove that one") from None
    return FinetuneResult(
        out=Path(out), texts=len(sequences), steps=step,
        first_loss=float("nan") if record["first_epoch_loss"] is None else record["first_epoch_loss"],
        last_loss=float("nan") if record["last_epoch_loss"] is None else record["last_epoch_loss"],
        head_initialised=initialised, seconds=time.monotonic() - started,
    )
