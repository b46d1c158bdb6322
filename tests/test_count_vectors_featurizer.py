"""CountVectorsFeaturizer: Rasa-compatible counts, reserved columns, finetuning, persistence."""

from __future__ import annotations

import json
import logging
import random
import re
import time

import numpy as np
import pytest
import scipy.sparse
from component_helpers import CONFIG, examples, parse, persist_and_load, train

from intently.component import SPARSE_FEATURES, TOKENS
from intently.errors import ComponentConfigError, ComponentError
from intently.features import collect_features
from intently.message import Message, Token
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer, char_wb_ngrams
from intently.plugins.featurizers.sparse_featurizer import (
    Vocabulary,
    csr_from_entries,
    default_reserve,
    sum_rows_by_group,
)
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import check_component


def featurizer(**config) -> CountVectorsFeaturizer:
    return CountVectorsFeaturizer({"additional_vocabulary_size": 0, **config}, unique_name="cv")


def fit(texts, **config) -> list:
    """A trained [tokenizer, featurizer] pipeline."""
    pipeline = [WhitespaceTokenizer(), featurizer(**config)]
    train(pipeline, examples((text, None) for text in texts))
    return pipeline


def features(pipeline, texts):
    """(sequence rows per message as dense arrays, sentence matrix as dense)."""
    messages = parse(pipeline, texts)
    sequence, offsets = collect_features(messages, "sequence")
    sentence, _ = collect_features(messages, "sentence")
    rows = [sequence[offsets[i] : offsets[i + 1]].toarray() for i in range(len(messages))]
    return rows, sentence.toarray()


# --- exact matrices, computed by hand ---------------------------------------------------


def test_word_counts_by_hand() -> None:
    pipeline = fit(["hello world", "Hello there, friend!"])
    assert pipeline[1].vocabulary.items == ["friend", "hello", "there", "world"]
    rows, sentence = features(pipeline, ["hello HELLO friend stranger"])
    assert rows[0].tolist() == [
        [0, 1, 0, 0],
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 0],
    ]
    assert sentence.tolist() == [[1, 2, 0, 0]]


def test_char_wb_counts_by_hand() -> None:
    pipeline = fit(["ab", "b"], analyzer="char_wb", min_ngram=2, max_ngram=2)
    # " ab " -> " a", "ab", "b "; " b " -> " b", "b "
    assert pipeline[1].vocabulary.items == [" a", " b", "ab", "b "]
    rows, sentence = features(pipeline, ["ab ba"])
    assert rows[0].tolist() == [[1, 0, 1, 1], [0, 1, 0, 0]]  # "ba": " b" known; "ba", "a " not
    assert sentence.tolist() == [[1, 1, 1, 1]]


def test_char_wb_counts_a_short_word_once() -> None:
    assert char_wb_ngrams("a", 1, 4) == [" ", "a", " ", " a", "a ", " a "]
    pipeline = fit(["a"], analyzer="char_wb", min_ngram=1, max_ngram=4)
    assert pipeline[1].vocabulary.items == [" ", " a", " a ", "a", "a "]
    rows, _ = features(pipeline, ["a"])
    assert rows[0].tolist() == [[2, 1, 1, 1, 1]]


def test_word_bigram_sentence_features_count_bigrams_across_tokens() -> None:
    pipeline = fit(["hello world"], max_ngram=2)
    assert pipeline[1].vocabulary.items == ["hello", "hello world", "world"]
    rows, sentence = features(pipeline, ["hello world"])
    assert rows[0].tolist() == [[1, 0, 0], [0, 0, 1]]
    assert sentence.tolist() == [[1, 1, 1]]  # not the sum of the token rows


def test_char_sentence_features_span_tokens() -> None:
    pipeline = fit(["ab c"], analyzer="char", min_ngram=2, max_ngram=2)
    # sentence n-grams of "ab c": "ab", "b ", " c"
    assert pipeline[1].vocabulary.items == [" c", "ab", "b "]
    rows, sentence = features(pipeline, ["ab c"])
    assert rows[0].tolist() == [[0, 1, 0], [0, 0, 0]]
    assert sentence.tolist() == [[1, 1, 1]]


def test_numbers_become_one_feature() -> None:
    pipeline = fit(["I have 10 apples and 2000 pears"])
    vocabulary = pipeline[1].vocabulary
    assert "__number__" in vocabulary and "10" not in vocabulary
    _, sentence = features(pipeline, ["7 apples 12,000"])
    assert sentence[0, vocabulary.get("__number__")] == 3
    assert sentence[0, vocabulary.get("apples")] == 1


def test_punctuated_tokens_split_into_words_like_sklearn() -> None:
    pipeline = fit(["write to a@b.com"])
    assert pipeline[1].vocabulary.items == ["a", "b", "com", "to", "write"]
    rows, _ = features(pipeline, ["a@b.com"])
    assert rows[0].tolist() == [[1, 1, 1, 0, 0]]


def test_strip_accents_lowercase_and_stop_words() -> None:
    pipeline = fit(["Café au lait", "the cafe"], strip_accents="unicode", stop_words=["the", "au"])
    assert pipeline[1].vocabulary.items == ["cafe", "lait"]
    pipeline = fit(["Café"], lowercase=False)
    assert pipeline[1].vocabulary.items == ["Café"]


def test_english_stop_words_are_resolved_and_persisted(tmp_path) -> None:
    pipeline = fit(["the weather is nice"], stop_words="english")
    assert pipeline[1].vocabulary.items == ["nice", "weather"]
    loaded = persist_and_load(pipeline[1], tmp_path)
    assert "the" in loaded.stop_words
    rows, _ = features([pipeline[0], loaded], ["the weather"])
    assert rows[0].tolist() == [[0, 0], [0, 1]]


@pytest.mark.parametrize(
    "config",
    [
        {"analyzer": "word"},
        {"analyzer": "word", "max_ngram": 3},
        {"analyzer": "word", "min_ngram": 2, "max_ngram": 2},
        {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"analyzer": "char", "min_ngram": 1, "max_ngram": 3},
        {"analyzer": "word", "stop_words": "english", "strip_accents": "ascii", "max_ngram": 2},
        {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 3, "min_df": 2, "max_df": 0.5},
    ],
)
def test_same_features_as_rasa_with_sklearn(config) -> None:
    """Rasa computes ``CountVectorizer.transform(tokens)`` per token and of the joined tokens."""
    from sklearn.feature_extraction.text import CountVectorizer

    rng = random.Random(3)
    words = "hello world book a table for 2 people Café naïve it's x-ray THE of a@b.com".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(50)]
    pipeline = fit(texts[:30], **config)
    vectorizer = CountVectorizer(
        analyzer=config["analyzer"],
        ngram_range=(config.get("min_ngram", 1), config.get("max_ngram", 1)),
        stop_words=config.get("stop_words"),
        strip_accents=config.get("strip_accents"),
        min_df=config.get("min_df", 1),
        max_df=config.get("max_df", 1.0),
        token_pattern=r"(?u)\b\w+\b" if config["analyzer"] == "word" else None,
    )
    tokenizer = WhitespaceTokenizer()

    def rasa_tokens(text: str) -> list[str]:
        return [re.sub(r"\b[0-9]+\b", "__NUMBER__", t.text).lower() for t in tokenizer.tokens_for(text)]

    vectorizer.fit([" ".join(rasa_tokens(t)) for t in texts[:30]])
    assert pipeline[1].vocabulary.items == sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    rows, sentence = features(pipeline, texts)
    for i, text in enumerate(texts):
        tokens = rasa_tokens(text)
        expected_rows = vectorizer.transform(tokens).toarray() if tokens else np.zeros((0, len(vectorizer.vocabulary_)))
        assert np.array_equal(rows[i], expected_rows), text
        assert np.array_equal(sentence[i], vectorizer.transform([" ".join(tokens)]).toarray()[0]), text


# --- OOV ------------------------------------------------------------------------------------------


def test_oov_words_in_training_and_unknown_words_when_parsing() -> None:
    pipeline = fit(["hi there", "hello there"], OOV_token="OOV", OOV_words=["Hi"])
    vocabulary = pipeline[1].vocabulary
    assert vocabulary.items == ["hello", "oov", "there"]
    _, sentence = features(pipeline, ["hi unknown there zzz"])
    assert sentence.tolist() == [[0, 3, 1]]


def test_oov_token_from_training_text() -> None:
    pipeline = fit(["__oov__ please", "book a table"], OOV_token="__oov__")
    rows, _ = features(pipeline, ["please dance"])
    index = pipeline[1].vocabulary.index
    assert rows[0][1, index["__oov__"]] == 1 and rows[0][0, index["please"]] == 1


def test_without_oov_token_unknown_words_are_dropped() -> None:
    pipeline = fit(["hello there"])
    _, sentence = features(pipeline, ["goodbye"])
    assert not sentence.any()


def test_oov_token_missing_from_training_data_warns(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        fit(["hello there"], OOV_token="oov")
    assert "does not occur in any training example" in caplog.text


def test_oov_is_ignored_for_character_analyzers(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        pipeline = fit(["ab"], analyzer="char_wb", max_ngram=2, OOV_token="oov")
    assert "ignores OOV_token" in caplog.text
    assert pipeline[1].oov_token is None


# --- vocabulary rules ---------------------------------------------------------------------------


def test_min_df_and_max_df() -> None:
    texts = ["a b", "a c", "a d c"]
    assert fit(texts, min_df=2)[1].vocabulary.items == ["a", "c"]
    assert fit(texts, min_df=0.9)[1].vocabulary.items == ["a"]
    assert fit(texts, max_df=0.5)[1].vocabulary.items == ["b", "d"]
    assert fit(texts, max_df=1)[1].vocabulary.items == ["b", "d"]


def test_max_df_below_min_df_is_a_clear_error() -> None:
    with pytest.raises(ComponentError, match="max_df"):
        fit(["a b", "a c"], min_df=2, max_df=1)


def test_max_features_keeps_the_most_frequent() -> None:
    assert fit(["a a b", "a c c c", "d"], max_features=2)[1].vocabulary.items == ["a", "c"]


def test_empty_vocabulary_still_has_a_fixed_dimension(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        pipeline = fit(["the of", "and"], stop_words="english", additional_vocabulary_size=4)
    assert "empty vocabulary" in caplog.text
    rows, sentence = features(pipeline, ["the cat"])
    assert sentence.shape == (1, 4) and not sentence.any()


# --- dimension, reserved columns, finetuning ------------------------------------------------------


def test_default_reserve_is_rasas_rule() -> None:
    assert default_reserve(10) == 1000
    assert default_reserve(5000) == 2500
    pipeline = [WhitespaceTokenizer(), CountVectorsFeaturizer()]
    train(pipeline, examples([("hello world", None)]))
    assert pipeline[1].dimension == 2 + 1000


@pytest.mark.parametrize("value, reserve", [(7, 7), ({"text": 3}, 3), ({"text": None, "response": 5}, 1000)])
def test_additional_vocabulary_size_int_or_rasa_dict(value, reserve) -> None:
    pipeline = [WhitespaceTokenizer(), CountVectorsFeaturizer({"additional_vocabulary_size": value})]
    train(pipeline, examples([("hello world", None)]))
    assert pipeline[1].dimension == 2 + reserve
    _, sentence = features(pipeline, ["hello"])
    assert sentence.shape == (1, 2 + reserve)


def finetuned(tmp_path, base_texts, new_texts, reserve, name="base"):
    base = fit(base_texts, additional_vocabulary_size=reserve)
    loaded = persist_and_load(base[1], tmp_path / name, finetune=True)
    assert loaded.finetune_mode
    pipeline = [base[0], loaded]
    train(pipeline, examples((t, None) for t in new_texts))
    return base, pipeline


def test_finetune_puts_new_words_into_reserved_columns(tmp_path) -> None:
    base, pipeline = finetuned(tmp_path, ["hello world"], ["hello world", "good morning world"], reserve=3)
    vocabulary = pipeline[1].vocabulary
    assert vocabulary.items == ["hello", "world", "good", "morning"]  # old columns kept
    assert vocabulary.dimension == base[1].dimension == 5
    rows, sentence = features(pipeline, ["good morning hello"])
    assert sentence.tolist() == [[1, 0, 1, 1, 0]]
    reloaded = persist_and_load(pipeline[1], tmp_path / "again")
    assert features([pipeline[0], reloaded], ["good morning hello"])[1].tolist() == sentence.tolist()


def test_finetune_keeps_features_of_known_words(tmp_path) -> None:
    base, pipeline = finetuned(tmp_path, ["hello world", "see you"], ["hello world", "see you", "new words"], reserve=5)
    texts = ["hello you", "world see"]
    assert np.array_equal(features(base, texts)[1], features(pipeline, texts)[1][:, : base[1].dimension])


def test_exhausting_the_reserve_is_a_clear_error(tmp_path) -> None:
    _, pipeline = finetuned(tmp_path, ["hello world"], ["hello world", "good morning"], reserve=3)
    loaded = persist_and_load(pipeline[1], tmp_path / "second", finetune=True)
    with pytest.raises(ComponentError) as caught:
        train([pipeline[0], loaded], examples([("three new words", None)]))
    message = str(caught.value)
    assert "needs 3 reserved feature columns" in message and "only 1 are available" in message
    assert "additional_vocabulary_size" in message and "from scratch" in message


def test_training_without_finetune_starts_from_scratch(tmp_path) -> None:
    base = fit(["hello world"], additional_vocabulary_size=1)
    loaded = persist_and_load(base[1], tmp_path)
    train([base[0], loaded], examples([("totally different words here", None)]))
    assert loaded.vocabulary.items == ["different", "here", "totally", "words"]


def test_vocabulary_extend_reports_counts() -> None:
    vocabulary = Vocabulary.with_reserve(["a"], 1)
    assert vocabulary.extend(["a", "b"]) == ["b"]
    assert vocabulary.free_slots == 0
    with pytest.raises(ComponentError, match="needs 1 reserved"):
        vocabulary.extend(["c"])


# --- persistence ------------------------------------------------------------------------------------


def test_persist_load_gives_identical_features(tmp_path) -> None:
    texts = ["hello world", "book a table for 2", "Café", ""]
    for i, config in enumerate([{}, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}, {"max_ngram": 2}]):
        pipeline = fit(texts, **config)
        loaded = persist_and_load(pipeline[1], tmp_path / str(i))
        before = features(pipeline, texts + ["unseen words"])
        after = features([pipeline[0], loaded], texts + ["unseen words"])
        assert all(np.array_equal(a, b) for a, b in zip(before[0], after[0]))
        assert np.array_equal(before[1], after[1])


def test_persisted_state_is_json(tmp_path) -> None:
    pipeline = fit(["hello world"], additional_vocabulary_size=2)
    folder = tmp_path / "cv"
    folder.mkdir()
    meta = pipeline[1].persist("cv", folder)
    assert meta == {"vocabulary_file": "cv.vocabulary.json", "vocabulary_size": 2, "dimension": 4}
    files = list(folder.iterdir())
    assert [f.name for f in files] == ["cv.vocabulary.json"]
    assert json.loads(files[0].read_text())["vocabulary"] == {"items": ["hello", "world"], "dimension": 4}


def test_an_untrained_featurizer_refuses_to_process() -> None:
    messages = parse([WhitespaceTokenizer()], ["hello"])
    with pytest.raises(ComponentError, match="not trained"):
        featurizer().process(messages)


# --- batches --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"max_ngram": 2},
        {"analyzer": "char", "max_ngram": 3},
    ],
)
def test_batch_and_one_by_one_give_identical_rows(config) -> None:
    rng = random.Random(5)
    words = "hello world book a table for two people tonight please 10 x".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(40)]
    pipeline = fit(texts[:20], **config)
    batch_rows, batch_sentence = features(pipeline, texts)  # more than a few messages: scipy paths
    for i, text in enumerate(texts):
        rows, sentence = features(pipeline, [text])  # one message: bincount paths
        assert np.array_equal(rows[0], batch_rows[i])
        assert np.array_equal(sentence[0], batch_sentence[i])


def test_batch_matrices_are_canonical_csr() -> None:
    pipeline = fit(["hello world"] * 3, analyzer="char_wb", max_ngram=3)
    messages = parse(pipeline, ["hello world"] * 20)
    for kind in ("sequence", "sentence"):
        matrix, _ = collect_features(messages, kind)
        assert isinstance(matrix, scipy.sparse.csr_matrix)
        assert matrix.has_canonical_format


def test_helpers_sum_duplicates_in_both_paths() -> None:
    rows = [0, 0, 2, 2, 2] * 3
    columns = [1, 1, 0, 3, 0] * 3
    expected = np.zeros((12, 4))
    for r, c in zip(rows, columns):
        expected[r, c] += 1
    assert np.array_equal(csr_from_entries(rows, columns, [1.0] * 15, 12, 4).toarray(), expected)
    assert np.array_equal(csr_from_entries(rows, columns, [1.0] * 15, 3, 4).toarray(), expected[:3])
    matrix = scipy.sparse.random(30, 7, density=0.4, random_state=0, format="csr")
    for offsets in ([0, 10, 10, 30], list(range(0, 31, 3))):
        summed = sum_rows_by_group(matrix, offsets).toarray()
        dense = matrix.toarray()
        assert np.allclose(summed, [dense[a:b].sum(axis=0) for a, b in zip(offsets, offsets[1:])])


def test_empty_messages_get_no_token_rows_and_a_zero_sentence_row() -> None:
    pipeline = fit(["hello world"])
    messages = parse(pipeline, ["", "hello", "   "])
    sequence, offsets = collect_features(messages, "sequence")
    sentence, _ = collect_features(messages, "sentence")
    assert offsets.tolist() == [0, 0, 1, 1]
    assert sentence.toarray().tolist() == [[0, 0], [1, 0], [0, 0]]


def test_an_empty_batch_is_a_no_op() -> None:
    fit(["hello"])[1].process([])


def test_message_without_tokens_is_a_clear_error() -> None:
    pipeline = fit(["hello"])
    with pytest.raises(ComponentError, match="tokenizer"):
        pipeline[1].process([Message("hello")])


def test_lemmas_are_used_when_set() -> None:
    pipeline = fit(["go"])
    message = Message("went", tokens=[Token("went", 0, 4, lemma="go")])
    pipeline[1].process([message])
    assert collect_features([message], "sentence")[0].toarray().tolist() == [[1]]
    no_lemma = fit(["go"], use_lemma=False)[1]
    message = Message("went", tokens=[Token("went", 0, 4, lemma="go")])
    no_lemma.process([message])
    assert collect_features([message], "sentence")[0].toarray().tolist() == [[0]]


def test_two_featurizers_do_not_clash() -> None:
    data = examples([("hello world", None), ("good bye", None)])
    tokenizer = WhitespaceTokenizer()
    words = CountVectorsFeaturizer({"additional_vocabulary_size": 0}, unique_name="1_CountVectorsFeaturizer")
    chars = CountVectorsFeaturizer(
        {"analyzer": "char_wb", "max_ngram": 2, "additional_vocabulary_size": 0},
        unique_name="2_CountVectorsFeaturizer",
    )
    train([tokenizer, words, chars], data)
    messages = parse([tokenizer, words, chars], ["hello bye", "world"])
    assert [(r.origin, r.kind) for r in messages[0].features] == [
        ("1_CountVectorsFeaturizer", "sequence"),
        ("1_CountVectorsFeaturizer", "sentence"),
        ("2_CountVectorsFeaturizer", "sequence"),
        ("2_CountVectorsFeaturizer", "sentence"),
    ]
    sentence, _ = collect_features(messages, "sentence")
    assert sentence.shape == (2, words.dimension + chars.dimension)
    words_only, _ = collect_features(messages, "sentence", origins=["1_CountVectorsFeaturizer"])
    assert words_only.toarray().tolist() == [[1, 0, 1, 0], [0, 0, 0, 1]]
    # processing again replaces, not duplicates, the features
    words.process(messages)
    assert len(messages[0].features) == 4


# --- config -------------------------------------------------------------------------------------


def test_declarations_and_rasa_defaults() -> None:
    assert CountVectorsFeaturizer.requires == (TOKENS,)
    assert CountVectorsFeaturizer.provides == (SPARSE_FEATURES,)
    defaults = CountVectorsFeaturizer.defaults
    assert defaults["analyzer"] == "word" and defaults["min_ngram"] == 1 and defaults["max_ngram"] == 1
    assert defaults["min_df"] == 1 and defaults["max_df"] == 1.0 and defaults["max_features"] is None
    assert defaults["lowercase"] is True and defaults["use_lemma"] is True
    assert defaults["OOV_token"] is None and defaults["OOV_words"] == []
    assert defaults["use_shared_vocab"] is False and defaults["strip_accents"] is None


@pytest.mark.parametrize(
    "config, message",
    [
        ({"analyzer": "foo"}, "'analyzer' must be one of 'word', 'char', 'char_wb', got 'foo'"),
        ({"analyzer": "char-wb"}, "did you mean 'char_wb'?"),
        ({"min_ngram": 3, "max_ngram": 2}, "'min_ngram' must be at most max_ngram (2), got 3"),
        ({"min_ngram": 0}, "'min_ngram' must be an integer >= 1, got 0"),
        ({"max_ngram": 1.5}, "'max_ngram' must be an integer >= 1, got 1.5"),
        ({"min_df": 0}, "'min_df' must be an integer >= 1 or a float in [0.0, 1.0] (a proportion of examples), got 0"),
        ({"max_df": 1.5}, "'max_df' must be"),
        ({"max_features": 0}, "'max_features' must be an integer >= 1 or null"),
        ({"stop_words": "german"}, "'stop_words' must be null, 'english' or (a list, each a string)"),
        ({"strip_accents": "yes"}, "'strip_accents' must be one of null, 'ascii', 'unicode', got 'yes'"),
        ({"OOV_token": ""}, "'OOV_token' must be a non-empty string or null, got ''"),
        ({"OOV_words": [1]}, "'OOV_words' must be a string or (a list, each a string), got [1]"),
        ({"additional_vocabulary_size": -1}, "'additional_vocabulary_size' must be an integer >= 0, null or"),
        ({"additional_vocabulary_size": {"txt": 10}}, "did you mean 'text'?"),
        ({"lowercase": "yes"}, "'lowercase' must be true or false (null reads as false), got 'yes'"),
    ],
)
def test_invalid_values_are_rejected_clearly(config, message) -> None:
    with pytest.raises(ComponentConfigError) as caught:
        CountVectorsFeaturizer(config)
    assert message in str(caught.value)
    assert "CountVectorsFeaturizer" in str(caught.value)


def test_unknown_config_key_names_component_and_key() -> None:
    with pytest.raises(ComponentConfigError, match="CountVectorsFeaturizer has no config key 'max_ngrams'") as caught:
        CountVectorsFeaturizer({"max_ngrams": 2})
    assert "max_ngram" in caught.value.hint


def test_oov_words_without_token_are_ignored_with_a_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="intently"):
        component = CountVectorsFeaturizer({"OOV_words": ["a"]})
    assert "without an OOV_token" in caplog.text and not component.oov_words


def test_conformance_kit() -> None:
    data = examples(
        [("hello there", "greet"), ("hi you", "greet"), ("bye now", "bye"), ("see you later", "bye"), ("", None)]
    )
    check_component(CountVectorsFeaturizer, data, before=["WhitespaceTokenizer"], config={"max_ngram": 2})
    check_component(
        CountVectorsFeaturizer,
        data,
        before=["WhitespaceTokenizer"],
        config={"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    )


def test_ten_words_featurize_well_under_a_millisecond() -> None:
    rng = random.Random(0)
    words = "i would like to book a table for two people tonight please hello what is the weather".split()
    texts = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(200)]
    for config in ({}, {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4}):
        featurizer_ = fit(texts, **config)[1]
        messages = parse([WhitespaceTokenizer()], ["I would like to book a table for two people tonight"])
        featurizer_.process(messages)
        process = featurizer_.process
        best = min(_time(lambda: process(messages), 300) for _ in range(3))  # noqa: B023
        assert best < 1e-3  # typically 50-100 us


def _time(function, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        function()
    return (time.perf_counter() - start) / runs


def test_training_data_config_is_accepted() -> None:
    pipeline = [WhitespaceTokenizer(), featurizer()]
    train(pipeline, examples([("hello", None)]), CONFIG)
    train(pipeline, examples([("hello", None)]), None)  # the config is optional


def test_csr_from_rows_builds_the_matrix_scipy_would() -> None:
    from array import array

    import scipy.sparse
    from intently.plugins.featurizers.sparse_featurizer import csr_from_rows

    fast = csr_from_rows(array("i", [1, 4, 0]), array("d", [2.0, 1.0, 3.0]), [0, 2, 2, 3], 6)
    checked = scipy.sparse.csr_matrix(([2.0, 1.0, 3.0], [1, 4, 0], [0, 2, 2, 3]), shape=(3, 6))
    assert fast.shape == checked.shape == (3, 6) and fast.nnz == 3 and fast.has_sorted_indices
    np.testing.assert_array_equal(fast.toarray(), checked.toarray())
    np.testing.assert_array_equal((fast @ np.eye(6))[:, 1], [2.0, 0.0, 0.0])
    assert (scipy.sparse.vstack([fast, checked]).toarray() == np.vstack([checked.toarray()] * 2)).all()
    empty = csr_from_rows([], [], [0], 4)
    assert empty.shape == (0, 4) and empty.nnz == 0


def test_rasa_1s_token_pattern_key_is_ignored_with_a_warning_as_rasa_3_ignores_it(caplog):
    # Rasa's own formbot example still sets it; Rasa 3.6 silently ignores it.
    with caplog.at_level(logging.WARNING):
        featurizer = CountVectorsFeaturizer({"token_pattern": r"(?u)\b\w+\b", "min_ngram": 1})
    assert "token_pattern" not in featurizer.config
    assert "'token_pattern' is ignored" in caplog.text and "tokenizer" in caplog.text
    with pytest.raises(ComponentConfigError, match="no config key 'token_patterns'"):
        CountVectorsFeaturizer({"token_patterns": "x"})
# --- TF-IDF weighting of the sentence features (intently's keys) -----------------------------


TFIDF_TEXTS = [
    "我想订一张去北京的机票", "帮我 订 机票", "播放 周杰伦 的 歌", "book a table for two",
    "Book a flight to Berlin", "play some music please", "play play play music", "天气 怎么样 今天",
]


@pytest.mark.parametrize(
    "config",
    [
        {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 3, "sublinear_tf": True, "use_idf": True, "norm": "l2"},
        {"analyzer": "word", "max_ngram": 2, "sublinear_tf": True, "use_idf": True, "norm": "l2"},
        {"analyzer": "char", "min_ngram": 2, "max_ngram": 2, "use_idf": True, "norm": "l1"},
        {"analyzer": "word", "sublinear_tf": True},
        {"analyzer": "word", "norm": "l2"},
    ],
)
def test_weighted_sentence_features_equal_sklearn_tfidf(config) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    pipeline = fit(TFIDF_TEXTS[:6], **config)
    vectorizer = TfidfVectorizer(
        analyzer=config["analyzer"],
        ngram_range=(config.get("min_ngram", 1), config.get("max_ngram", 1)),
        token_pattern=r"(?u)\b\w+\b" if config["analyzer"] == "word" else None,
        sublinear_tf=config.get("sublinear_tf", False),
        use_idf=config.get("use_idf", False),
        norm=config.get("norm"),
    )
    tokenizer = WhitespaceTokenizer()

    def joined(text: str) -> str:
        return " ".join(t.text.lower() for t in tokenizer.tokens_for(text))

    vectorizer.fit([joined(t) for t in TFIDF_TEXTS[:6]])
    assert pipeline[1].vocabulary.items == sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    rows, sentence = features(pipeline, TFIDF_TEXTS)
    expected = vectorizer.transform([joined(t) for t in TFIDF_TEXTS]).toarray()
    assert np.allclose(sentence, expected, atol=1e-12)
    # the sequence features stay counts
    counts = fit(TFIDF_TEXTS[:6], analyzer=config["analyzer"], min_ngram=config.get("min_ngram", 1),
                 max_ngram=config.get("max_ngram", 1))
    assert all(np.array_equal(a, b) for a, b in zip(rows, features(counts, TFIDF_TEXTS)[0]))


@pytest.mark.parametrize(
    "config",
    [
        {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4, "sublinear_tf": True, "use_idf": True, "norm": "l2"},
        {"analyzer": "word", "max_ngram": 2, "sublinear_tf": True, "use_idf": True, "norm": "l2"},
        {"analyzer": "char", "min_ngram": 2, "max_ngram": 2, "use_idf": True, "norm": "l1"},
        {"analyzer": "word"},
        {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 3},
    ],
)
def test_one_message_gets_the_same_sentence_row_as_in_a_batch(config) -> None:
    """A parse (one message) takes a shorter path to its sentence row; its numbers are the batch's, bit for bit."""
    pipeline = fit(TFIDF_TEXTS[:6], **config)
    texts = [*TFIDF_TEXTS, "play 周杰伦 music music", "unknown words only", ""]
    _, batch = features(pipeline, texts)
    for i, text in enumerate(texts):
        (message,) = parse(pipeline, [text])
        sentence, _ = collect_features([message], "sentence")
        assert np.array_equal(sentence.toarray()[0], batch[i]), text
        assert sentence.has_sorted_indices and list(sentence.indices) == sorted(sentence.indices)


def test_weighting_keys_are_checked() -> None:
    for key, value, message in [
        ("use_idf", "yes", "'use_idf' must be true or false, got 'yes'"),
        ("sublinear_tf", 1, "'sublinear_tf' must be true or false, got 1"),
        ("norm", "l3", "'norm' must be one of null, 'l1', 'l2', got 'l3'"),
    ]:
        with pytest.raises(ComponentConfigError, match=message):
            featurizer(**{key: value})


def test_idf_is_persisted_and_checked_at_load(tmp_path) -> None:
    pipeline = fit(TFIDF_TEXTS[:6], use_idf=True, norm="l2")
    loaded = persist_and_load(pipeline[1], tmp_path / "ok")
    assert np.array_equal(features([pipeline[0], loaded], TFIDF_TEXTS)[1], features(pipeline, TFIDF_TEXTS)[1])
    folder = tmp_path / "damaged"
    folder.mkdir()
    meta = pipeline[1].persist("cv", folder)
    state_file = folder / meta["vocabulary_file"]
    state = json.loads(state_file.read_text())
    for bad in (state["idf"][:-1], [0.5] * len(state["idf"]), None):
        state["idf"] = bad
        state_file.write_text(json.dumps(state))
        entry = {"name": "CountVectorsFeaturizer", "unique_name": "cv", "config": pipeline[1].config, "meta": meta}
        with pytest.raises(ComponentError, match="idf"):
            CountVectorsFeaturizer.load(entry, folder)


def test_finetune_recomputes_idf_with_the_new_ngrams(tmp_path) -> None:
    base = fit(["hello world", "hello there"], use_idf=True, additional_vocabulary_size=4)
    loaded = persist_and_load(base[1], tmp_path, finetune=True)
    pipeline = [base[0], loaded]
    train(pipeline, examples((t, None) for t in ["hello world", "good world", "good morning"]))
    idf = dict(zip(loaded.vocabulary.items, loaded.idf))
    n = 3
    assert idf["hello"] == pytest.approx(np.log((1 + n) / (1 + 1)) + 1)
    assert idf["world"] == pytest.approx(np.log((1 + n) / (1 + 2)) + 1)
    assert idf["there"] == pytest.approx(np.log((1 + n) / (1 + 0)) + 1)  # known, absent from the new data
    assert idf["morning"] == pytest.approx(np.log((1 + n) / (1 + 1)) + 1)  # new, in a reserved column
    assert loaded.dimension == base[1].dimension
