"""DIETClassifier's config: Rasa 3.6's keys with Rasa's defaults, declared once (:data:`PARAMS`).

Every key of Rasa 3.6's ``DIETClassifier`` is accepted so that a Rasa config
loads unchanged. The options this milestone does not implement yet are
accepted at their (off) default and refused with a clear
:class:`~intently.errors.ComponentConfigError` when turned on, so nothing is
silently ignored. :func:`validate` checks the rules that involve several keys.
"""

from __future__ import annotations

import logging
from typing import Any

from intently.errors import ComponentConfigError
from intently.params import All, Bool, Check, DictOf, Either, Int, ListOf, OneOf, Param, Real, defaults_of, show
from intently.plugins.extractors.bilou import SPLIT_ENTITIES, SPLIT_ENTITIES_DESCRIPTION

logger = logging.getLogger(__name__)

NAME = "DIETClassifier"
TEXT = "text"
LABEL = "label"
BALANCED = "balanced"
SEQUENCE = "sequence"
CROSS_ENTROPY = "cross_entropy"
SOFTMAX = "softmax"

def _unsupported(default: Any, what: str) -> Param:
    """A Rasa key intently accepts only at its (off) default: the other values are refused."""
    return Param(default, OneOf(default), f"Rasa's {what}: not supported yet, only {show(default)}",
                 hint=f"{what} is not supported yet by intently")


def per_attribute(item: Any) -> Any:
    """One value for text and label, or Rasa's ``{text: .., label: ..}`` (text required)."""
    return Either(item, DictOf(item, keys=(TEXT, LABEL), required=(TEXT,)))


def _first_not_above_last(value: Any) -> bool:
    return value[0] <= value[1]


#: ``batch_size``: a number, or ``[first, last]`` growing over the epochs.
BATCH_SIZE = Either(
    Int(1),
    All(ListOf(Int(1), min_len=2, max_len=2),
        Check(_first_not_above_last, "[first, last] with first <= last", invalid=([256, 64],))),
)

#: Every key of Rasa 3.6's ``DIETClassifier`` with Rasa's default (``get_default_config``), then
#: intently's own (a Rasa config leaves them at their default). Rasa's keys that take true/false
#: also take null, read as false, as Rasa reads them (a Rasa config may write it).
PARAMS: dict[str, Param] = {
    "hidden_layers_sizes": Param(
        {TEXT: [], LABEL: []}, per_attribute(ListOf(Int(1))),
        "sizes of the feed-forward layers before the transformer, for text and label",
        hint="for example {text: [], label: []}",
    ),
    "share_hidden_layers": _unsupported(False, "shared hidden layers"),
    "transformer_size": Param(256, Either(per_attribute(Int(1)), None),
                              "units of the transformer layers (null: 256)"),
    "number_of_transformer_layers": Param(2, Int(0), "transformer layers (0: none, a feed-forward model)"),
    "number_of_attention_heads": Param(4, Int(1), "attention heads; transformer_size must be divisible by it"),
    "use_key_relative_attention": _unsupported(False, "relative attention"),
    "use_value_relative_attention": _unsupported(False, "relative attention"),
    "max_relative_position": Param(5, Either(Int(0), None), "Rasa's relative-attention window (unused)"),
    "unidirectional_encoder": _unsupported(False, "unidirectional encoder"),
    "batch_size": Param([64, 256], BATCH_SIZE,
                        "examples per batch: a number, or [first, last] growing linearly over the epochs"),
    "batch_strategy": Param(BALANCED, OneOf(BALANCED, SEQUENCE),
                            "'balanced': each batch mixes the labels; 'sequence': in data order"),
    "epochs": Param(300, Int(1), "passes over the training data"),
    "random_seed": Param(None, Either(Int(0), None), "seed of the weights and batches (null: a random one)"),
    "learning_rate": Param(0.001, Real(0, None, closed="neither"), "Adam's learning rate"),
    "embedding_dimension": Param(20, Int(1), "size of the space where texts and labels are compared"),
    "dense_dimension": Param({TEXT: 128, LABEL: 20}, per_attribute(Int(1)),
                             "size sparse features are projected to, for text and label"),
    "concat_dimension": Param({TEXT: 128, LABEL: 20}, per_attribute(Int(1)),
                              "size of sparse and dense features joined, for text and label"),
    "number_of_negative_examples": Param(20, Int(1), "wrong labels each example is contrasted with"),
    "similarity_type": Param("auto", OneOf("auto", "inner"),
                             "how embeddings are compared ('auto': inner product)",
                             hint="'cosine' is not supported yet"),
    "loss_type": Param(CROSS_ENTROPY, OneOf(CROSS_ENTROPY, SOFTMAX), "the training loss",
                       hint="'margin' is not supported yet; 'softmax' is Rasa 2's name for 'cross_entropy'"),
    "ranking_length": Param(10, Int(0), "intents listed in intent_ranking (0: all)"),
    "maximum_positive_similarity": Param(0.8, Either(Real(), None), "the margin loss's target for the right label (unused: no margin loss)"),
    "maximum_negative_similarity": Param(-0.4, Either(Real(), None), "the margin loss's ceiling for wrong labels (unused: no margin loss)"),
    "use_maximum_negative_similarity": Param(True, Bool(null=True), "the margin loss looks at the closest wrong label only (unused: no margin loss)"),
    "scale_loss": Param(False, Bool(null=True), "weigh down examples the model already gets right"),
    "regularization_constant": Param(0.002, Real(0), "L2 weight decay"),
    "negative_margin_scale": Param(0.8, Either(Real(), None), "weight of the wrong labels in the margin loss (unused: no margin loss)"),
    "drop_rate": Param(0.2, Real(0, 1, closed="left"), "dropout rate"),
    "drop_rate_attention": Param(0.0, Real(0, 1, closed="left"), "dropout rate of the attention weights"),
    "connection_density": Param(0.2, Real(0, 1, closed="right"), "share of the sparse layers' weights kept"),
    "use_sparse_input_dropout": Param(True, Bool(null=True), "dropout on the sparse input features"),
    "use_dense_input_dropout": Param(True, Bool(null=True), "dropout on the dense input features"),
    "evaluate_every_number_of_epochs": Param(20, Either(OneOf(-1), Int(1)),
                                             "epochs between evaluations (-1: only after the last epoch)"),
    "evaluate_on_number_of_examples": Param(0, Int(0), "examples held out to evaluate on while training"),
    "intent_classification": Param(True, Bool(null=True), "learn intents"),
    "entity_recognition": Param(True, Bool(null=True), "learn entities"),
    "use_masked_language_model": Param(False, Bool(null=True), "also predict masked tokens while training (needs a transformer)"),
    "BILOU_flag": Param(True, Bool(null=True), "tag entities with BILOU (begin, inside, last, outside, unit) instead of IO"),
    "tensorboard_log_directory": _unsupported(None, "TensorBoard logging"),
    "tensorboard_log_level": Param("epoch", OneOf("epoch", "batch", "minibatch"), "TensorBoard's logging step (unused: no TensorBoard)"),
    "checkpoint_model": Param(False, Bool(),
                              "keep the weights of the best evaluation (needs evaluate_on_number_of_examples)"),
    "featurizers": Param([], OneOf([], None), "Rasa's choosing featurizers by name: not supported yet, only []",
                         hint="choosing featurizers by name is not supported yet by intently"),
    "split_entities_by_comma": Param(True, SPLIT_ENTITIES, SPLIT_ENTITIES_DESCRIPTION,
                                     hint="for example {address: false}"),
    "constrain_similarities": Param(False, Bool(null=True), "sigmoid cross-entropy on all similarities (Rasa 3's advice)"),
    "model_confidence": Param(SOFTMAX, OneOf(SOFTMAX), "how confidences are computed (Rasa 3's only value)"),
    "renormalize_confidences": Param(False, Bool(null=True), "renormalise the top ranking_length confidences to sum to 1"),
    "run_eagerly": Param(False, Bool(null=True), "TensorFlow's eager mode (no effect here)"),
    "drop_small_last_batch": Param(False, Bool(), "drop an epoch's last batch when it is under half a batch"),
    # intently's own keys.
    # A linear path from the sparse features straight to the intent and tag
    # scores, trained jointly with the transformer ("wide and deep"). Off by
    # default: on snips/train-100 it changed intent accuracy and entity F1 by
    # less than run-to-run noise (97.3 / 74.4 % with it, 97.3 / 74.1 % without).
    "linear_shortcut": Param(False, Bool(), "intently: a linear path from sparse features to the scores"),
    # Every token's tag scores also see the sentence position's output, so
    # entity types can depend on what the whole message is about (a movie
    # name and a book title look alike; the intent tells them apart).
    "sentence_to_tags": Param(True, Bool(), "intently: each token's tag scores also see the sentence output"),
    # See intently.finetune.
    "finetuning_epoch_fraction": Param(
        None, Either(Real(0, 1, closed="right"), None),
        "intently: share of epochs a finetune runs (null: --epoch-fraction, else 1)",
    ),
}

#: ``{key: default}``: Rasa 3.6's defaults and intently's.
DEFAULTS: dict[str, Any] = defaults_of(PARAMS)


def _fail(key: str, message: str, hint: str | None = None, name: str = NAME) -> None:
    raise ComponentConfigError(f"{name}: {key!r} {message}", hint=hint, component=name, key=key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


def validate(config: dict[str, Any], name: str = NAME) -> None:
    """Check the rules that involve several keys (each value was checked against :data:`PARAMS`).

    Raises ComponentConfigError naming the key; ``name`` is the component's, for the message.
    """
    if config["use_masked_language_model"] and config["number_of_transformer_layers"] < 1:
        _fail("use_masked_language_model", "needs a transformer (number_of_transformer_layers >= 1)",
              name=name)
    size = transformer_units(config)
    heads = config["number_of_attention_heads"]
    if config["number_of_transformer_layers"] > 0 and size % heads:
        _fail("transformer_size", f"({size}) must be divisible by number_of_attention_heads ({heads})", name=name)
    if config["checkpoint_model"] and config["evaluate_on_number_of_examples"] < 1:
        logger.warning(
            "%s: checkpoint_model needs evaluate_on_number_of_examples > 0; the weights of the last epoch are kept",
            name,
        )
    if not (config["intent_classification"] or config["entity_recognition"]):
        _fail("intent_classification", "and entity_recognition are both off: there is nothing to learn", name=name)


def transformer_units(config: dict[str, Any]) -> int:
    """The transformer size (Rasa's default 256 when null)."""
    size = text_size(config, "transformer_size") if config["transformer_size"] is not None else None
    return int(size) if size is not None else 256
