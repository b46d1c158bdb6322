"""``CRFEntityExtractor``: entities with conditional random fields, Rasa 3.x-compatible.

A linear-chain CRF (trained by crfsuite, through python-crfsuite, the engine
of sklearn-crfsuite; L-BFGS with L1 and L2 penalties, every transition between
labels allowed: what Rasa's ``sklearn_crfsuite.CRF`` does) labels every token
with a BILOU tag; :mod:`~intently.plugins.extractors.bilou` turns the tags into
entities.

**Features** (Rasa's names and default window). ``features`` is an odd-length
list of lists: the middle one is for the token itself, the others for the
tokens before and after it (``[before, token, after]`` by default). Available:

================== ==========================================================
``low``            the token lower-cased
``title``          the token is title-cased (``"Berlin"``)
``upper``          the token is upper-case
``digit``          the token is made of digits only
``prefix5/2``      the first 5 / 2 characters
``suffix5/3/2/1``  the last 5 / 3 / 2 / 1 characters
``bias``           a constant
``pos``, ``pos2``  the part-of-speech tag in ``token.data["pos"]`` (set by a
                   tokenizer that tags, e.g. spaCy's), and its first 2 letters;
                   no feature when the token has none
``pattern``        one feature per regex of the training data: the
                   ``token.data["pattern"]`` mapping ``{pattern_name: bool}``
                   that ``RegexFeaturizer`` sets on every token
``text_dense_features`` the token's dense sequence features (one weighted
                   feature per column) from the dense featurizers before it,
                   all of them or those named in ``featurizers``
``entity``         the entity tag of the token: fed to the role and group
                   CRFs only (see below); ignored for the entity CRF, whose
                   label it is
================== ==========================================================

A window position before the first token adds ``BOS``, after the last
``EOS``. Features whose value is ``False`` (and dense columns that are 0) are
left out: a feature with weight 0 adds nothing to a CRF's score, so the model
is the same, only built faster.

**Roles and groups.** When the training data has roles (groups), a second
(third) CRF is trained to tag them, with the features above plus the entity
tag of each token in the window: the annotated tag while training, the entity
CRF's tag while parsing (Rasa's stacking).

**Output.** Entities with ``start``, ``end``, ``value`` (the text between
them), ``entity``, ``role``/``group`` when predicted, ``confidence_entity``
(``confidence_role``/``confidence_group``) and ``extractor:
"CRFEntityExtractor"``, appended to ``message.entities``. The tags are the
CRF's most likely tag sequence (Viterbi). A tag's confidence is Rasa's: with
``BILOU_flag`` the summed marginal probability of the B/I/L/U tags of its
entity type, else the tag's marginal probability; an entity's confidence is
the lowest of its tokens'. Tags are repaired into consistent BILOU sequences
(Rasa's rule) before they become entities (see
:mod:`~intently.plugins.extractors.bilou` for how, and for
``split_entities_by_comma``).

**Config** (Rasa 3.6's keys and defaults): ``BILOU_flag`` (True),
``split_entities_by_comma`` (True, or ``{entity_type: bool}``), ``features``
(the window above), ``max_iterations`` (50), ``L1_c`` (0.1), ``L2_c`` (0.1),
``featurizers`` ([]: every dense featurizer; names may be a pipeline's unique
name ``"3_MyFeaturizer"`` or a component name).

**Training** uses every tokenized example, including those without entities
(all tokens ``O``). Annotations made for another extractor (an entity whose
``extractor`` is set to another name) are ignored. Entities that do not start
and end on token boundaries are reported with a warning and, with
``BILOU_flag``, left out. Without any entity to learn, nothing is trained and
parsing adds no entities. Training is deterministic: the same data gives the
same model files, byte for byte.

**Finetuning** (``load(..., finetune=True)`` then ``train``) trains the CRFs
again on the full data: a CRF trains in seconds, and so new entity types,
roles and groups are learnt like the old ones.

**Persistence** (format 2): crfsuite trains, and its model file is read
right away by :mod:`.crfsuite_reader` (pure Python); only the weights are
kept (:class:`~intently.plugins.extractors.crf_model.LinearChainCRF`):
``<name>.crf.json`` (per CRF its labels, attribute vocabulary and number of
state weights) and ``<name>.crf.npz`` (per CRF the sparse state weights and
the transition matrix). Loading checks every array's dtype and shape against
the JSON before reading it, then every index and weight; parsing decodes in
numpy (Viterbi and forward-backward, :mod:`intently.plugins.linear_chain`)
with results equal to crfsuite's, and never imports python-crfsuite.
Archives written before (format 1: one crfsuite model file per CRF,
``<name>.entity.crfsuite``, ``.role.``, ``.group.``) are converted on load by
the same bounds-checked reader; their bytes never reach crfsuite's C reader,
which trusts its input. Nothing is unpickled.

Where this differs from Rasa 3.6, on purpose:

* Rasa takes each token's tag from the marginal probabilities separately
  and then repairs the sequence; here the tag sequence is the most likely one
  as a whole (Viterbi, what a CRF is trained for and what sklearn-crfsuite's
  ``predict`` returns), so tags are consistent with the learnt transitions
  and need little repair. It is also faster: only the marginals of the chosen
  tags' types are computed, not those of every label at every token. The
  confidences are computed as in Rasa.
* ``split_entities_by_comma`` (True by default, as in Rasa) does not split
  entity types that the training data annotates with a comma inside (such as
  dates like ``"Oct. 16, 2036"`` or addresses); a per-type setting
  (``{address: true}``) is followed as it is. With BILOU tags, a tagged
  ``B- ... L-`` span is one entity whatever characters separate its tokens
  (Rasa cuts it at any two characters, ``"Oct. 16"`` -> ``Oct``, ``16``).

* Rasa trains and parses only messages that have features from some
  featurizer (``features_present``), so a pipeline of a tokenizer and this
  extractor alone learns nothing there; here every tokenized message counts,
  and ``featurizers`` only selects dense features.
* Rasa crashes on ``pos`` features for tokens without a part-of-speech tag;
  here such a token has no ``pos`` feature.
* The BILOU-to-entity differences listed in :mod:`~intently.plugins.extractors.bilou`.
* Rasa's documentation shows ``text_dense_features`` in the middle list of
  the default ``features``, but its code's default does not have it; the code
  is followed.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from intently.component import DENSE_FEATURES, ENTITIES, SPARSE_FEATURES, TOKENS, Component
from intently.errors import ComponentError
from intently.features import SEQUENCE, collect_features, feature_origins
from intently.message import Entity, Message, Token
from intently.params import All, Bool, Check, Int, ListOf, OneOf, Param, Real, Str
from intently.persistence import load_expected_arrays, load_json_state, reading_state, save_json_state
from intently.plugins.classifiers.diet.blas_threads import one_blas_thread
from intently.plugins.extractors import bilou
from intently.plugins.extractors.crf_model import LinearChainCRF
from intently.plugins.extractors.crfsuite_reader import read_crfsuite_model
from intently.plugins.extractors.bilou import ENTITY, GROUP, NO_ENTITY_TAG, ROLE
from intently.progress import ProgressBar
from intently.plugins.tokenizers.tokenizer import UNALIGNED_REPORTED

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: 2: the CRFs in intently's own format (JSON and .npz); 1: crfsuite model files, converted on load.
FORMAT_VERSION = 2
CRFSUITE_FORMAT = 1
MODEL_SUFFIX = ".crfsuite"
#: Messages decoded together (bounds the memory of a large ``process`` batch).
PARSE_CHUNK = 256
#: Token feature rows kept in the cache of static features before it is emptied.
CACHE_LIMIT = 100_000
#: How many misaligned-annotation warnings are logged one by one.
MAX_ALIGNMENT_WARNINGS = 10

#: ``token.data`` keys read by the ``pattern`` and ``pos`` features.
PATTERN_KEY = "pattern"
POS_KEY = "pos"

#: Features computed from the token text alone (cached per text).
STATIC_FEATURES: dict[str, Any] = {
    "low": str.lower,
    "title": str.istitle,
    "upper": str.isupper,
    "digit": str.isdigit,
    "prefix5": lambda text: text[:5],
    "prefix2": lambda text: text[:2],
    "suffix5": lambda text: text[-5:],
    "suffix3": lambda text: text[-3:],
    "suffix2": lambda text: text[-2:],
    "suffix1": lambda text: text[-1:],
    "bias": lambda text: "bias",
}
#: Every feature name a ``features`` list may use (Rasa's CRFEntityExtractorOptions).
FEATURE_NAMES = (*STATIC_FEATURES, "pos", "pos2", "pattern", "text_dense_features", "entity")

DEFAULT_FEATURES = [
    ["low", "title", "upper"],
    ["low", "bias", "prefix5", "prefix2", "suffix5", "suffix3", "suffix2", "upper", "title", "digit", "pattern"],
    ["low", "title", "upper"],
]

# One token's features as (name, value) pairs: str values become "name:value"
# attributes of weight 1 in crfsuite, True and floats are weights.
_Items = tuple[tuple[str, Any], ...]


class _Window:
    """The ``features`` config compiled: per window position, its offset and feature keys."""

    def __init__(self, features: Sequence[Sequence[str]]) -> None:
        half = len(features) // 2
        self.positions: list[tuple[int, str, list[tuple[str, Any]], dict[str, bool]]] = []
        for index, names in enumerate(features):
            offset = index - half
            prefix = str(offset)
            static = [(f"{prefix}:{name}", STATIC_FEATURES[name]) for name in names if name in STATIC_FEATURES]
            dynamic = {name: name in names for name in ("pos", "pos2", "pattern", "text_dense_features")}
            self.positions.append((offset, prefix, static, dynamic))
        self.uses = {name for names in features for name in names}
        self.uses_dense = "text_dense_features" in self.uses
        self.entity_keys = [(offset, f"{prefix}:entity") for offset, prefix, _, _ in self.positions]


def _odd_length(value: Any) -> bool:
    return len(value) % 2 == 1


class CRFEntityExtractor(Component):
    """Entity extractor: a linear-chain CRF over lexical token features (Rasa's CRFEntityExtractor).

    Config keys and defaults are Rasa 3.6's; see the module docstring.
    """

    params: ClassVar[dict[str, Param]] = {
        "BILOU_flag": Param(True, Bool(null=True), "tag entities with BILOU (begin, inside, last, outside, unit) instead of IO"),
        "split_entities_by_comma": Param(True, bilou.SPLIT_ENTITIES, bilou.SPLIT_ENTITIES_DESCRIPTION,
                                         hint="for example {address: false}"),
        "features": Param(
            DEFAULT_FEATURES,
            All(ListOf(ListOf(OneOf(*FEATURE_NAMES))),
                Check(_odd_length, "an odd number of window positions ([before, token, after])",
                      invalid=([["low"], ["low"]],))),
            "the window of tokens, each position a list of feature names",
        ),
        "max_iterations": Param(50, Int(1), "iterations of the optimiser"),
        "L1_c": Param(0.1, Real(0), "weight of the L1 penalty"),
        "L2_c": Param(0.1, Real(0), "weight of the L2 penalty"),
        "featurizers": Param([], ListOf(Str()), "the featurizers whose dense features it reads ([]: every one)"),
    }
    requires = (TOKENS,)
    provides = (ENTITIES,)
    reads_features = frozenset({SEQUENCE})

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        self.bilou_flag: bool = self.config["BILOU_flag"]
        #: Entity types that the training data annotates with a comma inside.
        self.comma_entities: list[str] = []
        self.split_entities = bilou.split_entities_config(self.config["split_entities_by_comma"])
        self.window = _Window(self.config["features"])
        #: The trained CRFs, in order: entity, then role and group when trained.
        self.taggers: dict[str, LinearChainCRF] = {}
        self._static_cache: dict[str, list[_Items]] = {}
        self._warned_untrained = False
        self._warned_dense: set[str] = set()

    @classmethod
    def graph_requires(cls, config: Mapping[str, Any]) -> tuple[str, ...]:
        """``pattern`` reads the regex featurizer's token data, ``text_dense_features`` dense features."""
        used = {name for names in config.get("features") or () for name in names}
        return (SPARSE_FEATURES,) * ("pattern" in used) + (DENSE_FEATURES,) * ("text_dense_features" in used)

    # --- features --------------------------------------------------------------------------

    def _static(self, text: str) -> list[_Items]:
        """The text-only features of a token, per window position (cached per text)."""
        cached = self._static_cache.get(text)
        if cached is None:
            cached = []
            for _, _, static, _ in self.window.positions:
                items = []
                for key, function in static:
                    value = function(text)
                    if value is not False:
                        items.append((key, value))
                cached.append(tuple(items))
            if len(self._static_cache) >= CACHE_LIMIT:
                self._static_cache.clear()
            self._static_cache[text] = cached
        return cached

    def _dense_rows(self, messages: Sequence[Message]) -> list[np.ndarray | None]:
        """Each message's dense sequence features (one row per token), or None."""
        none: list[np.ndarray | None] = [None] * len(messages)
        if not self.window.uses_dense or not messages:
            return none
        origins = self._dense_origins(messages)
        if not origins:
            return none
        try:
            matrix, offsets = collect_features(messages, SEQUENCE, sparse=False, origins=origins)
        except ValueError as error:
            if len(messages) == 1:
                logger.warning("%s: the dense features are not used: %s", self.unique_name, error)
                return none
            # Messages from different batches: gather them one by one.
            rows = []
            for message in messages:
                rows.extend(self._dense_rows([message]))
            return rows
        if matrix is None:
            return none
        result: list[np.ndarray | None] = []
        for index, message in enumerate(messages):
            block = matrix[offsets[index] : offsets[index + 1]]
            count = len(message.tokens or [])
            if block.shape[0] != count:
                if "rows" not in self._warned_dense:
                    logger.warning(
                        "%s: %d rows of dense features for the %d tokens of %r; the message's "
                        "dense features are not used",
                        self.unique_name,
                        block.shape[0],
                        count,
                        message.text,
                    )
                    self._warned_dense.add("rows")
                result.append(None)
            else:
                result.append(np.asarray(block, dtype=np.float64))
        return result

    def _dense_origins(self, messages: Sequence[Message]) -> list[str]:
        origins = feature_origins(messages, SEQUENCE, sparse=False)
        wanted = self.config["featurizers"]
        if not wanted:
            return origins
        chosen = [o for o in origins if o in wanted or o.split("_", 1)[-1] in wanted]
        if not chosen and "featurizers" not in self._warned_dense:
            logger.warning(
                "%s: none of the featurizers %s gave dense features (found: %s)",
                self.unique_name,
                wanted,
                origins or "none",
            )
            self._warned_dense.add("featurizers")
        return chosen

    def sequence_features(self, tokens: Sequence[Token], dense: np.ndarray | None = None) -> list[dict[str, Any]]:
        """The crfsuite feature dicts of one message's tokens (without entity tags)."""
        count = len(tokens)
        statics = [self._static(token.text) for token in tokens]
        positions = self.window.positions
        dense_items: list[_Items] | None = None
        if dense is not None:
            dense_items = []
            for row in dense:
                columns = np.flatnonzero(row)
                dense_items.append(tuple(zip(columns.tolist(), row[columns].tolist())))
        sequence = []
        for i in range(count):
            features: dict[str, Any] = {}
            for position, (offset, prefix, _, dynamic) in enumerate(positions):
                j = i + offset
                if j >= count:
                    features["EOS"] = True
                    continue
                if j < 0:
                    features["BOS"] = True
                    continue
                features.update(statics[j][position])
                if dynamic["pos"] or dynamic["pos2"]:
                    tag = tokens[j].data.get(POS_KEY)
                    if tag is not None:
                        if dynamic["pos"]:
                            features[f"{prefix}:pos"] = str(tag)
                        if dynamic["pos2"]:
                            features[f"{prefix}:pos2"] = str(tag)[:2]
                if dynamic["pattern"]:
                    patterns = tokens[j].data.get(PATTERN_KEY)
                    if patterns:
                        for pattern_name, matched in patterns.items():
                            if matched:
                                features[f"{prefix}:pattern:{pattern_name}"] = True
                if dynamic["text_dense_features"] and dense_items is not None:
                    for column, value in dense_items[j]:
                        features[f"{prefix}:text_dense_features:{column}"] = value
            sequence.append(features)
        return sequence

    def _with_entity_tags(self, sequence: list[dict[str, Any]], tags: Sequence[str]) -> list[dict[str, Any]]:
        """Copies of ``sequence``'s dicts with the entity tags of the window (role/group CRFs)."""
        count = len(sequence)
        result = []
        for i, features in enumerate(sequence):
            features = dict(features)
            for offset, key in self.window.entity_keys:
                j = i + offset
                if 0 <= j < count:
                    features[key] = tags[j]
            result.append(features)
        return result

    # --- training ----------------------------------------------------------------------------

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Train the entity CRF (and role and group CRFs when the data has roles/groups)."""
        if self.finetune_mode and self.taggers:
            logger.info("%s: finetuning trains the CRFs again on the full data", self.unique_name)
        self.taggers = {}
        self._static_cache = {}
        examples = [m for m in training_data.training_examples if m.tokens]
        gold = [self._trainable_entities(m) for m in examples]
        self.comma_entities = sorted(
            {e.entity for m, entities in zip(examples, gold) for e in entities if "," in m.text[e.start : e.end]}
        )
        self.split_entities = bilou.split_entities_config(
            self.config["split_entities_by_comma"], self.comma_entities
        )
        tag_names = [
            name
            for name in (ENTITY, ROLE, GROUP)
            if any(getattr(entity, name) for entities in gold for entity in entities)
        ]
        if ENTITY not in tag_names:
            logger.info(
                "%s: the training data has no entity annotations; it will not extract entities",
                self.unique_name,
            )
            return
        self._warn_misaligned(examples, gold)

        dense = self._dense_rows(examples)
        sequences = [self.sequence_features(m.tokens or [], rows) for m, rows in zip(examples, dense)]
        labels = {
            name: [
                bilou.tags_from_entities(m.tokens or [], entities, name, bilou=self.bilou_flag)
                for m, entities in zip(examples, gold)
            ]
            for name in tag_names
        }
        for name in tag_names:
            if name == ENTITY:
                inputs = sequences
            else:
                inputs = [self._with_entity_tags(s, tags) for s, tags in zip(sequences, labels[ENTITY])]
            # crfsuite trains; its model file is read by our own reader, and only the weights are kept.
            self.taggers[name] = LinearChainCRF.from_crfsuite(read_crfsuite_model(self._fit(inputs, labels[name])))
            logger.info(
                "%s: trained the %s CRF on %d examples (%d labels)",
                self.unique_name,
                name,
                len(inputs),
                len(self.taggers[name].labels),
            )

    def _trainable_entities(self, message: Message) -> list[Entity]:
        """The message's annotations for this extractor (not those made for another one)."""
        name = self.component_name()
        return [e for e in message.entities if not e.extractor or e.extractor == name]

    def _warn_misaligned(self, examples: Sequence[Message], gold: Sequence[list[Entity]]) -> None:
        """Warn about annotations that do not match token boundaries, except those the tokenizer
        has reported already (:data:`~intently.plugins.tokenizers.tokenizer.UNALIGNED_REPORTED`)."""
        count = reported = 0
        for message, entities in zip(examples, gold):
            misaligned = bilou.misaligned_entities(message.tokens or [], entities)
            if not misaligned:
                continue
            if message.data.get(UNALIGNED_REPORTED):
                reported += 1
                continue
            count += 1
            if count <= MAX_ALIGNMENT_WARNINGS:
                entity = misaligned[0]
                where = f" ({message.source})" if message.source else ""
                logger.warning(
                    "%s: the entity %r (%d-%d) in %r%s does not start and end at token "
                    "boundaries (tokens: %s); %s. Common causes: the annotation includes "
                    "a trailing space or punctuation, or the tokenizer does not split "
                    "words as expected",
                    self.unique_name,
                    message.text[entity.start : entity.end],
                    entity.start,
                    entity.end,
                    message.text,
                    where,
                    [t.text for t in message.tokens or []],
                    "it is left out of training"
                    if self.bilou_flag
                    else "it is learnt for the tokens it overlaps",
                )
        if count > MAX_ALIGNMENT_WARNINGS:
            logger.warning(
                "%s: %d training examples in all have entities that do not match token boundaries",
                self.unique_name,
                count,
            )
        if reported:
            logger.info(
                "%s: %d training examples have entities that do not match token boundaries, as the "
                "tokenizer reported; %s",
                self.unique_name,
                reported,
                "those entities are left out of training" if self.bilou_flag
                else "they are learnt for the tokens they overlap",
            )

    def _fit(self, sequences: Sequence[list[dict[str, Any]]], labels: Sequence[list[str]]) -> bytes:
        """Train one CRF (L-BFGS) and return its crfsuite model file's bytes."""
        try:
            import pycrfsuite
        except ImportError as error:  # pragma: no cover - a dependency of intently
            from intently.errors import MissingDependencyError

            raise MissingDependencyError(
                "CRFEntityExtractor needs sklearn-crfsuite", hint="pip install sklearn-crfsuite"
            ) from error
        bar = ProgressBar(int(self.config["max_iterations"]), f"{self.unique_name} (CRF)")

        class _Trainer(pycrfsuite.Trainer):
            # crfsuite reports progress only with verbose=True, and then its
            # default callbacks print: keep the iteration callback, drop the rest.
            def on_iteration(self, log: str, info: dict[str, Any]) -> None:
                bar.update(loss=f"{info.get('loss', float('nan')):.1f}")

            def _quiet(self, *args: Any) -> None:
                return None

            on_start = on_featgen_progress = on_featgen_end = on_prepared = _quiet
            on_prepare_error = on_optimization_end = on_end = _quiet

        trainer = _Trainer(algorithm="lbfgs", verbose=True)
        trainer.set_params(
            {
                "c1": float(self.config["L1_c"]),
                "c2": float(self.config["L2_c"]),
                "max_iterations": int(self.config["max_iterations"]),
                "feature.possible_transitions": True,
            }
        )
        for sequence, tags in zip(sequences, labels):
            if sequence:
                trainer.append(sequence, tags)
        with tempfile.TemporaryDirectory(prefix="intently-crf-") as folder:
            path = Path(folder) / f"model{MODEL_SUFFIX}"
            with bar:
                trainer.train(str(path))
            return path.read_bytes()

    # --- parsing ------------------------------------------------------------------------------

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Append the extracted entities to every message's ``entities``."""
        if not messages:
            return
        if ENTITY not in self.taggers:
            if not self._warned_untrained:
                logger.debug("%s has no trained model (no entities in the training data)", self.unique_name)
                self._warned_untrained = True
            return
        dense = self._dense_rows(messages)
        tokenized = [(message, rows) for message, rows in zip(messages, dense) if message.tokens]
        for first in range(0, len(tokenized), PARSE_CHUNK):
            chunk = tokenized[first : first + PARSE_CHUNK]
            found = self._extract_all([m for m, _ in chunk], [rows for _, rows in chunk])
            for (message, _), entities in zip(chunk, found):
                message.entities.extend(entities)

    def extract(self, message: Message, dense: np.ndarray | None = None) -> list[Entity]:
        """The entities of one tokenized message (``dense``: its dense token features)."""
        if not message.tokens or ENTITY not in self.taggers:
            return []
        return self._extract_all([message], [dense])[0]

    def _extract_all(self, messages: Sequence[Message], dense: Sequence[np.ndarray | None]) -> list[list[Entity]]:
        """The entities of tokenized messages, their CRFs decoded for all of them at once."""
        sequences = [self.sequence_features(m.tokens or [], rows) for m, rows in zip(messages, dense)]
        tags: list[dict[str, list[str]]] = [{} for _ in messages]
        confidences: list[dict[str, list[float]]] = [{} for _ in messages]
        raw_entity_tags: list[list[str]] = []
        for name, crf in self.taggers.items():
            if name == ENTITY:
                inputs = sequences
            else:
                inputs = [self._with_entity_tags(s, t) for s, t in zip(sequences, raw_entity_tags)]
            # Small products (a message's labels x labels): BLAS threads only spin (see blas_threads).
            with one_blas_thread():
                predictions = crf.tag(inputs, bilou_flag=self.bilou_flag)
            if name == ENTITY:
                raw_entity_tags = [predicted for predicted, _ in predictions]
            for index, (predicted, scores) in enumerate(predictions):
                if self.bilou_flag:
                    predicted, scores = bilou.ensure_consistent_bilou_tagging(predicted, scores)
                tags[index][name] = predicted
                confidences[index][name] = scores
        return [
            bilou.entities_from_tags(
                message.text,
                message.tokens or [],
                tags[index],
                confidences[index],
                self.split_entities,
                bilou=self.bilou_flag,
                extractor=self.component_name(),
            )
            for index, message in enumerate(messages)
        ]

    # --- persistence ----------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Write the CRFs: labels and attributes as JSON, weights as one ``.npz`` (no pickle)."""
        if not self.taggers:
            return {"format": FORMAT_VERSION, "trained": False}
        model_dir = Path(model_dir)
        state = save_json_state(
            model_dir,
            f"{file_name}.crf.json",
            {"taggers": [{"name": name, **crf.spec()} for name, crf in self.taggers.items()]},
            FORMAT_VERSION,
        )
        arrays: dict[str, np.ndarray] = {}
        for name, crf in self.taggers.items():
            arrays.update(crf.arrays(name))
        weights = f"{file_name}.crf.npz"
        np.savez(model_dir / weights, **arrays)
        return {
            "format": FORMAT_VERSION,
            "trained": True,
            "state": state,
            "weights": weights,
            "comma_entities": list(self.comma_entities),
        }

    @classmethod
    def load(
        cls,
        meta: Mapping[str, Any],
        model_dir: Path,
        *,
        finetune: bool = False,
        **context: Any,
    ) -> CRFEntityExtractor:
        """Read the persisted CRFs, checking every array against the JSON (no pickle, no crfsuite).

        Models written before format 2 (crfsuite model files) are converted by
        :mod:`.crfsuite_reader`, a bounds-checked reader that never hands the
        bytes to crfsuite.
        """
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        state = meta.get("meta") or {}
        if not isinstance(state, Mapping) or not state.get("trained"):
            return instance
        model_dir = Path(model_dir)
        with reading_state(instance, "its model files"):
            if state.get("format") == FORMAT_VERSION:
                instance.taggers = _load_crfs(model_dir, state)
            elif state.get("format") == CRFSUITE_FORMAT:
                instance.taggers = _convert_crfsuite_files(model_dir, state)
                logger.info("%s: converted its crfsuite model files (written by an older intently)",
                            instance.unique_name)
            else:
                raise ValueError(f"unknown format {state.get('format')!r} (expected {FORMAT_VERSION})")
            if ENTITY not in instance.taggers:
                raise ValueError("no entity model")
            comma_entities = state.get("comma_entities", [])
            if not isinstance(comma_entities, list):
                raise ValueError("comma_entities is not a list")
            instance.comma_entities = [str(label) for label in comma_entities]
            instance.split_entities = bilou.split_entities_config(
                instance.config["split_entities_by_comma"], instance.comma_entities
            )
        return instance

    @property
    def labels(self) -> dict[str, list[str]]:
        """The entity types, roles and groups the CRFs can predict."""
        result: dict[str, list[str]] = {}
        for name, tagger in self.taggers.items():
            result[name] = sorted(
                {bilou.tag_without_prefix(label) for label in tagger.labels} - {NO_ENTITY_TAG}
            )
        return result


def _load_crfs(model_dir: Path, state: Mapping[str, Any]) -> dict[str, LinearChainCRF]:
    """The CRFs of a format-2 model: the JSON state, then exactly the arrays it implies."""
    stored = load_json_state(model_dir, state.get("state"), FORMAT_VERSION)
    entries = stored.get("taggers")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ValueError("taggers is not a list of objects")
    names = [entry.get("name") for entry in entries]
    if len(set(names)) != len(names) or not set(names) <= {ENTITY, ROLE, GROUP}:
        raise ValueError(f"unknown or repeated CRF names {names!r}")
    expected: dict[str, Any] = {}
    for entry in entries:
        expected.update(LinearChainCRF.expected_arrays(entry["name"], entry))
    arrays = load_expected_arrays(model_dir, state.get("weights"), expected)
    return {entry["name"]: LinearChainCRF.from_stored(entry["name"], entry, arrays) for entry in entries}


def _convert_crfsuite_files(model_dir: Path, state: Mapping[str, Any]) -> dict[str, LinearChainCRF]:
    """The CRFs of a format-1 model (crfsuite files), read by the pure-Python reader."""
    entries = state.get("taggers")
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ValueError("taggers is not a list of objects")
    taggers: dict[str, LinearChainCRF] = {}
    for entry in entries:
        name, file = entry.get("name"), entry.get("file")
        if name not in (ENTITY, ROLE, GROUP) or name in taggers:
            raise ValueError(f"unknown or repeated CRF {name!r}")
        if not isinstance(file, str) or not file or Path(file).name != file or file in (".", ".."):
            raise ValueError(f"file name {file!r} is not a plain name")
        crf = LinearChainCRF.from_crfsuite(read_crfsuite_model((model_dir / file).read_bytes()))
        if list(crf.labels) != entry.get("labels"):
            raise ValueError(f"the {name} model's labels differ from the metadata")
        taggers[name] = crf
    return taggers
