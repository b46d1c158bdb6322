"""``DIETClassifier``: Rasa's Dual Intent and Entity Transformer (first milestone).

Trained with TensorFlow (imported lazily in :meth:`DIETClassifier.train`);
persisted as one ``.npz`` of weights (:mod:`.weights`) plus a JSON state;
parsed with the numpy forward pass of :mod:`.numpy_model`, scheduled by
:mod:`.parse_schedule`, so loading and parsing never import TensorFlow.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from intently.component import ENTITIES, FEATURES, INTENT, Component
from intently.errors import ComponentConfigError, ComponentError, MissingDependencyError
from intently.params import Param
from intently.message import Entity, Message
from intently.persistence import load_json_state, reading_state, save_json_state
from intently.plugins.classifiers.diet import config as diet_config
from intently.plugins.classifiers.diet import data as diet_data
from intently.plugins.classifiers.diet import growth, inference, parse_schedule, stored_state, training
from intently.plugins.classifiers.diet.blas_threads import one_blas_thread
from intently.plugins.classifiers.diet.numpy_model import NumpyDIET, softmax
from intently.plugins.classifiers.diet.weights import (
    CONNECTION_SPEC_KEYS,
    GROUPED,
    TAG_HEADS,
    head_weight,
    initial_weights,
    load_weights,
    save_weights,
    tag_heads,
)
from intently.plugins.extractors import bilou
from intently.plugins.linear_chain import TagDecoder
from intently.plugins.tokenizers.tokenizer import INTENT_TOKENS

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


class DIETClassifier(Component):
    """Intent classification and entity recognition with one transformer (Rasa's DIET).

    Accepts every Rasa 3.6 key with Rasa's default (:data:`.config.PARAMS`);
    see the package docstring for what this milestone supports.
    """

    params: ClassVar[dict[str, Param]] = diet_config.PARAMS
    requires = (FEATURES,)
    provides = (INTENT, ENTITIES)

    @classmethod
    def learns_entities_from_tokens(cls, config: Mapping[str, Any]) -> bool:
        return bool(config.get("entity_recognition", cls.defaults["entity_recognition"]))

    def __init__(self, config: Mapping[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.spec: dict[str, Any] | None = None
        self.weights: dict[str, np.ndarray] | None = None
        self.model: NumpyDIET | None = None
        self.labels: list[str] = []
        self.tags: list[str] = []
        self.role_tags: list[str] = []
        self.group_tags: list[str] = []
        self.training_history: list[dict[str, float]] = []
        self._decoders: dict[str, TagDecoder] | None = None
        self._tag_set: bilou.BilouTagSet | None = None
        self.dims: dict[str, int] = {}
        self.seed: int = 0
        self.comma_entities: list[str] = []
        self.split_entities: dict[str, bool] = {}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        diet_config.validate(config, cls.component_name())

    # --- training ---------------------------------------------------------------------------

    def _trainable_entities(self, message: Message) -> list[Entity]:
        name = self.component_name()
        return [e for e in message.entities if not e.extractor or e.extractor == name]

    def _example_label(self, message: Message) -> str | None:
        """The label this component learns for ``message`` (its intent)."""
        return message.intent

    def _label_tokens(self, examples: Sequence[Message], labels: Sequence[str]) -> list[list[str]] | None:
        """Each label's parts (multi-intent labels split by the tokenizer's ``intent_tokenization_flag``).

        None when every label is one part of its own (the usual case).
        """
        parts: dict[str, list[str]] = {}
        if self.finetune_mode and self.spec is not None and self.spec.get("label_parts"):
            # Labels of the loaded model keep their parts even without examples in the new data.
            vocabulary = self.spec["label_parts"]
            for label, composition in zip(self.labels, self.spec["label_composition"]):
                parts[label] = [vocabulary[i] for i in composition]
        for message in examples:
            label = self._example_label(message)
            if label and label not in parts:
                parts[label] = [str(t) for t in (message.data.get(INTENT_TOKENS) or [label])] or [label]
        split = [parts.get(label, [label]) for label in labels]
        return None if all(p == [label] for p, label in zip(split, labels)) else split

    def _tag_lists(self, examples: Sequence[Message]) -> dict[str, list[list[str]]]:
        """Per tag head (entity, role, group), every example's token tags; heads without annotations left out."""
        if not self.config["entity_recognition"]:
            return {}
        flag = self.config["BILOU_flag"]
        heads: dict[str, list[list[str]]] = {}
        for head in TAG_HEADS:
            lists = [bilou.tags_from_entities(m.tokens or [], self._trainable_entities(m), head, bilou=flag)
                     for m in examples]
            if head == "entity" or any(t != diet_data.NO_ENTITY_TAG for tags in lists for t in tags):
                heads[head] = lists
        if len(diet_data.tag_set(heads.get("entity", []), bilou=flag)) <= 1:
            return {}
        return heads

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Train on the examples with text (intent labels and/or entity annotations, roles and groups)."""
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
        example_labels = [self._example_label(m) for m in examples]
        labels = sorted({label for label in example_labels if label}) if cfg["intent_classification"] else []
        resume = self.finetune_mode and self.weights is not None and self.spec is not None
        tag_lists = self._tag_lists(examples)
        if resume:
            # Old labels stay (a finetune can add labels, not forget them).
            labels = sorted(set(labels) | set(self.labels))
            tag_lists = self._with_known_heads(tag_lists, examples)
        head_tags = {head: diet_data.tag_set(lists + [self._known_tags(head)], bilou=cfg["BILOU_flag"])
                     for head, lists in tag_lists.items()}
        if not labels and not head_tags:
            logger.warning("%s: no intents and no entities to learn", self.unique_name)
            return
        inputs = diet_data.build_inputs(examples, dims)
        tag_ids = diet_data.encode_tags(tag_lists, head_tags, inputs.lengths)
        label_ids = diet_data.encode_labels(example_labels, labels)
        held_out = int(cfg["evaluate_on_number_of_examples"])
        most = training.most_held_out(label_ids)
        if held_out > most:
            raise ComponentConfigError(
                f"{self.unique_name}: evaluate_on_number_of_examples is {held_out}, but the training data has "
                f"{len(label_ids)} examples and training must keep at least one of each label",
                hint=f"hold out at most {most} examples, or set it to 0 to train on all of them",
            )
        spec = self._spec(dims, labels, head_tags, self._label_tokens(examples, labels))
        if resume:
            seed = self.seed
            # The base model's connections (a model from before grouped connections keeps Rasa's random ones).
            spec.update({key: self.spec[key] for key in CONNECTION_SPEC_KEYS if key in self.spec})
            weights, masks = self._grown_weights(spec, labels, head_tags)
        else:
            seed = cfg["random_seed"] if cfg["random_seed"] is not None else int(np.random.SeedSequence().entropy % 2**31)
            spec.update({"connections": GROUPED, "connection_seed": seed})
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
        rng = np.random.default_rng(seed + 1 if not resume else seed + 2)
        train_index, held_index = training.hold_out(label_ids, held_out, rng)
        validation = None
        if len(held_index):
            validation = training.Validation(
                diet_data.subset(inputs, held_index), label_ids[held_index], [tag_ids[i] for i in held_index]
            )
            inputs = diet_data.subset(inputs, train_index)
            label_ids = label_ids[train_index]
            tag_ids = [tag_ids[i] for i in train_index]
        # TensorFlow's tf.Module wraps dicts it holds: give it copies.
        model = tf_model.DIETModel(copy.deepcopy(spec), weights, masks, copy.deepcopy(cfg), seed,
                                   copy.deepcopy(head_tags))
        epochs = self.epochs_to_train(cfg["epochs"])
        reporter = training.EpochReporter(self.unique_name, cfg, epochs, validation,
                                          head_tags.get("entity", []), spec)
        try:
            model.fit(inputs, label_ids, tag_ids, epochs=epochs, rng=rng,
                      tag_names=head_tags.get("entity", []), on_epoch_end=reporter)
        finally:
            reporter.close()
        self.spec, self.labels, self.dims, self.seed = spec, labels, dims, seed
        self.tags = head_tags.get("entity", [])
        self.role_tags, self.group_tags = head_tags.get("role", []), head_tags.get("group", [])
        self.weights = reporter.best_weights if reporter.best_weights is not None else model.numpy_weights()
        self.training_history = reporter.history
        self.epochs_run = epochs
        self.model = NumpyDIET(spec, self.weights)
        self._decoders = None
        self._tag_set = None
        self.comma_entities = sorted(
            {e.entity for m in examples for e in self._trainable_entities(m) if "," in str(e.value)}
        )
        self.split_entities = bilou.split_entities_config(cfg["split_entities_by_comma"], self.comma_entities)
        self._tf_model = model  # kept for tests (agreement of TF and numpy); not persisted

    def _spec(self, dims: dict[str, int], labels: Sequence[str], head_tags: Mapping[str, Sequence[str]],
              label_tokens: list[list[str]] | None) -> dict[str, Any]:
        cfg = self.config
        hidden = cfg["hidden_layers_sizes"]
        spec = {
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
            "n_labels": len(labels),
            "n_tags": len(head_tags.get("entity", [])),
            "n_role_tags": len(head_tags.get("role", [])),
            "n_group_tags": len(head_tags.get("group", [])),
            "linear": bool(cfg["linear_shortcut"]),
            "mlm": bool(cfg["use_masked_language_model"]),
            "sentence_to_tags": bool(cfg["sentence_to_tags"]),
            "sequence_sparse_dim": dims["sequence_sparse"],
        }
        if label_tokens is not None:
            vocabulary = sorted({part for parts in label_tokens for part in parts})
            index = {part: i for i, part in enumerate(vocabulary)}
            spec["label_parts"] = vocabulary
            spec["label_composition"] = [[index[part] for part in parts] for parts in label_tokens]
        return spec

    def _known_tags(self, head: str) -> list[str]:
        """The tags of ``head`` the loaded model knows (none when training from scratch)."""
        if not (self.finetune_mode and self.spec is not None):
            return []
        return {"entity": self.tags, "role": self.role_tags, "group": self.group_tags}[head]

    def _with_known_heads(self, tag_lists: dict[str, list[list[str]]],
                          examples: Sequence[Message]) -> dict[str, list[list[str]]]:
        """``tag_lists`` plus all-``O`` lists for the loaded model's heads the new data lacks, in head order."""
        if not self.config["entity_recognition"]:
            return tag_lists
        known = {head for head in TAG_HEADS if self._known_tags(head)}
        if not known - set(tag_lists):
            return tag_lists
        empty = [[diet_data.NO_ENTITY_TAG] * len(m.tokens or []) for m in examples]
        return {head: tag_lists.get(head, empty) for head in TAG_HEADS if head in tag_lists or head in known}

    def _grown_weights(self, spec: dict[str, Any], labels: list[str],
                       head_tags: Mapping[str, list[str]]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The loaded weights grown for ``spec`` (new labels and tags), and the connection masks.

        Raises:
            ComponentError: the features' dimensions changed (a featurizer ran out of reserved room
                or was configured differently), which no finetune can follow.
        """
        assert self.spec is not None and self.weights is not None
        changed = growth.shape_changes(self.spec, spec)
        if changed:
            raise ComponentError(
                f"{self.unique_name}: cannot finetune: the model's input changed: "
                + ", ".join(f"{key} {old} -> {new}" for key, (old, new) in changed.items()),
                hint="keep the featurizers' config as it was, or train a new model from scratch",
            )
        old_names = {"labels": self.labels, "label_parts": self.spec.get("label_parts") or self.labels,
                     "entity": self.tags, "role": self.role_tags, "group": self.group_tags}
        new_names = {"labels": labels, "label_parts": spec.get("label_parts") or labels,
                     "entity": head_tags.get("entity", []), "role": head_tags.get("role", []),
                     "group": head_tags.get("group", [])}
        added = {key: sorted(set(new_names[key]) - set(old_names[key])) for key in ("labels", "entity", "role", "group")}
        if any(added.values()):
            logger.info("%s: finetuning grows the model for %s", self.unique_name,
                        "; ".join(f"{len(v)} new {k}" for k, v in added.items() if v))
        weights = growth.grow_weights(self.spec, self.weights, spec, old_names, new_names, self.seed + 3)
        _, masks = initial_weights(self.spec, self.seed)
        return weights, masks

    # --- parsing ----------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Set intent, confidence and ranking, and append the extracted entities."""
        if self.model is None or not messages:
            return
        with one_blas_thread():
            step = parse_schedule.ROWS_BATCH
            for start in range(0, len(messages), step):
                self._process_chunk(messages[start : start + step])

    def _process_chunk(self, messages: Sequence[Message]) -> None:
        model = self.model
        assert model is not None
        keep = [i for i, m in enumerate(messages) if m.text and m.text.strip()]
        kept = set(keep)
        for i, message in enumerate(messages):
            if i not in kept and self.labels:
                message.intent, message.intent_confidence, message.intent_ranking = None, 0.0, []
        if not keep:
            return
        chosen = [messages[i] for i in keep]
        try:
            rows = inference.first_layer_rows(chosen, self.dims, model)
        except ValueError as error:
            raise ComponentError(
                f"{self.unique_name}: {error}",
                hint="the featurizers before it changed since training; train the model again",
            ) from error
        groups = parse_schedule.plan(rows.lengths)
        self._tag_decoders()  # built once, before any thread needs them
        self._bilou_tag_set()

        def scores_of(index: np.ndarray) -> parse_schedule.BatchScores:
            batch = rows.pad(index)
            sims, scores = model.heads(batch.x, batch.token_linear, batch.sentence_linear, batch.mask,
                                       batch.lengths)
            if len(index) == 1:  # one message: its token rows are a slice
                stacked = {head: head_scores[0, : int(batch.lengths[0])] for head, head_scores in scores.items()}
            else:
                tokens = np.arange(batch.x.shape[1])[None, :] < batch.lengths[:, None]
                stacked = {head: head_scores[tokens] for head, head_scores in scores.items()}
            return parse_schedule.BatchScores(index, sims, stacked)

        def parse(group: list[np.ndarray]) -> None:
            self._set_predictions(chosen, [scores_of(index) for index in group], rows.lengths)

        parse_schedule.run(parse, groups)  # each group writes only its own messages

    def _set_predictions(self, messages: Sequence[Message], scored: list[parse_schedule.BatchScores],
                         lengths: np.ndarray
                         ) -> None:
        """Intents and entities of the messages of several row batches, decoded together."""
        if len(scored) == 1:
            (only,) = scored
            index, sims, tag_scores = only.index, only.sims, only.tag_scores
        else:
            index = np.concatenate([batch.index for batch in scored])
            sims = None if scored[0].sims is None else np.concatenate([batch.sims for batch in scored])
            tag_scores = {head: np.concatenate([batch.tag_scores[head] for batch in scored])
                          for head in scored[0].tag_scores}
        group = [messages[i] for i in index.tolist()]
        if sims is not None:
            self._set_intents(group, sims)
        if tag_scores:
            self._set_entities(group, tag_scores, lengths[index])

    def _bilou_tag_set(self) -> bilou.BilouTagSet:
        """The entity tags' prefixes and labels, looked up once."""
        if self._tag_set is None:
            self._tag_set = bilou.BilouTagSet(self.tags)
        return self._tag_set

    def _tag_decoders(self) -> dict[str, TagDecoder]:
        """The Viterbi decoder of every tag head, built on first use."""
        if self._decoders is None:
            assert self.weights is not None
            names = {"entity": self.tags, "role": self.role_tags, "group": self.group_tags}
            self._decoders = {
                head: TagDecoder(names[head], self.weights[head_weight(head, "transitions")],
                                 bilou=self.config["BILOU_flag"])
                for head, _ in tag_heads(self.spec or {})}
        return self._decoders

    def _set_intents(self, messages: Sequence[Message], sims: np.ndarray) -> None:
        probabilities = softmax(sims, axis=1)
        order = np.argsort(-probabilities, axis=1, kind="stable")
        limit = self.config["ranking_length"]
        if limit > 0:
            order = order[:, :limit]
        scores = np.take_along_axis(probabilities, order, axis=1)
        if self.config["renormalize_confidences"] and limit > 0:
            scores = scores / scores.sum(axis=1, keepdims=True)
        labels = self.labels
        for message, ranked, values in zip(messages, order.tolist(), scores.tolist()):
            message.intent = labels[ranked[0]]
            message.intent_confidence = values[0]
            message.intent_ranking = [{"name": labels[c], "confidence": v} for c, v in zip(ranked, values)]

    def _set_entities(self, messages: Sequence[Message], scores: dict[str, np.ndarray], lengths: np.ndarray) -> None:
        """Viterbi-decode every tag head and append the entities (with roles and groups) to each message.

        ``scores``: per tag head, the messages' token scores stacked (tokens x tags, message by message).
        """
        names = {"entity": self.tags, "role": self.role_tags, "group": self.group_tags}
        decoded = {}
        flag = self.config["BILOU_flag"]
        decoders = self._tag_decoders()
        for head, head_scores in scores.items():
            paths, confidences = decoders[head].packed(head_scores, lengths)
            decoded[head] = (paths.tolist(), confidences.tolist())
        no_entity = self.tags.index(bilou.NO_ENTITY_TAG) if bilou.NO_ENTITY_TAG in self.tags else -1
        entity_paths = decoded["entity"][0] if "entity" in decoded else None
        offsets = [0, *np.cumsum(lengths).tolist()]
        # Entity tags alone, decoded under the BILOU constraints: the fast path (same entities).
        tag_set = self._bilou_tag_set() if flag and list(decoded) == ["entity"] else None
        extractor = self.component_name()
        for row, message in enumerate(messages):
            tokens = message.tokens or []
            start, end = offsets[row], offsets[row + 1]
            if not tokens or len(tokens) != end - start:
                continue
            if entity_paths is not None and entity_paths[start:end].count(no_entity) == end - start:
                continue  # no entity: roles and groups belong to entities only
            if tag_set is not None:
                paths, confidences = decoded["entity"]
                entities = bilou.entities_from_valid_bilou(
                    message.text, tokens, paths[start:end], confidences[start:end], tag_set,
                    self.split_entities, extractor)
                if entities is not None:
                    message.entities.extend(entities)
                    continue
            tags: dict[str, list[str]] = {}
            values: dict[str, list[float]] = {}
            for head, (paths, confidences) in decoded.items():
                head_names = names[head]
                tags[head] = [head_names[t] for t in paths[start:end]]
                values[head] = confidences[start:end]
                if flag:
                    tags[head], values[head] = bilou.ensure_consistent_bilou_tagging(tags[head], values[head])
            message.entities.extend(
                bilou.entities_from_tags(
                    message.text, tokens, tags, values,
                    self.split_entities, bilou=flag, extractor=extractor,
                )
            )

    # --- persistence ------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Weights as ``<file_name>.npz``; spec, labels, tags and seed as ``<file_name>.json``."""
        if self.weights is None or self.spec is None:
            return {"trained": False}
        arrays_file = f"{file_name}.npz"
        save_weights(Path(model_dir), arrays_file, self.weights)
        state_file = save_json_state(
            Path(model_dir), f"{file_name}.json",
            {"spec": self.spec, "labels": self.labels, "tags": self.tags, "role_tags": self.role_tags,
             "group_tags": self.group_tags, "dims": self.dims, "seed": self.seed,
             "comma_entities": self.comma_entities, "training_history": self.training_history},
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
            weights = load_weights(Path(model_dir), info["arrays_file"])
            stored_state.check_state(state, weights)
            instance.spec = dict(state["spec"])
            instance.labels = list(state["labels"])
            instance.tags = list(state["tags"])
            instance.role_tags = list(state.get("role_tags", []))
            instance.group_tags = list(state.get("group_tags", []))
            instance.training_history = list(state.get("training_history", []))
            instance.dims = {k: int(v) for k, v in state["dims"].items()}
            instance.seed = int(state["seed"])
            instance.comma_entities = list(state["comma_entities"])
            instance.weights = weights
            instance.model = NumpyDIET(instance.spec, weights)
            instance._decoders = None
            instance._tag_set = None
            instance.split_entities = bilou.split_entities_config(
                instance.config["split_entities_by_comma"], instance.comma_entities
            )
        return instance
