"""``DIETClassifier``: Rasa's Dual Intent and Entity Transformer (first milestone).

Trained with TensorFlow (imported lazily in :meth:`DIETClassifier.train`);
persisted as one ``.npz`` of weights plus a JSON state; parsed with the numpy
forward pass of :mod:`.numpy_model`, so loading and parsing never import
TensorFlow.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from intently.component import ENTITIES, FEATURES, INTENT, Component
from intently.errors import ComponentError, MissingDependencyError
from intently.message import Entity, Message
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.classifiers.diet import config as diet_config
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet.numpy_model import (
    NumpyDIET,
    initial_weights,
    softmax,
    viterbi,
)
from intently.plugins.extractors import bilou

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Messages per padded batch while parsing.
PARSE_BATCH = 128


class DIETClassifier(Component):
    """Intent classification and entity recognition with one transformer (Rasa's DIET).

    Accepts every Rasa 3.6 key with Rasa's default (:data:`.config.DEFAULTS`);
    see the package docstring for what this milestone supports.
    """

    defaults: ClassVar[dict[str, Any]] = diet_config.DEFAULTS
    untyped_keys = diet_config.UNTYPED_KEYS
    requires = (FEATURES,)
    provides = (INTENT, ENTITIES)

    def __init__(self, config: Mapping[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.spec: dict[str, Any] | None = None
        self.weights: dict[str, np.ndarray] | None = None
        self.model: NumpyDIET | None = None
        self.labels: list[str] = []
        self.tags: list[str] = []
        self.dims: dict[str, int] = {}
        self.seed: int = 0
        self.comma_entities: list[str] = []
        self.split_entities: dict[str, bool] = {}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        diet_config.validate(config)

    # --- training ---------------------------------------------------------------------------

    def _trainable_entities(self, message: Message) -> list[Entity]:
        name = self.component_name()
        return [e for e in message.entities if not e.extractor or e.extractor == name]

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Train on the examples with text (intent labels and/or entity annotations)."""
        cfg = self.config
        examples = [m for m in training_data.training_examples if m.text and m.text.strip()]
        if not examples:
            logger.warning("%s: no training examples with text; it will not predict anything", self.unique_name)
            return
        try:
            dims = diet_data.feature_dimensions(examples)
        except ValueError as error:
            raise ComponentError(f"{self.unique_name}: {error}") from error
        if not any(dims.values()):
            raise ComponentError(
                f"{self.unique_name}: the training examples have no features",
                hint="put featurizers (e.g. CountVectorsFeaturizer) before DIETClassifier",
            )
        labels = sorted({m.intent for m in examples if m.intent}) if cfg["intent_classification"] else []
        tag_lists: list[list[str]] = []
        if cfg["entity_recognition"]:
            tag_lists = [
                bilou.tags_from_entities(m.tokens or [], self._trainable_entities(m), bilou=cfg["BILOU_flag"])
                for m in examples
            ]
        tags = diet_data.tag_set(tag_lists, bilou=cfg["BILOU_flag"]) if tag_lists else []
        if len(tags) <= 1:
            tags = []
        if not labels and not tags:
            logger.warning("%s: no intents and no entities to learn", self.unique_name)
            return
        inputs = diet_data.build_inputs(examples, dims)
        tag_index = {t: i for i, t in enumerate(tags)}
        tag_ids = [
            np.asarray([tag_index.get(t, 0) for t in (tag_lists[i] if tags else [])][: inputs.lengths[i]]
                       + [0] * max(0, int(inputs.lengths[i]) - (len(tag_lists[i]) if tags else 0)), dtype=np.int64)
            for i in range(len(examples))
        ]
        label_ids = diet_data.encode_labels([m.intent for m in examples], labels)
        spec = self._spec(dims, len(labels), len(tags))
        resume = self.finetune_mode and self.weights is not None
        if resume:
            self._check_finetune(spec, labels, tags)
            seed = self.seed
            _, masks = initial_weights(spec, seed)
            weights = self.weights
        else:
            seed = cfg["random_seed"] if cfg["random_seed"] is not None else int(np.random.SeedSequence().entropy % 2**31)
            weights, masks = initial_weights(spec, seed)
        assert weights is not None
        try:
            from intently.plugins.classifiers.diet import tf_model
        except ImportError as error:
            raise MissingDependencyError(
                f"{self.unique_name}: training DIETClassifier needs TensorFlow ({error})",
                hint="pip install 'intently[tensorflow]' (parsing a trained model does not need it)",
            ) from error

        tf_model.set_seeds(seed)
        # TensorFlow's tf.Module wraps dicts it holds: give it copies.
        model = tf_model.DIETModel(copy.deepcopy(spec), weights, masks, copy.deepcopy(cfg), seed)
        rng = np.random.default_rng(seed + 1 if not resume else seed + 2)
        model.fit(inputs, label_ids, tag_ids, epochs=cfg["epochs"], rng=rng,
                  progress=tf_model.log_progress(self.unique_name, cfg["epochs"]))
        self.spec, self.labels, self.tags, self.dims, self.seed = spec, labels, tags, dims, seed
        self.weights = model.numpy_weights()
        self.model = NumpyDIET(spec, self.weights)
        self.comma_entities = sorted(
            {e.entity for m in examples for e in self._trainable_entities(m) if "," in str(e.value)}
        )
        self.split_entities = bilou.split_entities_config(cfg["split_entities_by_comma"], self.comma_entities)
        self._tf_model = model  # kept for tests (agreement of TF and numpy); not persisted

    def _spec(self, dims: dict[str, int], n_labels: int, n_tags: int) -> dict[str, Any]:
        cfg = self.config
        hidden = cfg["hidden_layers_sizes"]
        return {
            "sparse_dim": dims["sequence_sparse"] + dims["sentence_sparse"],
            "dense_dim": dims["sequence_dense"] + dims["sentence_dense"],
            "dense_dimension": int(diet_config.text_size(cfg, "dense_dimension")),
            "hidden": list(hidden.get(diet_config.TEXT, []) if isinstance(hidden, dict) else hidden),
            "units": diet_config.transformer_units(cfg),
            "layers": cfg["number_of_transformer_layers"],
            "heads": cfg["number_of_attention_heads"],
            "embedding": cfg["embedding_dimension"],
            "label_dimension": int(diet_config.label_size(cfg, "dense_dimension")),
            "density": float(cfg["connection_density"]),
            "n_labels": n_labels,
            "n_tags": n_tags,
        }

    def _check_finetune(self, spec: dict[str, Any], labels: list[str], tags: list[str]) -> None:
        changes = []
        if labels != self.labels:
            changes.append(f"intents {self.labels} -> {labels}")
        if tags != self.tags:
            changes.append(f"entity tags {self.tags} -> {tags}")
        if self.spec is not None and spec != self.spec:
            diff = {k: (self.spec.get(k), v) for k, v in spec.items() if self.spec.get(k) != v}
            changes.append(f"model shape {diff}")
        if changes:
            raise ComponentError(
                f"{self.unique_name}: cannot finetune: " + "; ".join(changes),
                hint="train a new model instead of finetuning",
            )

    # --- parsing ----------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set intent, confidence and ranking, and append the extracted entities."""
        model = self.model
        if model is None or not messages:
            return
        for start in range(0, len(messages), PARSE_BATCH):
            self._process_batch(messages[start : start + PARSE_BATCH])

    def _process_batch(self, messages: Sequence[Message]) -> None:
        model = self.model
        assert model is not None
        keep = [i for i, m in enumerate(messages) if m.text and m.text.strip()]
        for i, message in enumerate(messages):
            if i not in set(keep) and self.labels:
                message.intent, message.intent_confidence, message.intent_ranking = None, 0.0, []
        if not keep:
            return
        chosen = [messages[i] for i in keep]
        try:
            inputs = diet_data.build_inputs(chosen, self.dims)
        except ValueError as error:
            raise ComponentError(
                f"{self.unique_name}: {error}",
                hint="the featurizers before it changed since training; train the model again",
            ) from error
        padded = diet_data.pad(inputs)
        outputs = model.encode(padded.sparse, padded.dense, padded.mask)
        if self.labels:
            self._set_intents(chosen, model.similarities(outputs, padded.lengths))
        if self.tags:
            self._set_entities(chosen, model.tag_scores(outputs), padded.lengths)

    def _set_intents(self, messages: Sequence[Message], sims: np.ndarray) -> None:
        probabilities = softmax(sims, axis=1)
        order = np.argsort(-probabilities, axis=1, kind="stable")
        limit = self.config["ranking_length"]
        if limit > 0:
            order = order[:, :limit]
        for row, message in enumerate(messages):
            ranked = order[row]
            scores = probabilities[row, ranked]
            if self.config["renormalize_confidences"] and limit > 0:
                scores = scores / scores.sum()
            message.intent = self.labels[int(ranked[0])]
            message.intent_confidence = float(scores[0])
            message.intent_ranking = [
                {"name": self.labels[int(c)], "confidence": float(s)} for c, s in zip(ranked, scores)
            ]

    def _set_entities(self, messages: Sequence[Message], scores: np.ndarray, lengths: np.ndarray) -> None:
        assert self.weights is not None
        transitions = np.asarray(self.weights["crf/transitions"], dtype=np.float64)
        paths, confidences = viterbi(scores, transitions, lengths)
        flag = self.config["BILOU_flag"]
        for message, path, confidence in zip(messages, paths, confidences):
            tokens = message.tokens or []
            if not tokens or len(tokens) != len(path):
                continue
            tags = [self.tags[int(t)] for t in path]
            values = [float(c) for c in confidence]
            if flag:
                tags, values = bilou.ensure_consistent_bilou_tagging(tags, values)
            message.entities.extend(
                bilou.entities_from_tags(
                    message.text, tokens, {bilou.ENTITY: tags}, {bilou.ENTITY: values},
                    self.split_entities, bilou=flag, extractor=self.component_name(),
                )
            )

    # --- persistence ------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Weights as ``<file_name>.npz``; spec, labels, tags and seed as ``<file_name>.json``."""
        if self.weights is None or self.spec is None:
            return {"trained": False}
        arrays_file = f"{file_name}.npz"
        np.savez(Path(model_dir) / arrays_file, **{k.replace("/", "__"): v for k, v in self.weights.items()})
        state_file = save_json_state(
            Path(model_dir), f"{file_name}.json",
            {"spec": self.spec, "labels": self.labels, "tags": self.tags, "dims": self.dims, "seed": self.seed,
             "comma_entities": self.comma_entities},
            FORMAT_VERSION,
        )
        return {"trained": True, "arrays_file": arrays_file, "state_file": state_file,
                "intents": list(self.labels), "tags": list(self.tags)}

    @classmethod
    def load(cls, meta: Mapping[str, Any], model_dir: Path, *, finetune: bool = False,
             **context: Any) -> DIETClassifier:
        """Restore from ``.npz`` + JSON with numpy only (no TensorFlow, no pickle)."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        info = meta.get("meta") or {}
        if not info.get("trained"):
            return instance
        with reading_state(instance, "its model files"):
            state = load_json_state(Path(model_dir), info["state_file"], FORMAT_VERSION)
            arrays_file = info["arrays_file"]
            if not isinstance(arrays_file, str) or Path(arrays_file).name != arrays_file:
                raise ValueError(f"file name {arrays_file!r} is not a plain name")
            with np.load(Path(model_dir) / arrays_file, allow_pickle=False) as arrays:
                weights = {k.replace("__", "/"): arrays[k] for k in arrays.files}
            instance.spec = dict(state["spec"])
            instance.labels = list(state["labels"])
            instance.tags = list(state["tags"])
            instance.dims = {k: int(v) for k, v in state["dims"].items()}
            instance.seed = int(state["seed"])
            instance.comma_entities = list(state["comma_entities"])
            instance.weights = weights
            instance.model = NumpyDIET(instance.spec, weights)
            instance.split_entities = bilou.split_entities_config(
                instance.config["split_entities_by_comma"], instance.comma_entities
            )
        return instance
