"""``ResponseSelector``: Rasa's response selector for retrieval intents, built on our DIET.

A retrieval intent groups many small intents under one name: the training
examples of ``faq/ask_name`` and ``faq/ask_weather`` both have the intent
``faq``; an intent classifier predicts ``faq`` and the response selector picks
the retrieval key (``faq/ask_name``) and so the response
(``utter_faq/ask_name``) to send.

It is a :class:`~intently.plugins.classifiers.diet.component.DIETClassifier`
whose labels are the retrieval keys (``Message.intent_response_key``) of the
examples of its ``retrieval_intent`` (of every retrieval intent when that is
null), with Rasa 3.6's ResponseSelector defaults (no transformer, hidden
layers ``[256, 128]``, ...) and no entity recognition. Training, the numpy
forward pass used for parsing and the ``.npz`` + JSON persistence are DIET's
own: the selector hands DIET a view of the examples labelled by their keys
and reads DIET's ranking back, so it follows whatever DIET's internals do.
The responses of its keys are kept in a JSON file next to DIET's.

Parse output, in ``message.data["response_selector"]`` (Rasa's shape; several
selectors share the dict, each under its own key)::

    {"all_retrieval_intents": ["chitchat", "faq"],
     "faq": {"response": {"responses": [{"text": "I'm a bot."}], "confidence": 0.97,
                          "intent_response_key": "faq/ask_name",
                          "utter_action": "utter_faq/ask_name"},
             "ranking": [{"confidence": 0.97, "intent_response_key": "faq/ask_name"}, ...]}}

The key is ``retrieval_intent``, or ``"default"`` when it is null.

Where it differs from Rasa, on purpose or for now:

* ``use_text_as_label: true`` (Rasa's DIET2DIET, learning from the response
  texts) is refused: only the retrieval keys are labels.
* ``entity_recognition: true`` and ``intent_classification: false``, which
  Rasa overrides silently, are refused; ``BILOU_flag`` and
  ``split_entities_by_comma`` have no effect.
* Labels are embedded as DIET embeds intents: learned label vectors
  (``dense_dimension`` ``label`` wide; a key made of several tokenizer parts,
  ``faq`` + ``ask_name``, sums its parts' vectors, as Rasa's bag-of-words
  label features do). A learned vector per label is what Rasa's label
  feed-forward layers compute from one-hot features, so ``hidden_layers_sizes``
  ``label`` is accepted and not needed.
* A key without responses in the training data gets ``"responses": []``
  (Rasa puts ``[{"text": "<key>"}]`` there), with a warning at training.
* Everything DIET does not support yet (see its package docstring) is refused
  here too, naming the key.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
from intently.component import FEATURES, RESPONSE
from intently.errors import ComponentConfigError
from intently.message import Message
from intently.params import Check, Either, OneOf, Param, defaults_of
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.classifiers.diet import config as diet_config
from intently.plugins.classifiers.diet.component import DIETClassifier
from intently.plugins.tokenizers.tokenizer import (
    INTENT_RESPONSE_KEY_TOKENS,
    INTENT_TOKENS,
)

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

NAME = "ResponseSelector"
#: ``message.data`` key of the selectors' output (Rasa's ``response_selector``).
OUTPUT_KEY = "response_selector"
#: Key of a selector whose ``retrieval_intent`` is null.
DEFAULT_SELECTOR = "default"
ALL_RETRIEVAL_INTENTS = "all_retrieval_intents"
RESPONSES_FORMAT_VERSION = 1

def _is_retrieval_intent(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "/" not in value


#: Rasa 3.6's ResponseSelector defaults (``get_default_config``) where they differ from DIET's.
_RASA_DEFAULTS: dict[str, Any] = {
    "hidden_layers_sizes": {"text": [256, 128], "label": [256, 128]},
    "share_hidden_layers": False,
    "transformer_size": None,
    "number_of_transformer_layers": 0,
    "number_of_attention_heads": 4,
    "use_key_relative_attention": False,
    "use_value_relative_attention": False,
    "max_relative_position": 5,
    "unidirectional_encoder": False,
    "batch_size": [64, 256],
    "batch_strategy": "balanced",
    "epochs": 300,
    "random_seed": None,
    "learning_rate": 0.001,
    "embedding_dimension": 20,
    "dense_dimension": {"text": 512, "label": 512},
    "concat_dimension": {"text": 512, "label": 512},
    "number_of_negative_examples": 20,
    "similarity_type": "auto",
    "loss_type": "cross_entropy",
    "ranking_length": 10,
    "renormalize_confidences": False,
    "maximum_positive_similarity": 0.8,
    "maximum_negative_similarity": -0.4,
    "use_maximum_negative_similarity": True,
    "scale_loss": True,
    "regularization_constant": 0.002,
    "connection_density": 1.0,
    "negative_margin_scale": 0.8,
    "drop_rate": 0.2,
    "drop_rate_attention": 0,
    "use_sparse_input_dropout": False,
    "use_dense_input_dropout": False,
    "evaluate_every_number_of_epochs": 20,
    "evaluate_on_number_of_examples": 0,
    "use_masked_language_model": False,
    "tensorboard_log_directory": None,
    "tensorboard_log_level": "epoch",
    "featurizers": [],
    "checkpoint_model": False,
    "constrain_similarities": False,
    "model_confidence": "softmax",
}

#: Every key with Rasa 3.6's default (``ResponseSelector.get_default_config``: DIET's keys, these
#: defaults, then its own keys).
PARAMS: dict[str, Param] = {
    **{key: attrs.evolve(param, default=_RASA_DEFAULTS.get(key, param.default))
       for key, param in diet_config.PARAMS.items()},
    "retrieval_intent": Param(
        None,
        Either(Check(_is_retrieval_intent, "the name of a retrieval intent", invalid=("faq/ask_name", " ")), None),
        "the retrieval intent whose responses it selects (null: every retrieval intent)",
        hint="use the part before '/': for examples of faq/ask_name it is 'faq'",
    ),
    "use_text_as_label": Param(False, OneOf(False, None),
                               "Rasa's DIET2DIET, learning from the response texts: not supported yet, only false",
                               hint="the retrieval keys (faq/ask_name) are the labels"),
    # Rasa forces these for a response selector; here they are the defaults, and
    # other values are refused instead of being ignored.
    "intent_classification": Param(True, OneOf(True),
                                   "always true: selecting a response is classifying its retrieval key"),
    "entity_recognition": Param(False, OneOf(False, None), "always false: ResponseSelector does not extract entities",
                                hint="use DIETClassifier or CRFEntityExtractor for entities"),
}

#: ``{key: default}`` of :data:`PARAMS`.
DEFAULTS: dict[str, Any] = defaults_of(PARAMS)


def utter_action(intent_response_key: str) -> str:
    """The response name of a retrieval key: ``faq/ask_name`` -> ``utter_faq/ask_name``."""
    return f"utter_{intent_response_key}"


class ResponseSelector(DIETClassifier):
    """Picks the response of a retrieval intent (Rasa's ``ResponseSelector``).

    Learns to tell apart the retrieval keys (``faq/ask_name``,
    ``faq/ask_weather``, ...) of ``retrieval_intent`` (of every retrieval intent
    when null) with DIET, and at parse time writes the best key, its
    responses and a ranking into ``message.data["response_selector"]`` under
    ``retrieval_intent`` (or ``"default"``). Accepts every Rasa 3.6 key with
    Rasa's default (:data:`PARAMS`); see the module docstring for the
    differences.
    """

    params: ClassVar[dict[str, Param]] = PARAMS
    requires = (FEATURES,)
    provides = (RESPONSE,)

    def __init__(self, config: Mapping[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        #: Every retrieval intent of the training data (Rasa reports them all).
        self.all_retrieval_intents: list[str] = []
        #: The response variations of the learned keys, by response name (``utter_faq/ask_name``).
        self.responses: dict[str, list[dict[str, Any]]] = {}

    @property
    def retrieval_intent(self) -> str | None:
        """The retrieval intent this selector learns (None: all of them)."""
        return self.config["retrieval_intent"]

    @property
    def selector_key(self) -> str:
        """Its key in the ``response_selector`` output: the retrieval intent or ``"default"``."""
        return self.retrieval_intent or DEFAULT_SELECTOR

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Check the rules that involve several keys, as DIET does."""
        diet_config.validate(config, cls.component_name())

    # --- training ---------------------------------------------------------------------------

    def _selected_examples(self, training_data: TrainingData) -> list[Message]:
        """The examples of its retrieval intent(s) that have a retrieval key."""
        wanted = self.retrieval_intent
        return [
            m for m in training_data.training_examples
            if m.intent_response_key and (wanted is None or m.intent == wanted)
        ]

    @staticmethod
    def _labelled_copy(message: Message) -> Message:
        """A copy of a training example whose intent is its retrieval key.

        Its intent tokens become the key's tokens (``faq/ask_name`` -> ``faq``,
        ``ask_name``, as the tokenizer split them), so a label is made of the
        same parts as Rasa's label features for the key.
        """
        data = dict(message.data)
        key_tokens = data.get(INTENT_RESPONSE_KEY_TOKENS)
        if key_tokens:
            data[INTENT_TOKENS] = list(key_tokens)
        else:
            data.pop(INTENT_TOKENS, None)
        return attrs.evolve(message, intent=message.intent_response_key, entities=[], data=data)

    def _warn_about_transformer(self) -> None:
        cfg = self.config
        if cfg["number_of_transformer_layers"] <= 0:
            return
        name = NAME + (f"({self.retrieval_intent})" if self.retrieval_intent else "")
        hidden = cfg["hidden_layers_sizes"]
        if diet_config.text_size(cfg, "hidden_layers_sizes") if isinstance(hidden, dict) else hidden:
            logger.warning(
                "%s: a transformer is on (number_of_transformer_layers > 0) and hidden_layers_sizes is %s; "
                "as Rasa, we recommend hidden_layers_sizes {text: [], label: []} with a transformer",
                name, hidden,
            )
        if cfg["transformer_size"] is None:
            logger.warning(
                "%s: transformer_size is null but number_of_transformer_layers > 0; using transformer_size %d",
                name, diet_config.transformer_units(cfg),
            )

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Learn the retrieval keys of its retrieval intent(s) and keep their responses.

        Without such examples it warns and predicts nothing afterwards (as Rasa).
        The training examples are not changed.
        """
        self._warn_about_transformer()
        all_intents = list(training_data.retrieval_intents)
        selected = self._selected_examples(training_data)
        if not selected:
            wanted = self.retrieval_intent
            ordinary = wanted in training_data.intents
            if wanted is None:
                reason = "the training data has no examples of retrieval intents (such as faq/ask_name)"
            elif all_intents:
                # The data has other retrieval intents: most likely a typo or a mix-up, which would ship a
                # model that never selects a response (Rasa trains nothing here, silently).
                close = difflib.get_close_matches(wanted, all_intents, n=1)
                what = "is an ordinary intent" if ordinary else "is not in the training data"
                raise ComponentConfigError(
                    f"{self.unique_name}: retrieval_intent {wanted!r} {what}; the retrieval intents of the "
                    f"training data are {', '.join(all_intents)}",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + "set retrieval_intent to one of them, or remove the key to learn all of them",
                )
            elif ordinary:
                reason = (f"retrieval_intent {wanted!r} is an ordinary intent: none of its examples has a "
                          f"retrieval key (such as {wanted}/ask_name)")
            else:
                reason = f"retrieval_intent {wanted!r} is not in the training data, which has no retrieval intents"
            logger.warning("%s: %s; it will not predict anything", self.unique_name, reason)
            return
        # DIET learns from ``intent``: give it copies of the examples labelled by their keys.
        labelled = [self._labelled_copy(m) for m in selected]
        super().train(training_data.filter_examples(labelled), config, **context)
        if self.model is None:
            return
        self.all_retrieval_intents = all_intents
        self.responses = {
            utter_action(key): copy.deepcopy(training_data.responses[utter_action(key)])
            for key in self.labels
            if training_data.responses.get(utter_action(key))
        }
        missing = [key for key in self.labels if utter_action(key) not in self.responses]
        if missing:
            logger.warning(
                "%s: no responses for %s in the training data; its prediction will have \"responses\": [] "
                "(add them under responses:, e.g. %s)",
                self.unique_name, ", ".join(missing), utter_action(missing[0]),
            )

    # --- parsing ----------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Add this selector's prediction to ``message.data["response_selector"]``.

        Other selectors' entries are kept; the messages' intents, rankings and
        entities are not touched. Blank messages get nothing.
        """
        if self.model is None or not messages:
            return
        # DIET writes its ranking into ``intent``/``intent_ranking``: let it write into copies.
        copies = [
            attrs.evolve(m, intent=None, intent_confidence=None, intent_ranking=[], entities=[], data=dict(m.data))
            for m in messages
        ]
        super().process(copies, **context)
        for message, scored in zip(messages, copies):
            if scored.intent_ranking:
                self._set_prediction(message, scored.intent_ranking)

    def _set_prediction(self, message: Message, ranking: list[dict[str, Any]]) -> None:
        best = ranking[0]
        key = str(best["name"])
        prediction = {
            "response": {
                "responses": copy.deepcopy(self.responses.get(utter_action(key), [])),
                "confidence": float(best["confidence"]),
                "intent_response_key": key,
                "utter_action": utter_action(key),
            },
            "ranking": [
                {"confidence": float(entry["confidence"]), "intent_response_key": entry["name"]} for entry in ranking
            ],
        }
        output = message.data.get(OUTPUT_KEY)
        if not isinstance(output, dict):
            output = message.data[OUTPUT_KEY] = {}
        output[ALL_RETRIEVAL_INTENTS] = list(self.all_retrieval_intents)
        output[self.selector_key] = prediction

    # --- persistence ------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """DIET's files plus ``<file_name>.responses.json`` (the responses and retrieval intents)."""
        meta = super().persist(file_name, model_dir) or {}
        if not meta.get("trained"):
            return meta
        meta["responses_file"] = save_json_state(
            Path(model_dir), f"{file_name}.responses.json",
            {"all_retrieval_intents": self.all_retrieval_intents, "responses": self.responses},
            RESPONSES_FORMAT_VERSION,
        )
        return meta

    @classmethod
    def load(cls, meta: Mapping[str, Any], model_dir: Path, *, finetune: bool = False,
             **context: Any) -> ResponseSelector:
        """Restore DIET's model and the responses (numpy and JSON only)."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        info = meta.get("meta") or {}
        if not info.get("trained"):
            return instance
        with reading_state(instance, "its responses"):
            state = load_json_state(Path(model_dir), info["responses_file"], RESPONSES_FORMAT_VERSION)
            instance.all_retrieval_intents = [str(intent) for intent in state["all_retrieval_intents"]]
            responses = state["responses"]
            if not isinstance(responses, dict) or not all(isinstance(v, list) for v in responses.values()):
                raise ValueError("responses must map names to lists of variations")
            instance.responses = {str(name): list(variations) for name, variations in responses.items()}
        return instance
