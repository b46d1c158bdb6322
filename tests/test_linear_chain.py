"""Every Viterbi variant of intently.plugins.linear_chain on small hand-made inputs whose best path is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from intently.plugins.linear_chain import (
    FORBIDDEN,
    TagDecoder,
    decode,
    transition_constraints,
    viterbi,
    viterbi_packed,
)

BILOU = ["O", "B-a", "I-a", "L-a", "U-a"]


def every_variant(scores: np.ndarray, transitions: np.ndarray, tags: list[str], *, bilou: bool
                  ) -> list[tuple[str, list[int], np.ndarray]]:
    """``(variant, path, confidences)`` of one message (tokens x tags) by every decoder."""
    n = len(scores)
    lengths = np.array([n])
    pairs, start, end = transition_constraints(tags, bilou=bilou)
    decoder = TagDecoder(tags, transitions, bilou=bilou)
    # A second, longer message beside it: the batch paths must keep the first one's own path.
    other = np.zeros((n + 2, len(tags)), dtype=np.float32)
    padded = np.zeros((2, n + 2, len(tags)), dtype=np.float32)
    padded[0, :n], padded[1] = scores, other
    both = np.array([n, n + 2])
    results = []
    paths, confidences = viterbi(scores[None], transitions + pairs, lengths, start, end)
    results.append(("padded", paths[0].tolist(), confidences[0]))
    paths, confidences = viterbi(padded, transitions + pairs, both, start, end)
    results.append(("padded, two messages", paths[0].tolist(), confidences[0]))
    path, confidence = viterbi_packed(np.concatenate([scores, other]), both, transitions + pairs, start, end)
    results.append(("packed", path[:n].tolist(), confidence[:n]))
    path, confidence = decoder.packed(np.concatenate([scores, other]), both)
    results.append(("decoder, packed", path[:n].tolist(), confidence[:n]))
    path, confidence = decoder.one(scores.astype(np.float32))
    results.append(("decoder, one message", path.tolist(), confidence))
    paths, confidences = decoder(padded, both)
    results.append(("decoder, padded", paths[0].tolist(), confidences[0]))
    paths, confidences = decode(scores[None], transitions, lengths, tags, bilou=bilou)
    results.append(("decode", paths[0].tolist(), confidences[0]))
    return results


def test_transitions_outweigh_the_best_tag_of_each_token():
    # Token by token A, B, A would win (1 + 0.5 + 1); but A -> B costs 2, so A, A, A (2) beats it.
    scores = np.array([[1.0, 0.0], [0.0, 0.5], [1.0, 0.0]], dtype=np.float32)
    transitions = np.array([[0.0, -2.0], [0.0, 0.0]], dtype=np.float32)
    for variant, path, _ in every_variant(scores, transitions, ["A", "B"], bilou=False):
        assert path == [0, 0, 0], variant


def test_bilou_constraints_forbid_an_entity_that_does_not_begin():
    # O I-a L-a scores 5.0, but I-a cannot follow O: B-a I-a L-a (4.9) is the best valid path.
    scores = np.zeros((3, 5), dtype=np.float32)
    scores[0, 0], scores[0, 1], scores[1, 2], scores[2, 3] = 1.0, 0.9, 2.0, 2.0
    transitions = np.zeros((5, 5), dtype=np.float32)
    for variant, path, _ in every_variant(scores, transitions, BILOU, bilou=True):
        assert path == [1, 2, 3], variant
    for variant, path, _ in every_variant(scores, transitions, BILOU, bilou=False):
        assert path == [0, 2, 3], variant  # without the scheme nothing is forbidden


def test_bilou_constraints_forbid_an_entity_that_does_not_end():
    # U-a B-a scores 4, but a message cannot end inside an entity: U-a O (1.5).
    scores = np.zeros((2, 5), dtype=np.float32)
    scores[0, 4], scores[1, 1], scores[1, 0] = 1.0, 3.0, 0.5
    for variant, path, _ in every_variant(scores, np.zeros((5, 5), dtype=np.float32), BILOU, bilou=True):
        assert path == [4, 0], variant


def test_a_tags_confidence_is_the_softmax_of_the_best_path_scores():
    # One token, no transitions: the best-path scores are the token's scores, softmax [1/4, 3/4].
    scores = np.array([[0.0, math.log(3.0)]], dtype=np.float32)
    for variant, path, confidence in every_variant(scores, np.zeros((2, 2), dtype=np.float32), ["A", "B"],
                                                   bilou=False):
        assert path == [1], variant
        assert confidence[0] == pytest.approx(0.75, abs=1e-6), variant


def test_ties_go_to_the_lower_tag_and_empty_messages_have_no_tags():
    scores = np.zeros((2, 3), dtype=np.float32)
    for variant, path, _ in every_variant(scores, np.zeros((3, 3), dtype=np.float32), ["A", "B", "C"],
                                          bilou=False):
        assert path == [0, 0], variant
    paths, confidences = viterbi(np.zeros((2, 3, 2), dtype=np.float32), np.zeros((2, 2)), np.array([0, 3]))
    assert paths[0].size == confidences[0].size == 0 and paths[1].tolist() == [0, 0, 0]
    tags, confidence = viterbi_packed(np.zeros((0, 2), dtype=np.float32), np.array([0]), np.zeros((2, 2)),
                                      np.zeros(2), np.zeros(2))
    assert tags.size == confidence.size == 0


def test_transition_constraints_of_bilou_tags():
    pairs, start, end = transition_constraints(BILOU, bilou=True)
    index = {tag: i for i, tag in enumerate(BILOU)}
    allowed = {("O", "O"), ("O", "B-a"), ("O", "U-a"), ("B-a", "I-a"), ("B-a", "L-a"), ("I-a", "I-a"),
               ("I-a", "L-a"), ("L-a", "O"), ("L-a", "B-a"), ("L-a", "U-a"), ("U-a", "O"), ("U-a", "B-a"),
               ("U-a", "U-a")}
    for a in BILOU:
        for b in BILOU:
            assert pairs[index[a], index[b]] == (0.0 if (a, b) in allowed else FORBIDDEN), (a, b)
    assert start.tolist() == [0.0, 0.0, FORBIDDEN, FORBIDDEN, 0.0]
    assert end.tolist() == [0.0, FORBIDDEN, FORBIDDEN, 0.0, 0.0]
    assert not any(array.any() for array in transition_constraints(BILOU, bilou=False))
