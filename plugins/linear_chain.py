"""Linear-chain CRF decoding: every Viterbi variant, the BILOU constraints, forward-backward.

Shared by DIETClassifier's tag heads and CRFEntityExtractor. What is here:

* :func:`transition_constraints`: the penalties that forbid impossible BILOU
  sequences (DIET trains and decodes with them);
* :func:`viterbi`: the best tag paths of a padded batch (B x L x tags);
* :func:`viterbi_packed`: the same for many messages' token rows stacked
  without padding (parsing);
* :class:`TagDecoder`: one tag head's decoder, built once (learned
  transitions plus the constraints), choosing among the above and a
  one-message path with the fewest numpy calls; with BILOU tags its steps
  look only at the transitions BILOU allows (:class:`_BilouStep`);
* :func:`marginals_packed`: every token's marginal tag probabilities
  (forward-backward), CRFEntityExtractor's confidences.

:func:`viterbi` works on every message of the batch at every step, so most of
its cost is the fixed cost of its numpy calls. :func:`viterbi_packed` decodes
the tag scores of many messages at once: the messages are ordered longest
first, so the messages still running at step ``t`` are always the first
``active[t]`` of them: each step is a slice, and the scores are laid out
time-major (all messages' first tokens, then all second tokens, ...) so that
each step reads one contiguous block. The number of numpy calls is that of
the longest message, whatever the number of messages.

The packed result is exactly the padded decoder's (a test compares them):
the same steps on the same rows, only never on a finished message. With
``start``/``end`` zero it is also exactly crfsuite's: the same additions in
the same order, and ties go to the lowest tag index as there.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np

#: A Viterbi step: ``delta`` (rows x tags) -> the best score into every tag and its predecessor.
Step = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


#: The score of a forbidden tag transition: exp() of it is exactly 0 in float32.
FORBIDDEN = -1e4


def transition_constraints(tags: list[str], *, bilou: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Penalties ``(pairs T x T, start T, end T)`` that forbid impossible BILOU sequences (0 or :data:`FORBIDDEN`).

    After ``B-x`` or ``I-x`` only ``I-x`` or ``L-x`` may follow; after ``O``,
    ``L-`` or ``U-`` no ``I-``/``L-``; a message cannot start with ``I-``/``L-``
    nor end with ``B-``/``I-``. Training and decoding both use them, so the CRF
    spends nothing on learning the scheme and never predicts a broken entity.
    Without BILOU tags nothing is forbidden.
    """
    n = len(tags)
    pairs, start, end = np.zeros((n, n)), np.zeros(n), np.zeros(n)
    if not bilou or not n:
        return pairs, start, end
    prefixes = np.array([t[:2] if len(t) > 2 and t[1] == "-" and t[0] in "BILU" else "" for t in tags])
    labels = np.array([t[2:] if p else t for t, p in zip(tags, prefixes)])
    opens = np.isin(prefixes, ["B-", "I-"])
    continues = np.isin(prefixes, ["I-", "L-"])
    same = labels[:, None] == labels[None, :]
    allowed = np.where(opens[:, None], continues[None, :] & same, ~continues[None, :])
    pairs[~allowed] = FORBIDDEN
    start[continues] = FORBIDDEN
    end[opens] = FORBIDDEN
    return pairs, start, end


@attrs.frozen
class PackedLayout:
    """Where each token's row goes when message-major rows are laid out time-major.

    ``rows``: for every time-major row, its message-major row; ``starts[t]``:
    the first time-major row of step ``t``; ``active[t]``: how many messages
    have a token ``t`` (messages are taken longest first); ``lengths``: the
    messages' lengths in that order.
    """

    rows: np.ndarray
    starts: np.ndarray
    active: np.ndarray
    lengths: np.ndarray

    @classmethod
    def of(cls, lengths: np.ndarray) -> PackedLayout:
        lengths = np.asarray(lengths, dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
        longest = int(sorted_lengths[0]) if len(sorted_lengths) else 0
        # Messages with more than t tokens: lengths are sorted in descending order.
        active = np.searchsorted(-sorted_lengths, -np.arange(longest), side="left")
        message_starts = (np.cumsum(lengths) - lengths)[order]
        rows = (np.concatenate([message_starts[: active[t]] + t for t in range(longest)]) if longest
                else np.zeros(0, dtype=np.int64))
        starts = np.zeros(longest + 1, dtype=np.int64)
        np.cumsum(active, out=starts[1:])
        return cls(rows=rows, starts=starts, active=active, lengths=sorted_lengths)


def dense_step(transitions: np.ndarray) -> Step:
    """The Viterbi step over every (predecessor, tag) pair of ``transitions`` (from x to)."""
    to_from = np.ascontiguousarray(transitions.T)  # the maximum runs over the last, contiguous axis

    def step(delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        candidates = delta[:, None, :] + to_from[None]
        best = candidates.argmax(axis=2)
        return np.take_along_axis(candidates, best[:, :, None], axis=2)[:, :, 0], best

    return step


def viterbi(scores: np.ndarray, transitions: np.ndarray, lengths: np.ndarray,
            start: np.ndarray | None = None, end: np.ndarray | None = None,
            step: Step | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Best tag paths of a linear-chain CRF, vectorised over the batch.

    ``start``/``end``: scores added to the first/last tag of each message
    (:func:`transition_constraints`). ``step(delta)``, when given, returns the
    best score into every tag and its best predecessor (a faster equivalent
    of the dense ``delta + transitions`` maximum, see :class:`_BilouStep`). Returns, per message, the tag ids of its
    ``lengths[b]`` tokens and each tag's confidence: the softmax over tags of
    the best-path scores ending at that token (Rasa's CRF confidence).
    """
    batch, length, n_tags = scores.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    deltas = np.empty((batch, length, n_tags), dtype=scores.dtype)
    pointers = np.zeros((batch, length, n_tags), dtype=np.int64)
    delta = scores[:, 0, :] + (start if start is not None else 0.0)
    deltas[:, 0] = delta
    every = np.arange(batch)
    if step is None:
        step = dense_step(np.asarray(transitions))
    for t in range(1, length):
        new, best = step(delta)
        new += scores[:, t, :]
        finished = t >= lengths
        if finished.any():  # a message's scores stay those of its last token
            new[finished] = delta[finished]
        delta = new
        deltas[:, t] = delta
        pointers[:, t] = best
    # Backtrack all messages at once, each from its own last token.
    last = np.maximum(lengths - 1, 0)
    path = np.zeros((batch, length), dtype=np.int64)
    path[every, last] = np.argmax(delta + (end if end is not None else 0.0), axis=1)
    for t in range(length - 1, 0, -1):
        inside = t <= last
        previous = pointers[every, t, path[:, t]]
        path[:, t - 1] = np.where(inside, previous, path[:, t - 1])
    confidence = _path_confidence(deltas, path)
    paths = [path[b, : lengths[b]] for b in range(batch)]
    confidences = [confidence[b, : lengths[b]] for b in range(batch)]
    return paths, confidences


def viterbi_packed(scores: np.ndarray, lengths: np.ndarray, transitions: np.ndarray,
                   start: np.ndarray, end: np.ndarray, step: Step | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Best tag paths of messages whose token scores are stacked (tokens x tags, message-major).

    ``lengths``: tokens per message (message ``i`` owns the rows after the
    first ``sum(lengths[:i])``); ``start``/``end``: scores of the first and
    last tag; ``step``: as in :func:`viterbi` (default: the dense
    maximum over ``transitions``). Returns every token's tag and confidence
    (the softmax over tags of the best-path scores ending at that token), in
    the rows of ``scores``.
    """
    layout = PackedLayout.of(lengths)
    n_rows, n_tags = scores.shape
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=scores.dtype)
    if step is None:
        step = dense_step(np.asarray(transitions, dtype=scores.dtype))
    packed = scores[layout.rows]
    deltas = np.empty_like(packed)
    pointers = np.zeros(packed.shape, dtype=np.int16 if n_tags < 2**15 else np.int64)
    starts, active = layout.starts, layout.active
    delta = packed[: active[0]] + start
    deltas[: active[0]] = delta
    for t in range(1, len(active)):
        block = slice(starts[t], starts[t + 1])
        delta, best = step(delta[: active[t]])
        delta += packed[block]
        deltas[block] = delta
        pointers[block] = best
    # Backtrack every message from its own last token: message r (in layout order) ends at step
    # lengths[r] - 1, and until then its current tag stays the best last tag.
    with_tokens = layout.lengths > 0
    last_rows = starts[np.maximum(layout.lengths - 1, 0)] + np.arange(len(layout.lengths))
    current = np.zeros(len(layout.lengths), dtype=np.int64)
    current[with_tokens] = np.argmax(deltas[last_rows[with_tokens]] + end, axis=1)
    path = np.empty(n_rows, dtype=np.int64)
    for t in range(len(active) - 1, -1, -1):
        count = active[t]
        path[starts[t] : starts[t + 1]] = current[:count]
        if t:
            current[:count] = pointers[starts[t] + np.arange(count), current[:count]]
    confidence = _path_confidence(deltas, path)
    tags = np.empty(n_rows, dtype=np.int64)
    tags[layout.rows] = path
    confidences = np.empty(n_rows, dtype=confidence.dtype)
    confidences[layout.rows] = confidence
    return tags, confidences


def _path_confidence(deltas: np.ndarray, path: np.ndarray) -> np.ndarray:
    """Every token's confidence: the softmax over tags (the last axis) of its best-path scores
    ``deltas``, at the tag ``path`` chose (Rasa's CRF confidence). ``deltas`` is overwritten."""
    deltas -= deltas.max(axis=-1, keepdims=True)
    np.exp(deltas, out=deltas)
    if deltas.ndim == 2:
        chosen = deltas[np.arange(len(path)), path]
    else:
        chosen = np.take_along_axis(deltas, path[..., None], axis=-1)[..., 0]
    return chosen / deltas.sum(axis=-1)


#: Up to this many predecessors left in a BILOU Viterbi step, they are compared one by one.
FEW_PREDECESSORS = 8


class _BilouStep:
    """One Viterbi step that looks only at the transitions BILOU allows.

    ``O``, ``B-x`` and ``U-x`` can only follow ``O``, ``L-*`` or ``U-*``; ``I-x``
    and ``L-x`` only ``B-x`` or ``I-x``. With 38 entity types (153 tags) that is
    about a quarter of the dense step's work, and the result is the same
    because every other transition is forbidden anyway.
    """

    PREFIXES = ("B-", "I-", "L-", "U-")

    @classmethod
    def applies(cls, tags: list[str]) -> bool:
        labels = {t[2:] for t in tags if t[:2] in cls.PREFIXES}
        return "O" in tags and len(tags) == 1 + 4 * len(labels) and all(
            f"{p}{label}" in tags for label in labels for p in cls.PREFIXES)

    def __init__(self, tags: list[str], transitions: np.ndarray) -> None:
        index = {t: i for i, t in enumerate(tags)}
        labels = sorted({t[2:] for t in tags if t[:2] in self.PREFIXES})
        # In tag order, so that ties between predecessors go to the lower tag, as in the dense step.
        self.closed = np.sort([index["O"]] + [index[f"{p}{x}"] for p in ("L-", "U-") for x in labels])
        self.opened = np.array([index["O"]] + [index[f"{p}{x}"] for p in ("B-", "U-") for x in labels])
        self.inner_from = np.array([[index[f"B-{x}"], index[f"I-{x}"]] for x in labels], dtype=np.int64).reshape(-1, 2)
        self.inner_to = np.array([[index[f"I-{x}"], index[f"L-{x}"]] for x in labels], dtype=np.int64).reshape(-1, 2)
        #: (to, from), so that the maximum of a step runs over the last, contiguous axis.
        self.open_transitions = np.ascontiguousarray(transitions[np.ix_(self.closed, self.opened)].T)
        #: Per predecessor (column), its highest and lowest transition into the opening tags: the
        #: bounds that rule predecessors out without scoring them (see :meth:`_open_step`).
        self.open_highest = self.open_transitions.max(axis=0)
        self.open_transitions_by_predecessor = np.ascontiguousarray(self.open_transitions.T)
        self.open_lowest = self.open_transitions.min(axis=0)
        self.from_begin, self.from_inside = self.inner_from[:, 0], self.inner_from[:, 1]
        self.begin_transitions = np.ascontiguousarray(transitions[self.from_begin[:, None], self.inner_to])
        self.inside_transitions = np.ascontiguousarray(transitions[self.from_inside[:, None], self.inner_to])
        self.size = len(tags)
        #: Tag ids as a step's predecessors are stored: the smallest integer type that holds them.
        self.id_type = np.int16 if self.size < 2**15 else np.int64
        self.closed_ids = self.closed.astype(self.id_type)
        self.from_begin_ids = self.from_begin.astype(self.id_type)[None, :, None]
        self.from_inside_ids = self.from_inside.astype(self.id_type)[None, :, None]

    def __call__(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._step(delta, self._open_step)

    def per_row(self, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The same step, ruling predecessors out message by message (:meth:`_open_rows`): for
        the many messages of a packed decode, where few predecessors can win any one of them."""
        return self._step(delta, self._open_rows)

    def _step(self, delta: np.ndarray, open_step: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
              ) -> tuple[np.ndarray, np.ndarray]:
        batch = delta.shape[0]
        new = np.empty((batch, self.size), dtype=delta.dtype)
        best = np.empty((batch, self.size), dtype=self.id_type)
        new[:, self.opened], best[:, self.opened] = open_step(delta.take(self.closed, axis=1))
        if len(self.inner_from):
            # Two predecessors per target I-x / L-x: B-x, or I-x (which wins only when strictly better).
            from_begin = delta.take(self.from_begin, axis=1)[:, :, None] + self.begin_transitions[None]
            from_inside = delta.take(self.from_inside, axis=1)[:, :, None] + self.inside_transitions[None]
            inside_wins = from_inside > from_begin
            new[:, self.inner_to] = np.where(inside_wins, from_inside, from_begin)
            best[:, self.inner_to] = np.where(inside_wins, self.from_inside_ids, self.from_begin_ids)
        return new, best

    def _open_step(self, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The best score into every opening tag (``O``, ``B-x``, ``U-x``) and its predecessor, from
        the scores ``closed`` (batch x closing tags) of the previous token's closing tags.

        A predecessor ``c`` whose score plus its highest transition stays below
        the best predecessor's score plus that one's lowest transition is beaten
        by the best one into every tag, so it is left out before the
        (batch, to, from) table is built: after a few tokens of a trained model
        most are. The result is exactly the full table's, ties included (a
        left-out predecessor is strictly worse, and the order is kept).
        """
        viable, _, _ = self._may_win(closed)
        columns = np.flatnonzero(viable.any(axis=0))
        closed = closed[:, columns]
        if len(columns) <= FEW_PREDECESSORS:
            # Predecessor by predecessor on (batch, to) arrays: numpy's argmax over a short last
            # axis costs about as much per row as over a long one.
            rows = self.open_transitions_by_predecessor[columns]
            scores = closed[:, :1] + rows[0]
            chosen = np.zeros(scores.shape, dtype=np.intp)
            for k in range(1, len(columns)):
                value = closed[:, k : k + 1] + rows[k]
                better = value > scores  # a tie stays with the lower tag, as argmax
                np.copyto(scores, value, where=better)
                chosen[better] = k
            return scores, self.closed[columns][chosen]
        # A C-ordered (batch, to, from) array: an argmax over a strided axis is several times slower.
        candidates = closed[:, None, :] + self.open_transitions[:, columns][None]
        chosen = candidates.argmax(axis=2)
        flat = candidates.reshape(-1, len(columns))
        scores = flat[np.arange(len(flat)), chosen.ravel()].reshape(chosen.shape)
        return scores, self.closed[columns][chosen]

    def _may_win(self, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(viable, leader, leading)``: which predecessors (batch x closing tags) may still win an
        opening tag under the bound of :meth:`_open_step`, each message's best predecessor and its score."""
        leader = closed.argmax(axis=1)
        leading = closed[np.arange(closed.shape[0]), leader]
        viable = (closed + self.open_highest) >= (leading + self.open_lowest[leader])[:, None]
        return viable, leader, leading

    def _open_rows(self, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_open_step` with the bound applied to each message on its own.

        The predecessors that may win a message are ranked in tag order and
        their scores into every opening tag laid out as (rank, message,
        opening tag), padded with -inf; the ranks are then compared one after
        another, a tie staying with the lower rank (the lower tag). On a trained
        model one to three predecessors per message are left, where the
        batch-wide bound keeps every predecessor that may win any message.
        """
        batch = closed.shape[0]
        viable, leader, leading = self._may_win(closed)
        ranks = np.cumsum(viable, axis=1, dtype=np.intp)
        most = int(ranks[:, -1].max())
        if most == 1:  # only each message's leader can win
            scores = leading[:, None] + self.open_transitions_by_predecessor[leader]
            return scores, np.broadcast_to(self.closed_ids[leader][:, None], scores.shape)
        message, column = np.nonzero(viable)
        rank = ranks[message, column] - 1
        # Rank-major: each rank's scores are one contiguous (message, opening tag) slab.
        candidates = np.full((most, batch, self.open_transitions.shape[0]), -np.inf, dtype=closed.dtype)
        candidates[rank, message] = closed[message, column][:, None] + self.open_transitions_by_predecessor[column]
        columns = np.zeros((most, batch), dtype=np.intp)
        columns[rank, message] = column
        scores = candidates[0].copy()
        chosen = np.repeat(columns[0][:, None], scores.shape[1], axis=1)
        for r in range(1, most):
            better = candidates[r] > scores  # a tie stays with the lower rank, the lower tag
            np.copyto(scores, candidates[r], where=better)
            np.copyto(chosen, columns[r][:, None], where=better)
        return scores, self.closed_ids[chosen]


class TagDecoder:
    """Viterbi decoding of one tag head with its learned transitions and the BILOU constraints (built once)."""

    def __init__(self, tags: list[str], transitions: np.ndarray, *, bilou: bool) -> None:
        # float32 throughout: half the memory traffic of the per-step maxima.
        pairs, start, end = transition_constraints(tags, bilou=bilou)
        self.start, self.end = start.astype(np.float32), end.astype(np.float32)
        self.transitions = (np.asarray(transitions, dtype=np.float64) + pairs).astype(np.float32)
        self.step = _BilouStep(tags, self.transitions) if bilou and _BilouStep.applies(tags) else None

        #: (to, from) for the one-message path; ``rows`` indexes its rows.
        self.transitions_to_from = np.ascontiguousarray(self.transitions.T)
        self.rows = np.arange(len(tags))

    def __call__(self, scores: np.ndarray, lengths: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        scores = np.asarray(scores, dtype=np.float32)
        if len(scores) == 1:
            path, confidence = self.one(scores[0, : int(lengths[0])])
            return [path], [confidence]
        return viterbi(scores, self.transitions, lengths, self.start, self.end, self.step)

    def packed(self, scores: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tags and confidences of messages whose token scores are stacked (tokens x tags), in
        their rows: :func:`viterbi_packed`, or :meth:`one` for one message."""
        scores = np.asarray(scores, dtype=np.float32)
        if len(lengths) == 1:
            return self.one(scores)
        step = self.step.per_row if self.step is not None else None
        return viterbi_packed(scores, lengths, self.transitions, self.start, self.end, step)

    def one(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`viterbi` of one message's ``scores`` (tokens x tags): the fewest numpy calls per step.

        Parsing one message at a time is a few-microsecond numpy call per
        operation, so each step is four of them on the dense (to, from) table.
        """
        n = len(scores)
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        deltas = np.empty_like(scores)
        pointers = np.zeros(scores.shape, dtype=np.int64)
        deltas[0] = scores[0] + self.start
        candidates = np.empty_like(self.transitions_to_from)
        for t in range(1, n):
            np.add(self.transitions_to_from, deltas[t - 1], out=candidates)
            best = candidates.argmax(axis=1)
            pointers[t] = best
            np.add(candidates[self.rows, best], scores[t], out=deltas[t])
        path = np.empty(n, dtype=np.int64)
        path[-1] = int(np.argmax(deltas[-1] + self.end))
        for t in range(n - 1, 0, -1):
            path[t - 1] = pointers[t, path[t]]
        confidence = _path_confidence(deltas, path)
        return path, confidence


def decode(scores: np.ndarray, transitions: np.ndarray, lengths: np.ndarray, tags: list[str], *, bilou: bool
           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`viterbi` with the learned ``transitions`` and the BILOU scheme's constraints."""
    return TagDecoder(tags, transitions, bilou=bilou)(scores, lengths)


def marginals_packed(scores: np.ndarray, lengths: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Every token's marginal tag probabilities under a linear-chain CRF (forward-backward).

    ``scores``: the tokens' tag scores stacked message-major (tokens x tags),
    ``lengths``: tokens per message, ``transitions``: (from x to) scores;
    no start or end scores (crfsuite's model). Returns, in the rows of
    ``scores``, ``P(tag of the token = j | message)``. Forward and backward
    messages are rescaled at every step (as crfsuite does), and the scores
    are shifted by their maxima before ``exp`` (which cancels out), so long
    messages and large weights neither overflow nor underflow.
    """
    layout = PackedLayout.of(lengths)
    n_rows, n_tags = scores.shape
    if n_rows == 0:
        return np.zeros((0, n_tags), dtype=np.float64)
    packed = np.asarray(scores, dtype=np.float64)[layout.rows]
    exp_state = np.exp(packed - packed.max(axis=1, keepdims=True))
    transitions = np.asarray(transitions, dtype=np.float64)
    exp_trans = np.exp(transitions - transitions.max())
    starts, active = layout.starts, layout.active
    alpha = np.empty_like(exp_state)
    beta = np.empty_like(exp_state)
    alpha[: active[0]] = exp_state[: active[0]]
    _normalize(alpha[: active[0]])
    for t in range(1, len(active)):
        block, previous = slice(starts[t], starts[t + 1]), slice(starts[t - 1], starts[t - 1] + active[t])
        alpha[block] = (alpha[previous] @ exp_trans) * exp_state[block]
        _normalize(alpha[block])
    for t in range(len(active) - 1, -1, -1):
        first, count = starts[t], active[t]
        following = active[t + 1] if t + 1 < len(active) else 0
        # Messages whose last token is t: nothing follows. The others: sum over the next tag.
        beta[first + following : first + count] = 1.0
        if following:
            after = slice(starts[t + 1], starts[t + 1] + following)
            beta[first : first + following] = (beta[after] * exp_state[after]) @ exp_trans.T
        _normalize(beta[first : first + count])
    joint = alpha * beta
    _normalize(joint)
    marginals = np.empty_like(joint)
    marginals[layout.rows] = joint
    return marginals


def _normalize(rows: np.ndarray) -> None:
    """Divide every row by its sum in place (a row summing to 0 stays as it is)."""
    sums = rows.sum(axis=1, keepdims=True)
    sums[~(sums > 0)] = 1.0
    rows /= sums
