"""What a train node added to the training data, as a declared JSON + array format.

Components annotate the training examples in place: a tokenizer sets
``message.tokens``, a featurizer attaches feature blocks
(:mod:`intently.features`) and may write ``token.data``, some write
``message.data`` keys. A node restored from the cache must hand the nodes
after it exactly the annotations it would have made, so the cache stores
them beside the component's persisted state:

* :func:`snapshot` records, before the node runs, what each example carries;
* :func:`capture` compares the examples after the run with the snapshot and
  returns a :class:`TrainingDataDelta` (the tokens, ``message.data`` keys and
  entities that changed, and the feature blocks that were attached), or
  raises :class:`NotCacheable` when the change cannot be written as JSON and
  arrays (a spaCy ``Doc`` in ``message.data``, a changed text or label, ...);
* :meth:`TrainingDataDelta.save` writes ``delta.json`` (tokens, data,
  entities, which examples each block covers) and ``delta.npz`` (each block's
  matrix and row offsets; CSR matrices as their three arrays); :func:`load_delta`
  reads them back through :func:`intently.persistence.load_arrays` and
  :func:`intently.limits.loads_json` (never unpickled, limits applied);
* :meth:`TrainingDataDelta.apply` makes the same changes to the examples.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import scipy.sparse

from intently.features import SENTENCE, SEQUENCE, attach_features
from intently.message import Entity, Message, Token

#: Bumped when the files' layout changes; entries of another format are misses.
DELTA_FORMAT = 1
DELTA_JSON, DELTA_ARRAYS = "delta.json", "delta.npz"


class NotCacheable(Exception):
    """The node changed the training data in a way the delta format cannot hold."""


def _json(value: Any) -> str | None:
    """``value`` as canonical JSON, or None when it is not plain JSON data."""
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return None


def _tokens_state(tokens: list[Token] | None) -> Any:
    if tokens is None:
        return None
    return tuple((t.text, t.start, t.end, t.lemma, _json(t.data) if t.data else "") for t in tokens)


def _entities_state(entities: list[Entity]) -> str | None:
    return _json([_entity_dict(e) for e in entities])


def _entity_dict(entity: Entity) -> dict[str, Any]:
    return {
        "start": entity.start, "end": entity.end, "value": entity.value, "entity": entity.entity,
        "role": entity.role, "group": entity.group, "confidence": entity.confidence,
        "extractor": entity.extractor, "processors": list(entity.processors),
        "additional_info": dict(entity.additional_info),
    }


@attrs.define
class _ExampleState:
    message: Message
    text: str
    labels: tuple[Any, ...]
    tokens_list: Any
    tokens: Any
    refs: tuple[tuple[int, str, str], ...]
    data: dict[str, tuple[int, str | None]]
    entities: str | None


@attrs.define
class Snapshot:
    """What every training example carried before a node ran (see :func:`snapshot`)."""

    examples: list[_ExampleState]


def _state(message: Message) -> _ExampleState:
    return _ExampleState(
        message=message,
        text=message.text,
        labels=(message.intent, message.intent_response_key, _json(message.metadata)),
        tokens_list=message.tokens,
        tokens=_tokens_state(message.tokens),
        refs=tuple((id(ref.block), ref.block.origin, ref.block.kind) for ref in message.features),
        data={key: (id(value), _json(value)) for key, value in message.data.items()},
        entities=_entities_state(message.entities),
    )


def snapshot(examples: Sequence[Message]) -> Snapshot:
    """Record the annotations of ``examples`` before a node runs."""
    return Snapshot([_state(message) for message in examples])


@attrs.define
class BlockDelta:
    """One feature block a node attached: which examples it covers, in its row order."""

    origin: str
    kind: str
    examples: list[int]
    matrix: scipy.sparse.csr_matrix | np.ndarray
    offsets: np.ndarray


@attrs.define
class TrainingDataDelta:
    """The annotations one node added to the training examples (indices into ``training_examples``)."""

    n_examples: int
    tokens: dict[int, list[Token] | None] = attrs.field(factory=dict)
    data_set: dict[int, dict[str, Any]] = attrs.field(factory=dict)
    data_removed: dict[int, list[str]] = attrs.field(factory=dict)
    entities: dict[int, list[dict[str, Any]]] = attrs.field(factory=dict)
    blocks: list[BlockDelta] = attrs.field(factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.tokens or self.data_set or self.data_removed or self.entities or self.blocks)

    def summary(self) -> str:
        """A few words on what the delta holds (for the log)."""
        parts = []
        if self.tokens:
            parts.append(f"tokens of {len(self.tokens)} examples")
        if self.blocks:
            parts.append(f"{len(self.blocks)} feature blocks")
        if self.data_set or self.data_removed:
            parts.append(f"data of {len(set(self.data_set) | set(self.data_removed))} examples")
        if self.entities:
            parts.append(f"entities of {len(self.entities)} examples")
        return ", ".join(parts) or "nothing"

    # --- applying -----------------------------------------------------------------------

    def apply(self, examples: Sequence[Message]) -> None:
        """Make the node's changes to ``examples`` (the same training data, in the same order).

        The examples get this delta's own token and value objects: apply a
        delta read by :func:`load_delta` once.
        """
        if len(examples) != self.n_examples:
            raise ValueError(f"the delta is for {self.n_examples} examples, the data has {len(examples)}")
        for index, tokens in self.tokens.items():
            examples[index].tokens = None if tokens is None else list(tokens)
        for index, removed in self.data_removed.items():
            for key in removed:
                examples[index].data.pop(key, None)
        for index, values in self.data_set.items():
            examples[index].data.update(values)
        for index, entities in self.entities.items():
            examples[index].entities = [_entity_from(e) for e in entities]
        for block in self.blocks:
            attach_features([examples[i] for i in block.examples], block.origin, block.kind,  # type: ignore[arg-type]
                            block.matrix, block.offsets)

    # --- files --------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write ``delta.json`` and ``delta.npz`` into ``folder``."""
        from intently.persistence import save_arrays

        arrays: dict[str, np.ndarray] = {}
        blocks = []
        for number, block in enumerate(self.blocks):
            key = f"b{number}"
            sparse = scipy.sparse.issparse(block.matrix)
            if sparse:
                matrix = block.matrix
                arrays[f"{key}_data"] = matrix.data
                arrays[f"{key}_indices"] = matrix.indices
                arrays[f"{key}_indptr"] = matrix.indptr
            else:
                arrays[f"{key}_matrix"] = np.asarray(block.matrix)
            arrays[f"{key}_offsets"] = np.asarray(block.offsets, dtype=np.int64)
            blocks.append({
                "origin": block.origin, "kind": block.kind, "sparse": sparse, "examples": block.examples,
                "shape": [int(n) for n in block.matrix.shape],
            })
        state = {
            "format": DELTA_FORMAT,
            "n_examples": self.n_examples,
            "tokens": {str(i): None if t is None else [_token_list(x) for x in t] for i, t in self.tokens.items()},
            "data_set": {str(i): v for i, v in self.data_set.items()},
            "data_removed": {str(i): v for i, v in self.data_removed.items()},
            "entities": {str(i): v for i, v in self.entities.items()},
            "blocks": blocks,
        }
        (folder / DELTA_JSON).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        save_arrays(folder, DELTA_ARRAYS, arrays)


def _token_list(token: Token) -> list[Any]:
    return [token.text, token.start, token.end, token.lemma, token.data]


def _entity_from(raw: dict[str, Any]) -> Entity:
    return Entity(
        start=raw["start"], end=raw["end"], value=raw["value"], entity=raw["entity"], role=raw["role"],
        group=raw["group"], confidence=raw["confidence"], extractor=raw["extractor"],
        processors=list(raw["processors"]), additional_info=dict(raw["additional_info"]),
    )


def capture(before: Snapshot, examples: Sequence[Message]) -> TrainingDataDelta:
    """What changed on ``examples`` since ``before`` (see the module docstring).

    Raises:
        NotCacheable: a change the delta format cannot hold.
    """
    if len(examples) != len(before.examples) or any(
        state.message is not message for state, message in zip(before.examples, examples)
    ):
        raise NotCacheable("it changed the list of training examples")
    delta = TrainingDataDelta(len(examples))
    # New blocks in the order they first appear on the examples: the order they were attached in.
    new_blocks: dict[int, Any] = {}
    for index, (state, message) in enumerate(zip(before.examples, examples)):
        if message.text != state.text or (message.intent, message.intent_response_key, _json(message.metadata)) != state.labels:
            raise NotCacheable("it changed an example's text, labels or metadata")
        if message.tokens is not state.tokens_list or _tokens_state(message.tokens) != state.tokens:
            tokens = message.tokens
            if tokens is not None and any(t.data and _json(t.data) is None for t in tokens):
                raise NotCacheable("it set token data that is not JSON")
            delta.tokens[index] = None if tokens is None else list(tokens)
        data = message.data
        changed = {}
        for key, value in data.items():
            old = state.data.get(key)
            if old is not None and old[0] == id(value) and (old[1] is None or old[1] == _json(value)):
                continue
            encoded = _json(value)
            if encoded is None:
                raise NotCacheable(f"it set message.data[{key!r}] to a {type(value).__name__}, which is not JSON")
            if old is not None and old[1] == encoded:
                continue
            changed[key] = json.loads(encoded)
        if changed:
            delta.data_set[index] = changed
        removed = [key for key in state.data if key not in data]
        if removed:
            delta.data_removed[index] = removed
        entities = _entities_state(message.entities)
        if entities != state.entities:
            if entities is None:
                raise NotCacheable("it set entity values that are not JSON")
            delta.entities[index] = json.loads(entities)
        old_refs = {ref_id for ref_id, _, _ in state.refs}
        kept = {(ref.origin, ref.kind) for ref in message.features}
        current = {id(ref.block) for ref in message.features}
        for ref in message.features:
            if id(ref.block) not in old_refs:
                new_blocks.setdefault(id(ref.block), ref.block)
        for ref_id, origin, kind in state.refs:
            # Dropped features are fine only when replaced by the same origin and kind.
            if ref_id not in current and (origin, kind) not in kept:
                raise NotCacheable("it removed feature blocks")
    if new_blocks:
        covered: dict[int, list[int | None]] = {}
        for index, message in enumerate(examples):
            for ref in message.features:
                if id(ref.block) in new_blocks:
                    rows = covered.setdefault(id(ref.block), [None] * ref.block.n_messages)
                    rows[ref.index] = index
        for block_id, block in new_blocks.items():
            rows = covered[block_id]
            if any(row is None for row in rows) or block.kind not in (SEQUENCE, SENTENCE):
                raise NotCacheable(f"a feature block of {block.origin} covers messages that are not training examples")
            matrix = block.matrix
            if scipy.sparse.issparse(matrix):
                matrix = matrix.tocsr()
            delta.blocks.append(BlockDelta(block.origin, block.kind, rows, matrix, np.asarray(block.offsets)))  # type: ignore[arg-type]
    return delta


def load_delta(folder: Path) -> TrainingDataDelta:
    """Read a delta written by :meth:`TrainingDataDelta.save` (archive limits apply; nothing unpickled).

    Raises:
        ValueError, KeyError, TypeError, OSError: a damaged or foreign delta.
    """
    from intently.limits import loads_json
    from intently.persistence import load_arrays

    state = loads_json((folder / DELTA_JSON).read_text(encoding="utf-8"), DELTA_JSON)
    if not isinstance(state, dict) or state.get("format") != DELTA_FORMAT:
        raise ValueError(f"{DELTA_JSON} is not a delta of format {DELTA_FORMAT}")
    n = int(state["n_examples"])

    def index(key: str) -> int:
        value = int(key)
        if not 0 <= value < n:
            raise ValueError(f"example index {value} out of range")
        return value

    arrays = load_arrays(folder, DELTA_ARRAYS)
    delta = TrainingDataDelta(n)
    for key, tokens in dict(state["tokens"]).items():
        delta.tokens[index(key)] = None if tokens is None else [
            Token(str(t[0]), int(t[1]), int(t[2]), None if t[3] is None else str(t[3]), dict(t[4])) for t in tokens
        ]
    delta.data_set = {index(k): dict(v) for k, v in dict(state["data_set"]).items()}
    delta.data_removed = {index(k): [str(x) for x in v] for k, v in dict(state["data_removed"]).items()}
    delta.entities = {index(k): [dict(e) for e in v] for k, v in dict(state["entities"]).items()}
    for e in (e for v in delta.entities.values() for e in v):
        _entity_from(e)  # every key present
    for number, raw in enumerate(state["blocks"]):
        key = f"b{number}"
        examples = [index(str(i)) for i in raw["examples"]]
        shape = tuple(int(x) for x in raw["shape"])
        offsets = arrays[f"{key}_offsets"]
        if raw["sparse"]:
            matrix = scipy.sparse.csr_matrix(
                (arrays[f"{key}_data"], arrays[f"{key}_indices"], arrays[f"{key}_indptr"]), shape=shape
            )
            matrix.check_format(full_check=True)
        else:
            matrix = arrays[f"{key}_matrix"]
            if matrix.ndim != 2 or matrix.shape != shape:
                raise ValueError(f"block {number}: matrix of shape {matrix.shape}, expected {shape}")
        if (offsets.ndim != 1 or len(offsets) != len(examples) + 1 or offsets[0] != 0
                or offsets[-1] != shape[0] or np.any(np.diff(offsets) < 0)):
            raise ValueError(f"block {number}: offsets do not match its examples and rows")
        kind = raw["kind"]
        if kind not in (SEQUENCE, SENTENCE):
            raise ValueError(f"block {number}: unknown kind {kind!r}")
        delta.blocks.append(BlockDelta(str(raw["origin"]), kind, examples, matrix, offsets))
    return delta
