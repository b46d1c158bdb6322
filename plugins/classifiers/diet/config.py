"""DIETClassifier's config: Rasa 3.6's keys with Rasa's defaults, and their validation.

Every key of Rasa 3.6's ``DIETClassifier`` is accepted so that a Rasa config
loads unchanged. The options this milestone does not implement yet are
accepted at their (off) default and refused with a clear
:class:`~intently.errors.ComponentConfigError` when turned on, so nothing is
silently ignored (:data:`UNSUPPORTED`).
"""

from __future__ import annotations

import logging
from typing import Any

from intently.errors import ComponentConfigError
from intently.plugins.extractors.bilou import check_split_entities_config

logger = logging.getLogger(__name__)

NAME = "DIETClassifier"
TEXT = "text"
LABEL = "label"
BALANCED = "balanced"
SEQUENCE = "sequence"
CROSS_ENTROPY = "cross_entropy"
SOFTMAX = "softmax"

#: Rasa 3.6's defaults (``DIETClassifier.get_default_config``).
DEFAULTS: dict[str, Any] = {
    "hidden_layers_sizes": {TEXT: [], LABEL: []},
    "share_hidden_layers": False,
    "transformer_size": 256,
    "number_of_transformer_layers": 2,
    "number_of_attention_heads": 4,
    "use_key_relative_attention": False,
    "use_value_relative_attention": False,
    "max_relative_position": 5,
    "unidirectional_encoder": False,
    "batch_size": [64, 256],
    "batch_strategy": BALANCED,
    "epochs": 300,
    "random_seed": None,
    "learning_rate": 0.001,
    "embedding_dimension": 20,
    "dense_dimension": {TEXT: 128, LABEL: 20},
    "concat_dimension": {TEXT: 128, LABEL: 20},
    "number_of_negative_examples": 20,
    "similarity_type": "auto",
    "loss_type": CROSS_ENTROPY,
    "ranking_length": 10,
    "maximum_positive_similarity": 0.8,
    "maximum_negative_similarity": -0.4,
    "use_maximum_negative_similarity": True,
    "scale_loss": False,
    "regularization_constant": 0.002,
    "negative_margin_scale": 0.8,
    "drop_rate": 0.2,
    "drop_rate_attention": 0.0,
    "connection_density": 0.2,
    "use_sparse_input_dropout": True,
    "use_dense_input_dropout": True,
    "evaluate_every_number_of_epochs": 20,
    "evaluate_on_number_of_examples": 0,
    "intent_classification": True,
    "entity_recognition": True,
    "use_masked_language_model": False,
    "BILOU_flag": True,
    "tensorboard_log_directory": None,
    "tensorboard_log_level": "epoch",
    "checkpoint_model": False,
    "featurizers": [],
    "split_entities_by_comma": True,
    "constrain_similarities": False,
    "model_confidence": SOFTMAX,
    "renormalize_confidences": False,
    "run_eagerly": False,
    "drop_small_last_batch": False,
}

#: intently's own keys (not in Rasa; a Rasa config simply leaves them at their default).
EXTENSIONS: dict[str, Any] = {
    # A linear path from the sparse features straight to the intent and tag
    # scores, trained jointly with the transformer ("wide and deep"). Off by
    # default: on snips/train-100 it changed intent accuracy and entity F1 by
    # less than run-to-run noise (97.3 / 74.4 % with it, 97.3 / 74.1 % without).
    "linear_shortcut": False,
    # Every token's tag scores also see the sentence position's output, so
    # entity types can depend on what the whole message is about (a movie
    # name and a book title look alike; the intent tells them apart).
    "sentence_to_tags": True,
    # The share of ``epochs`` a finetune runs (``intently train --finetune``);
    # None: ``--epoch-fraction``, else 1. See intently.finetune.
    "finetuning_epoch_fraction": None,
}
DEFAULTS.update(EXTENSIONS)

#: Keys whose value may be a number or a list/dict (Rasa accepts both forms).
UNTYPED_KEYS = frozenset(
    {"batch_size", "hidden_layers_sizes", "dense_dimension", "concat_dimension", "split_entities_by_comma",
     "drop_rate_attention", "max_relative_position", "transformer_size", "random_seed"}
)

#: Options not implemented in this milestone: key -> (the only accepted value, why).
UNSUPPORTED: dict[str, tuple[Any, str]] = {
    "use_key_relative_attention": (False, "relative attention"),
    "use_value_relative_attention": (False, "relative attention"),
    "unidirectional_encoder": (False, "a unidirectional encoder"),
    "share_hidden_layers": (False, "shared hidden layers"),
    "tensorboard_log_directory": (None, "TensorBoard logging"),
    "featurizers": ([], "choosing featurizers by name"),
}


def _fail(key: str, message: str, hint: str | None = None) -> None:
    raise ComponentConfigError(f"{NAME}: {key!r} {message}", hint=hint)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _default_hint(defaults: dict[str, Any], key: str) -> str:
    return f"remove the key to use the default, {defaults[key]!r}"


def _int_at_least(config: dict[str, Any], key: str, low: int, defaults: dict[str, Any]) -> None:
    if not _is_int(config[key]) or config[key] < low:
        _fail(key, f"must be an integer >= {low}, got {config[key]!r}", hint=_default_hint(defaults, key))


def _rate(config: dict[str, Any], key: str, defaults: dict[str, Any]) -> None:
    value = config[key]
    if not (_is_number(value) and 0 <= value < 1):
        _fail(key, f"must be a number in [0, 1), got {value!r}", hint=_default_hint(defaults, key))


def _flag(config: dict[str, Any], key: str) -> None:
    if not isinstance(config[key], bool):
        _fail(key, f"must be true or false, got {config[key]!r}")


def text_size(config: dict[str, Any], key: str) -> Any:
    """The ``text`` entry of a per-attribute option (Rasa allows ``{text: .., label: ..}`` or one value)."""
    value = config[key]
    return value.get(TEXT) if isinstance(value, dict) else value


def label_size(config: dict[str, Any], key: str) -> Any:
    value = config[key]
    return value.get(LABEL, DEFAULTS[key][LABEL]) if isinstance(value, dict) else value


def batch_sizes(config: dict[str, Any]) -> tuple[int, int]:
    """``(first, last)`` batch sizes; a single number means a constant batch size."""
    value = config["batch_size"]
    if _is_int(value):
        return value, value
    return int(value[0]), int(value[1])


def validate(config: dict[str, Any], defaults: dict[str, Any] = DEFAULTS) -> None:
    """Raise ComponentConfigError naming the key of the first invalid value.

    ``defaults`` (the component's) are named in the hints.
    """
    for key, (allowed, what) in UNSUPPORTED.items():
        if config[key] != allowed and not (key == "featurizers" and not config[key]):
            _fail(
                key,
                f"= {config[key]!r}: {what} is not supported yet by {NAME}",
                hint=f"remove the key or set it to {allowed!r}",
            )
    if config["use_masked_language_model"] and config["number_of_transformer_layers"] < 1:
        _fail("use_masked_language_model", "needs a transformer (number_of_transformer_layers >= 1)")
    _int_at_least(config, "number_of_transformer_layers", 0, defaults)
    if config["transformer_size"] is not None:
        size = text_size(config, "transformer_size")
        if not _is_int(size) or size < 1:
            _fail("transformer_size", f"must be an integer >= 1, got {config['transformer_size']!r}")
    _int_at_least(config, "number_of_attention_heads", 1, defaults)
    size = transformer_units(config)
    if config["number_of_transformer_layers"] > 0 and size % config["number_of_attention_heads"]:
        _fail(
            "transformer_size",
            f"({size}) must be divisible by number_of_attention_heads ({config['number_of_attention_heads']})",
        )
    _int_at_least(config, "epochs", 1, defaults)
    fraction = config["finetuning_epoch_fraction"]
    if fraction is not None and not (_is_number(fraction) and 0 < fraction <= 1):
        _fail("finetuning_epoch_fraction", f"must be a number greater than 0 and at most 1, got {fraction!r}")
    _int_at_least(config, "embedding_dimension", 1, defaults)
    _int_at_least(config, "ranking_length", 0, defaults)
    _int_at_least(config, "number_of_negative_examples", 1, defaults)
    every = config["evaluate_every_number_of_epochs"]
    if not _is_int(every) or not (every == -1 or every >= 1):
        _fail("evaluate_every_number_of_epochs",
              f"must be -1 (only after the last epoch) or an integer >= 1, got {every!r}",
              hint=_default_hint(defaults, "evaluate_every_number_of_epochs"))
    _int_at_least(config, "evaluate_on_number_of_examples", 0, defaults)
    _flag(config, "checkpoint_model")
    if config["checkpoint_model"] and config["evaluate_on_number_of_examples"] < 1:
        logger.warning(
            "%s: checkpoint_model needs evaluate_on_number_of_examples > 0; the weights of the last epoch are kept",
            NAME,
        )
    for key in ("dense_dimension", "concat_dimension"):
        for value in (text_size(config, key), label_size(config, key)):
            if not _is_int(value) or value < 1:
                _fail(key, f"must be integers >= 1 (for text and label), got {config[key]!r}")
    hidden = config["hidden_layers_sizes"]
    sizes = [text_size(config, "hidden_layers_sizes"), label_size(config, "hidden_layers_sizes")] \
        if isinstance(hidden, dict) else [hidden]
    if not all(isinstance(layers, (list, tuple)) and all(_is_int(v) and v > 0 for v in layers) for layers in sizes):
        _fail("hidden_layers_sizes", f"must map text/label to lists of integers > 0, got {hidden!r}",
              hint="for example {text: [], label: []}")
    value = config["batch_size"]
    if _is_int(value):
        ok = value >= 1
    else:
        ok = isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(v) and v >= 1 for v in value)
        ok = ok and value[0] <= value[1]
    if not ok:
        _fail("batch_size", f"must be an integer >= 1 or [first, last] with 1 <= first <= last, got {value!r}")
    if config["batch_strategy"] not in (BALANCED, SEQUENCE):
        _fail("batch_strategy", f"must be 'balanced' or 'sequence', got {config['batch_strategy']!r}")
    seed = config["random_seed"]
    if seed is not None and (not _is_int(seed) or seed < 0):
        _fail("random_seed", f"must be an integer >= 0 or null, got {seed!r}")
    if not _is_number(config["learning_rate"]) or not config["learning_rate"] > 0:
        _fail("learning_rate", f"must be a number > 0, got {config['learning_rate']!r}")
    if not _is_number(config["regularization_constant"]) or config["regularization_constant"] < 0:
        _fail("regularization_constant", f"must be a number >= 0, got {config['regularization_constant']!r}")
    _rate(config, "drop_rate", defaults)
    _rate(config, "drop_rate_attention", defaults)
    density = config["connection_density"]
    if not _is_number(density) or not 0 < density <= 1:
        _fail("connection_density", f"must be a number in (0, 1], got {density!r}")
    if config["similarity_type"] not in ("auto", "inner", "cosine"):
        _fail("similarity_type", f"must be 'auto', 'inner' or 'cosine', got {config['similarity_type']!r}")
    if config["similarity_type"] == "cosine":
        _fail("similarity_type", "= 'cosine' is not supported yet (use 'auto' or 'inner')")
    if config["loss_type"] not in (CROSS_ENTROPY, SOFTMAX, "margin"):
        _fail("loss_type", f"must be 'cross_entropy' or 'margin', got {config['loss_type']!r}")
    if config["loss_type"] == "margin":
        _fail("loss_type", "= 'margin' is not supported yet (use 'cross_entropy')")
    if config["model_confidence"] != SOFTMAX:
        _fail("model_confidence", f"must be 'softmax' (Rasa 3's only value), got {config['model_confidence']!r}")
    if config["tensorboard_log_level"] not in ("epoch", "batch", "minibatch"):
        _fail("tensorboard_log_level", f"must be 'epoch' or 'batch', got {config['tensorboard_log_level']!r}")
    check_split_entities_config(NAME, config["split_entities_by_comma"])
    for key in ("sentence_to_tags", "linear_shortcut", "drop_small_last_batch"):
        _flag(config, key)
    if not (config["intent_classification"] or config["entity_recognition"]):
        _fail("intent_classification", "and entity_recognition are both off: there is nothing to learn")


def transformer_units(config: dict[str, Any]) -> int:
    """The transformer size (Rasa's default 256 when null)."""
    size = text_size(config, "transformer_size") if config["transformer_size"] is not None else None
    return int(size) if size is not None else 256
