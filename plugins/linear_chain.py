"""Linear-chain CRF decoding of many messages at once, on their tokens' rows with no padding.

Shared by DIETClassifier's tag heads and CRFEntityExtractor:
:func:`viterbi_packed` (the best tag path of every message) and
:func:`marginals_packed` (every token's marginal tag probabilities, by
forward-backward).

:func:`intently.plugins.classifiers.diet.numpy_model.viterbi` decodes a
padded batch: every step works on every message of the batch, so most of its
cost is the fixed cost of its numpy calls. Here the tag scores of many
messages are decoded at once. The messages are ordered longest first, so the
messages still running at step ``t`` are always the first ``active[t]`` of
them: each step is a slice, and the scores are laid out time-major (all
messages' first tokens, then all second tokens, ...) so that each step reads
one contiguous block. The number of numpy calls is that of the longest
message, whatever the number of messages.

The Viterbi result is exactly the padded decoder's (a test compares them):
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


def viterbi_packed(scores: np.ndarray, lengths: np.ndarray, transitions: np.ndarray,
                   start: np.ndarray, end: np.ndarray, step: Step | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Best tag paths of messages whose token scores are stacked (tokens x tags, message-major).

    ``lengths``: tokens per message (message ``i`` owns the rows after the
    first ``sum(lengths[:i])``); ``start``/``end``: scores of the first and
    last tag; ``step``: as in :func:`.numpy_model.viterbi` (default: the dense
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
    # Confidence: the softmax over tags of each token's best-path scores, at the chosen tag.
    deltas -= deltas.max(axis=1, keepdims=True)
    np.exp(deltas, out=deltas)
    confidence = deltas[np.arange(n_rows), path] / deltas.sum(axis=1)
    tags = np.empty(n_rows, dtype=np.int64)
    tags[layout.rows] = path
    confidences = np.empty(n_rows, dtype=confidence.dtype)
    confidences[layout.rows] = confidence
    return tags, confidences


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
