"""BILOU tagging: entity spans to token tags and back, with Rasa 3.x's rules.

An entity extractor that labels tokens (a CRF, DIET) works on one tag per
token. With the BILOU scheme a tag is a prefix and a label: ``B-`` (first
token of a multi-token entity), ``I-`` (inside), ``L-`` (last), ``U-`` (a
single-token entity), and ``O`` for tokens outside any entity. Without it
(``BILOU_flag: false``) a tag is the bare label, so two adjacent entities of
the same type cannot be told apart.

Entity types, roles and groups are tagged separately (one tag sequence each,
``tag_name`` ``"entity"``, ``"role"`` or ``"group"``); a token gets the role
tag of the entity it belongs to, ``O`` when that entity has no role.

Spans -> tags (training):

* BILOU: an entity whose start is not a token's start or whose end is not a
  token's end (``"[New Yor]k"``, or an annotation that includes a trailing
  space or punctuation the tokenizer drops) cannot be tagged and is left out,
  as in Rasa; :func:`misaligned_entities` finds them so the caller can warn.
* plain tags: every token gets the label of the entity it overlaps most
  (Rasa's ``determine_token_labels``), so a misaligned entity still tags the
  tokens it touches.

Tags -> spans (parsing), :func:`entities_from_tags`: Rasa's
``convert_predictions_into_entities``. Offsets come from the tokens, the value
is the text between them. Tokens of the same entity separated by at most one
character belong to one entity; separated by up to 3 characters that are all
``.``, ``,``, ``;`` or spaces, they also do unless ``split_entities_by_comma``
is on for that entity type (the default), so ``"avocado, tofu"`` gives two
entities and ``"Schönhauser Allee 175, 10119 Berlin"`` one when splitting is
off for ``address``. With BILOU tags, the tags say where an entity ends: the
tokens of one ``B- I- ... L-`` sequence form one entity whatever separates
them, except that a comma splits it when splitting is on for its type. A
change of entity type, role or group starts a new entity. The confidence of
an entity is the lowest confidence of its tokens. For entity tags alone that
form a valid BILOU sequence (what a decoder constrained to the scheme gives),
:func:`entities_from_valid_bilou` gives the same entities looking only at the
tokens inside entities.

Where this differs from Rasa, on purpose:

* With BILOU tags Rasa also applies its character-gap rule inside a tagged
  ``B- ... L-`` sequence, so an entity predicted as one span is cut at any
  two characters between tokens: ``"Oct. 16"``, ``"James D. Conrey"``, ``"Mac
  'N Cheese"`` come out in pieces even when the model tagged them whole (and
  were annotated whole). Here the tags decide and only a comma splits (when
  splitting is on); the gap rule is kept for plain tags, where adjacent
  entities of one type cannot be told apart otherwise.
* :func:`split_entities_config` does not split, by default, the entity types
  that the training data annotates with a comma inside (the extractor passes
  them): Rasa's documented intent (lists such as ``"avocado, tofu"`` are
  split; an address annotated with its comma is not) without a per-type
  setting. An explicit per-type setting is followed as it is.

* Rasa's check of the characters between two tokens never fails (it tests
  ``all()`` over the characters that pass the filter, which are all truthy);
  here the characters really must be ``.``, ``,``, ``;`` or spaces.
* Rasa extends the previous entity when an ``I-``/``L-`` tag of *another*
  type follows a ``U-``/``L-`` tag (``U-city L-country`` became one ``city``
  entity); here a change of entity type always starts a new entity.
* With plain tags, labels are never read as BILOU prefixes, so an entity type
  named ``U-boat`` works.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from intently.params import Bool, DictOf, Either
from intently.message import Entity, Token

logger = logging.getLogger(__name__)

BEGINNING = "B-"
INSIDE = "I-"
LAST = "L-"
UNIT = "U-"
BILOU_PREFIXES = (BEGINNING, INSIDE, LAST, UNIT)
#: The tag of tokens outside any entity.
NO_ENTITY_TAG = "O"

#: The tag names: one tag sequence per entity attribute.
ENTITY = "entity"
ROLE = "role"
GROUP = "group"
TAG_NAMES = (ENTITY, ROLE, GROUP)

#: Keys of the confidences of roles and groups in the parse output (Rasa's).
CONFIDENCE_KEYS = {ROLE: "confidence_role", GROUP: "confidence_group"}

#: Characters that may separate two tokens of one entity when entities are not
#: split by comma (Rasa's SINGLE_ENTITY_ALLOWED_INTERLEAVING_CHARSET).
ALLOWED_INTERLEAVING = frozenset(".,; ")
#: The key of the default in a split-entities mapping (Rasa's name).
SPLIT_ENTITIES_BY_COMMA = "split_entities_by_comma"

Span = tuple[int, int, str]


# --- tags --------------------------------------------------------------------------


def bilou_prefix(tag: str) -> str | None:
    """The BILOU prefix of ``tag`` (``"B-"``...), or None for ``O`` and bare labels."""
    prefix = tag[:2]
    return prefix if prefix in BILOU_PREFIXES else None


def tag_without_prefix(tag: str) -> str:
    """``tag`` without its BILOU prefix (``"B-city"`` -> ``"city"``, ``"O"`` -> ``"O"``)."""
    return tag[2:] if tag[:2] in BILOU_PREFIXES else tag


def entity_spans(entities: Iterable[Entity], attribute: str = ENTITY) -> list[Span]:
    """``(start, end, label)`` of each entity that has a value for ``attribute``.

    ``attribute`` is ``"entity"``, ``"role"`` or ``"group"``; entities without a
    role (group) are left out of the role (group) spans.
    """
    spans = []
    for entity in entities:
        label = getattr(entity, attribute)
        if label:
            spans.append((entity.start, entity.end, str(label)))
    return spans


def misaligned_entities(tokens: Sequence[Token], entities: Iterable[Entity]) -> list[Entity]:
    """The entities whose start is not a token start or whose end is not a token end."""
    starts = {token.start for token in tokens}
    ends = {token.end for token in tokens}
    return [e for e in entities if e.start not in starts or e.end not in ends]


def bilou_tags(tokens: Sequence[Token], spans: Iterable[Span]) -> list[str]:
    """BILOU tags of ``tokens`` for ``spans``; spans not on token boundaries are skipped."""
    start_index = {token.start: i for i, token in enumerate(tokens)}
    end_index = {token.end: i for i, token in enumerate(tokens)}
    tags = [NO_ENTITY_TAG] * len(tokens)
    for start, end, label in spans:
        first = start_index.get(start)
        last = end_index.get(end)
        if first is None or last is None or last < first:
            continue
        if first == last:
            tags[first] = UNIT + label
            continue
        tags[first] = BEGINNING + label
        for i in range(first + 1, last):
            tags[i] = INSIDE + label
        tags[last] = LAST + label
    return tags


def plain_tags(tokens: Sequence[Token], spans: Sequence[Span]) -> list[str]:
    """Bare-label tags: each token gets the label of the span it overlaps most.

    A token that overlaps no span is ``O``; among equal overlaps the first span
    wins (Rasa's ``determine_token_labels``).
    """
    tags = []
    for token in tokens:
        best_label, best_overlap = NO_ENTITY_TAG, 0
        for start, end, label in spans:
            overlap = min(token.end, end) - max(token.start, start)
            if overlap > best_overlap:
                best_label, best_overlap = label, overlap
        tags.append(best_label)
    return tags


def tags_from_entities(
    tokens: Sequence[Token],
    entities: Iterable[Entity],
    attribute: str = ENTITY,
    *,
    bilou: bool = True,
) -> list[str]:
    """The tag of every token for ``attribute`` (``"entity"``, ``"role"``, ``"group"``).

    Role and group spans are the spans of the entities that carry them, so
    they have the same boundaries as the entities.
    """
    spans = entity_spans(entities, attribute)
    if not spans:
        return [NO_ENTITY_TAG] * len(tokens)
    return bilou_tags(tokens, spans) if bilou else plain_tags(tokens, spans)


# --- making predicted tags consistent ------------------------------------------------


def _find_bilou_end(start: int, tags: Sequence[str]) -> int:
    """Index of the last token of the entity that starts with the ``B-`` tag at ``start``.

    The entity ends at the first ``L-`` tag, or before the first tag that is
    neither ``I-`` nor ``L-`` (Rasa assumes the ``B-`` tag is right).
    """
    index = start + 1
    while index < len(tags):
        prefix = bilou_prefix(tags[index])
        if prefix == LAST:
            return index
        if prefix != INSIDE:
            return index - 1
        index += 1
    return index - 1


def _tag_to_use(labels: Sequence[str], confidences: Sequence[float]) -> tuple[str, float]:
    """The label of a span with mixed labels, and its score (Rasa's rule).

    For each label: the mean confidence of its tokens and the share of the
    span's tokens that have it, each rounded to 2 decimals; the score is their
    harmonic mean and the label with the highest score wins (the first on ties).
    """
    grouped: dict[str, list[float]] = defaultdict(list)
    for label, confidence in zip(labels, confidences):
        grouped[label].append(confidence)
    counts = Counter(labels)
    best_label, best_score = labels[0], -1.0
    for label, values in grouped.items():
        mean = round(sum(values) / len(values), 2)
        share = round(counts[label] / len(labels), 2)
        score = 2 * mean * share / (mean + share) if mean + share else 0.0
        if score > best_score:
            best_label, best_score = label, score
    return best_label, best_score


def ensure_consistent_bilou_tagging(
    tags: Sequence[str], confidences: Sequence[float]
) -> tuple[list[str], list[float]]:
    """Repair predicted BILOU tags (Rasa's ``ensure_consistent_bilou_tagging``).

    Every ``B-`` tag starts an entity that ends at the next ``L-`` tag or
    before the first tag that is not ``I-``/``L-``; its tags are rewritten to a
    proper ``B- I- ... L-`` (or ``U-`` for one token). When the tokens of such
    an entity carry different labels (``B-a I-b L-a``), the label is chosen by
    :func:`_tag_to_use` and the tokens whose label changed get its score
    (rounded to 2 decimals) as confidence. Returns new lists.
    """
    tags = list(tags)
    confidences = list(confidences)
    for index, tag in enumerate(tags):
        if bilou_prefix(tag) != BEGINNING:
            continue
        label = tag_without_prefix(tag)
        last = _find_bilou_end(index, tags)
        labels = [tag_without_prefix(t) for t in tags[index : last + 1]]
        if any(other != labels[0] for other in labels):
            label, score = _tag_to_use(labels, confidences[index : last + 1])
            logger.debug("mixed labels %s in one entity; using %r", tags[index : last + 1], label)
            for i in range(index, last + 1):
                if tag_without_prefix(tags[i]) != label:
                    confidences[i] = round(score, 2)
        if last == index:
            tags[index] = UNIT + label
        else:
            tags[index] = BEGINNING + label
            for i in range(index + 1, last):
                tags[i] = INSIDE + label
            tags[last] = LAST + label
    return tags, confidences


# --- tags -> entities -------------------------------------------------------------------


#: What ``split_entities_by_comma`` allows: true, false, or a mapping of entity types to true/false.
SPLIT_ENTITIES = Either(Bool(), DictOf(Bool()))
SPLIT_ENTITIES_DESCRIPTION = "split entities at commas: for all types, or per type ({address: false})"


def split_entities_config(
    value: bool | Mapping[str, bool], annotated_with_commas: Iterable[str] = ()
) -> dict[str, bool]:
    """Rasa's ``split_entities_by_comma`` setting as ``{entity_type: bool}``.

    ``True``/``False`` is the default of every entity type; a mapping such as
    ``{address: false}`` sets it per type, and its key
    ``split_entities_by_comma`` holds the default of the others (True when
    absent, as in Rasa). An entity type in ``annotated_with_commas`` (the
    training data annotates entities of that type with a comma inside, such
    as ``"Oct. 16, 2036"``) is not split by a default of True: the annotations
    say a comma belongs inside it. A per-type entry always wins.
    """
    if isinstance(value, bool):
        result = {SPLIT_ENTITIES_BY_COMMA: value}
    else:
        result = {str(key): bool(flag) for key, flag in value.items()}
        result.setdefault(SPLIT_ENTITIES_BY_COMMA, True)
    if result[SPLIT_ENTITIES_BY_COMMA]:
        for label in annotated_with_commas:
            result.setdefault(label, False)
    return result


def _same_entity(text: str, gap_start: int, token: Token, split: bool, tagged_span: bool) -> bool:
    """Whether ``token`` continues the entity whose last token ended at ``gap_start``.

    ``tagged_span``: the token's BILOU tag says it continues the entity (an
    ``I-``/``L-`` tag after the entity's ``B-``/``I-``); then only a comma
    between the tokens splits it, when ``split`` is on. Otherwise Rasa's rule
    on the characters between the tokens decides.
    """
    between = text[gap_start : token.start]
    if tagged_span:
        return not (split and "," in between)
    gap = token.start - gap_start
    if gap <= 1:
        return True
    if split or gap > 3:
        return False
    return all(char in ALLOWED_INTERLEAVING for char in between)


def entities_from_tags(
    text: str,
    tokens: Sequence[Token],
    tags: Mapping[str, Sequence[str]],
    confidences: Mapping[str, Sequence[float]] | None = None,
    split_entities: Mapping[str, bool] | None = None,
    *,
    bilou: bool = True,
    extractor: str | None = None,
) -> list[Entity]:
    """Entities from per-token tags (Rasa's ``convert_predictions_into_entities``).

    Args:
        text: the message text (values are slices of it).
        tokens: the message tokens, with offsets into ``text``.
        tags: one tag per token for ``"entity"`` and optionally ``"role"`` and
            ``"group"``.
        confidences: one confidence per token for each tag name (optional).
        split_entities: :func:`split_entities_config`'s mapping (default: split).
        bilou: whether the tags carry BILOU prefixes.
        extractor: the name set as every entity's ``extractor``.

    Returns:
        Entities in text order; ``confidence`` is the entity-type confidence,
        ``additional_info`` holds ``confidence_role``/``confidence_group``.
    """
    split_config = dict(split_entities) if split_entities is not None else {SPLIT_ENTITIES_BY_COMMA: True}
    split_default = split_config.get(SPLIT_ENTITIES_BY_COMMA, True)
    entity_tags = tags.get(ENTITY)
    if not entity_tags:
        return []
    role_tags = tags.get(ROLE)
    group_tags = tags.get(GROUP)

    entities: list[Entity] = []
    last_tag = NO_ENTITY_TAG
    last_role: str = NO_ENTITY_TAG
    last_group: str = NO_ENTITY_TAG
    last_end = -1
    for index, token in enumerate(tokens):
        tag = entity_tags[index]
        if tag == NO_ENTITY_TAG:
            last_tag = NO_ENTITY_TAG
            last_end = token.end
            continue
        role = tag_without_prefix(role_tags[index]) if role_tags is not None else NO_ENTITY_TAG
        group = tag_without_prefix(group_tags[index]) if group_tags is not None else NO_ENTITY_TAG
        prefix = bilou_prefix(tag) if bilou else None
        label = tag_without_prefix(tag) if bilou else tag
        previous_label = tag_without_prefix(last_tag) if bilou else last_tag
        if prefix is not None:
            starts = (last_tag != tag and prefix not in (LAST, INSIDE)) or (
                last_tag == NO_ENTITY_TAG or prefix == UNIT
            )
        else:
            starts = last_tag != tag
        starts = starts or label != previous_label or role != last_role or group != last_group
        last_tag = tag

        if not starts and entities and _same_entity(
            text, last_end, token, split_config.get(label, split_default), prefix in (INSIDE, LAST)
        ):
            entity = entities[-1]
            entity.end = token.end
            if confidences is not None:
                _lower_confidences(entity, confidences, index)
        else:
            entities.append(_new_entity(label, role, group, token, index, confidences, extractor))
        last_role, last_group, last_end = role, group, token.end

    for entity in entities:
        entity.value = text[entity.start : entity.end]
    return entities


class BilouTagSet:
    """Each tag id's BILOU prefix and label, looked up once for :func:`entities_from_valid_bilou`."""

    def __init__(self, tags: Sequence[str]) -> None:
        self.prefixes: list[str | None] = [bilou_prefix(tag) for tag in tags]
        self.labels: list[str] = [tag_without_prefix(tag) for tag in tags]


def entities_from_valid_bilou(
    text: str,
    tokens: Sequence[Token],
    tag_ids: Sequence[int],
    confidences: Sequence[float],
    tag_set: BilouTagSet,
    split_entities: Mapping[str, bool],
    extractor: str | None,
) -> list[Entity] | None:
    """Entities of one message's entity tags when they form a valid BILOU sequence, else None.

    A valid sequence (``O``, ``U-x``, ``B-x (I-x)* L-x``; what a decoder
    constrained to BILOU produces) gives exactly what
    :func:`ensure_consistent_bilou_tagging` then :func:`entities_from_tags`
    give for entity tags alone (no roles, no groups): ``U-x`` and ``B-x`` start
    an entity, ``I-x``/``L-x`` extend it unless a comma lies between the tokens
    and ``x`` is split by comma; the confidence is the lowest of its tokens'.
    Only the tokens inside entities are looked at. Returns None, for the
    caller to take the general path, at the first tag that breaks the scheme.
    """
    prefixes, labels = tag_set.prefixes, tag_set.labels
    split_default = split_entities.get(SPLIT_ENTITIES_BY_COMMA, True)
    entities: list[Entity] = []
    open_label: str | None = None  # the label of the B-x ... L-x span being read
    previous_end = -1
    for index, tag_id in enumerate(tag_ids):
        prefix = prefixes[tag_id]
        token = tokens[index]
        if prefix is None:  # O (or a bare label: not BILOU)
            if open_label is not None or labels[tag_id] != NO_ENTITY_TAG:
                return None
        elif prefix == UNIT or prefix == BEGINNING:
            if open_label is not None:
                return None
            label = labels[tag_id]
            entities.append(Entity(start=token.start, end=token.end, value=None, entity=label,
                                   confidence=float(confidences[index]), extractor=extractor))
            open_label = label if prefix == BEGINNING else None
        else:  # I-x or L-x: continues the open B-x span
            label = labels[tag_id]
            if open_label != label:
                return None
            if split_entities.get(label, split_default) and "," in text[previous_end : token.start]:
                entities.append(Entity(start=token.start, end=token.end, value=None, entity=label,
                                       confidence=float(confidences[index]), extractor=extractor))
            else:
                entity = entities[-1]
                entity.end = token.end
                entity.confidence = min(entity.confidence, float(confidences[index]))  # type: ignore[type-var]
            if prefix == LAST:
                open_label = None
        previous_end = token.end
    if open_label is not None:
        return None
    for entity in entities:
        entity.value = text[entity.start : entity.end]
    return entities


def _new_entity(
    label: str,
    role: str,
    group: str,
    token: Token,
    index: int,
    confidences: Mapping[str, Sequence[float]] | None,
    extractor: str | None,
) -> Entity:
    entity = Entity(start=token.start, end=token.end, value=None, entity=label, extractor=extractor)
    info: dict[str, Any] = entity.additional_info
    if confidences is not None and ENTITY in confidences:
        entity.confidence = float(confidences[ENTITY][index])
    for name, value in ((ROLE, role), (GROUP, group)):
        if value == NO_ENTITY_TAG:
            continue
        setattr(entity, name, value)
        if confidences is not None and name in confidences:
            info[CONFIDENCE_KEYS[name]] = float(confidences[name][index])
    return entity


def _lower_confidences(entity: Entity, confidences: Mapping[str, Sequence[float]], index: int) -> None:
    """An entity's confidences are the lowest of its tokens'."""
    if ENTITY in confidences and entity.confidence is not None:
        entity.confidence = min(entity.confidence, float(confidences[ENTITY][index]))
    for name, key in CONFIDENCE_KEYS.items():
        if key in entity.additional_info and name in confidences:
            entity.additional_info[key] = min(entity.additional_info[key], float(confidences[name][index]))
