"""The features on a batch: attaching blocks and reading them back per featurizer or stacked."""

import numpy as np
import pytest
import scipy.sparse
from intently.features import attach_features, collect_features, feature_blocks
from intently.message import Message


@pytest.fixture()
def messages() -> list[Message]:
    batch = [Message(text=t) for t in ("a b", "c", "d e f")]
    offsets = np.array([0, 2, 3, 6])
    attach_features(batch, "1_words", "sequence", scipy.sparse.csr_matrix(np.arange(12.0).reshape(6, 2)), offsets)
    attach_features(batch, "2_dense", "sentence", np.ones((3, 4)))
    attach_features(batch, "3_chars", "sequence", scipy.sparse.csr_matrix(np.eye(6, 3)), offsets)
    return batch


def test_feature_blocks_are_each_featurizers_block_in_pipeline_order(messages):
    blocks = feature_blocks(messages, "sequence")
    assert [origin for origin, _, _ in blocks] == ["1_words", "3_chars"]
    _, words, offsets = blocks[0]
    assert words is messages[0].features[0].block.matrix  # the whole batch: the block itself, no copy
    assert offsets.tolist() == [0, 2, 3, 6]
    stacked, stacked_offsets = collect_features(messages, "sequence")
    np.testing.assert_array_equal(scipy.sparse.hstack([m for _, m, _ in blocks]).toarray(), stacked.toarray())
    assert stacked_offsets.tolist() == offsets.tolist()
    assert [origin for origin, _, _ in feature_blocks(messages, "sentence", sparse=True)] == []
    assert [origin for origin, _, _ in feature_blocks(messages, "sentence", sparse=False)] == ["2_dense"]
    assert feature_blocks([], "sequence") == []


def test_feature_blocks_of_part_of_a_batch_gather_its_rows(messages):
    (_, words, offsets), (_, chars, _) = feature_blocks(messages[1:], "sequence")
    np.testing.assert_array_equal(words.toarray(), np.arange(4.0, 12.0).reshape(4, 2))
    assert offsets.tolist() == [0, 1, 4]
    np.testing.assert_array_equal(chars.toarray(), np.eye(6, 3)[2:])
    (_, alone, alone_offsets), _ = feature_blocks(messages[2:], "sequence")
    np.testing.assert_array_equal(alone.toarray(), np.arange(6.0, 12.0).reshape(3, 2))
    assert alone_offsets.tolist() == [0, 3]


def test_a_message_without_a_featurizers_features_is_named(messages):
    stranger = Message(text="x")
    attach_features([stranger], "1_words", "sequence", scipy.sparse.csr_matrix((1, 2)), [0, 1])
    with pytest.raises(ValueError, match="'x' has no sequence features from 3_chars"):
        feature_blocks([messages[0], stranger], "sequence")
