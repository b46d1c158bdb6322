"""LexicalSyntacticFeaturizer: Rasa's window features, one-hot columns, reserved room, finetuning."""

from __future__ import annotations

import logging

import pytest
from component_helpers import examples, parse, persist_and_load, train

from intently.component import SPARSE_FEATURES, TOKENS
from intently.errors import ComponentConfigError, ComponentError
from intently.features import collect_features, feature_origins
from intently.message import Message
from intently.plugins.featurizers.lexical_syntactic import (
    SUPPORTED_FEATURES,
    LexicalSyntacticFeaturizer,
    window_offsets,
)
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.testing import check_component
from intently.training_data import read_yaml_string

SMALL = [["low"], ["BOS", "EOS", "suffix2"], ["title"]]


def fit(texts, **config) -> list:
    """A trained [tokenizer, featurizer] pipeline."""
    config.setdefault("additional_vocabulary_size", 0)
    pipeline = [WhitespaceTokenizer(), LexicalSyntacticFeaturizer(config, unique_name="lexical")]
    train(pipeline, examples((text, None) for text in texts))
    return pipeline


def rows(pipeline, texts) -> list[list[list[int]]]:
    """The sequence rows of each message, as column lists (sorted)."""
    messages = parse(pipeline, texts)
    matrix, offsets = collect_features(messages, "sequence")
    result = []
    for i in range(len(messages)):
        part = matrix[offsets[i] : offsets[i + 1]]
        result.append([part.indices[part.indptr[r] : part.indptr[r + 1]].tolist() for r in range(part.shape[0])])
        assert set(part.data.tolist()) <= {1.0}
    return result


# --- exact features -------------------------------------------------------------------------


def test_vocabulary_in_rasa_order() -> None:
    pipeline = fit(["Hello big World"], features=SMALL)
    assert pipeline[1].vocabulary.items == [
        "0:low:False",
        "0:low:True",
        "1:BOS:False",
        "1:BOS:True",
        "1:EOS:False",
        "1:EOS:True",
        "1:suffix2:ig",
        "1:suffix2:ld",
        "1:suffix2:lo",
        "2:title:False",
        "2:title:True",
    ]
    assert pipeline[1].dimension == 11


def test_features_by_hand() -> None:
    pipeline = fit(["Hello big World"], features=SMALL)
    assert rows(pipeline, ["Hello big World", "ok"]) == [
        [
            [3, 4, 8, 9],  # Hello: BOS, not EOS, "lo"; next "big" is not title
            [0, 2, 4, 6, 10],  # big: previous not low; "ig"; next "World" is title
            [1, 2, 5, 7],  # World: previous low; EOS; "ld"; no next token
        ],
        [[3, 5]],  # ok: BOS and EOS; suffix "ok" unknown
    ]


def test_values_are_collected_where_they_occur_in_the_window() -> None:
    # Position 0 looks one token back: the last token's suffix is never seen there (Rasa's rule).
    pipeline = fit(["ab cd"], features=[["suffix1"], [], []])
    assert pipeline[1].vocabulary.items == ["0:suffix1:b"]
    assert rows(pipeline, ["ab cd", "cd ab"]) == [[[], [0]], [[], []]]


def test_even_windows_look_one_more_token_back() -> None:
    assert window_offsets(1) == [0]
    assert window_offsets(3) == [-1, 0, 1]
    assert window_offsets(4) == [-2, -1, 0, 1]
    pipeline = fit(["A b C d"], features=[["upper"], [], [], []])
    # upper of the token two back: columns "0:upper:False" (0), "0:upper:True" (1).
    assert rows(pipeline, ["A b C d"]) == [[[], [], [1], [0]]]


def test_default_config_is_rasas_and_needs_no_reserve() -> None:
    featurizer = LexicalSyntacticFeaturizer()
    assert featurizer.config["features"] == [
        ["low", "title", "upper"],
        ["BOS", "EOS", "low", "upper", "title", "digit"],
        ["low", "title", "upper"],
    ]
    pipeline = [WhitespaceTokenizer(), featurizer]
    train(pipeline, examples([("hello World 42", None)]))
    # Only yes/no features: every value has a column from the start, no reserve by default.
    assert len(featurizer.vocabulary) == featurizer.dimension == 24
    (message,) = parse(pipeline, ["Hi"])
    assert feature_origins([message], "sequence") == [featurizer.unique_name]
    assert feature_origins([message], "sentence") == []  # Rasa 3.6 has no sentence features


def test_default_reserve_for_open_ended_features() -> None:
    pipeline = [WhitespaceTokenizer(), LexicalSyntacticFeaturizer({"features": [["prefix2"]]})]
    train(pipeline, examples([("hello world", None)]))
    assert len(pipeline[1].vocabulary) == 2
    assert pipeline[1].dimension == 2 + 1000


def test_punctuation_digits_and_case() -> None:
    pipeline = fit(["Hi 42 NASA"], features=[["digit", "upper", "title", "low", "suffix1"]])
    items = pipeline[1].vocabulary.items
    (message_rows,) = rows(pipeline, ["42, NASA!"])  # tokens "42" and "NASA"
    named = [[items[c] for c in row] for row in message_rows]
    assert named == [
        ["0:digit:True", "0:low:False", "0:suffix1:2", "0:title:False", "0:upper:False"],
        ["0:digit:False", "0:low:False", "0:suffix1:A", "0:title:False", "0:upper:True"],
    ]


def test_empty_messages_have_no_rows() -> None:
    pipeline = fit(["hello"], features=SMALL)
    messages = parse(pipeline, ["", "   ", "hello"])
    matrix, offsets = collect_features(messages, "sequence")
    assert offsets.tolist() == [0, 0, 0, 1]
    assert matrix.shape == (1, pipeline[1].dimension)


def test_chinese_tokens() -> None:
    pipeline = fit(["我想去 北京"], features=[["suffix1", "low"]])
    items = pipeline[1].vocabulary.items
    assert "0:suffix1:京" in items and "0:suffix1:去" in items
    (message_rows,) = rows(pipeline, ["北京"])
    assert [items[c] for c in message_rows[0]] == ["0:low:False", "0:suffix1:京"]


def test_part_of_speech_tags_from_token_data(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="intently")
    def tagged(text: str, tags: list[str]) -> Message:
        message = Message(text)
        message.tokens = WhitespaceTokenizer().tokens_for(text)
        for token, tag in zip(message.tokens, tags):
            token.data["pos"] = tag
        return message

    featurizer = LexicalSyntacticFeaturizer(
        {"features": [["pos", "pos2"]], "additional_vocabulary_size": 0}, unique_name="lexical"
    )
    training = examples([])
    training.training_examples = [tagged("dogs run", ["NNS", "VB"])]
    featurizer.train(training)
    assert featurizer.vocabulary.items == ["0:pos:NNS", "0:pos:VB", "0:pos2:NN", "0:pos2:VB"]
    message = tagged("cats run", ["NNS", "VBZ"])
    featurizer.process([message])
    matrix, _ = collect_features([message], "sequence")
    assert matrix.toarray().tolist() == [[1, 0, 1, 0], [0, 0, 0, 1]]  # "VBZ" is new, "VB" known

    # Without tags: no pos features at all (Rasa would use the value "None"), and a warning.
    untagged = fit(["dogs run"], features=[["pos", "low"]])
    assert untagged[1].vocabulary.items == ["0:low:False", "0:low:True"]
    assert "no token has a part-of-speech tag" in caplog.text


# --- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "features",
    [[], [["low", "nope"]], "low", [["low"], "upper"], [["low", "low"]], [[1]]],
)
def test_invalid_features(features) -> None:
    with pytest.raises(ComponentConfigError):
        LexicalSyntacticFeaturizer({"features": features})


@pytest.mark.parametrize("value", [-1, 2.5, True, {"text": 10}])
def test_invalid_reserve(value) -> None:
    with pytest.raises(ComponentConfigError, match="additional_vocabulary_size"):
        LexicalSyntacticFeaturizer({"additional_vocabulary_size": value})


def test_declarations() -> None:
    assert LexicalSyntacticFeaturizer.requires == (TOKENS,)
    assert LexicalSyntacticFeaturizer.provides == (SPARSE_FEATURES,)
    assert SUPPORTED_FEATURES == (
        "BOS", "EOS", "digit", "low", "pos", "pos2", "prefix2", "prefix5",
        "suffix1", "suffix2", "suffix3", "suffix5", "text", "title", "upper", "word", "word_boundary",
    )  # fmt: skip
    with pytest.raises(ComponentConfigError, match="did you mean"):
        LexicalSyntacticFeaturizer({"feature": [["low"]]})


def test_untrained_or_untokenized_is_an_error() -> None:
    with pytest.raises(ComponentError, match="not trained"):
        LexicalSyntacticFeaturizer().process([Message("hi")])
    pipeline = fit(["hi"])
    with pytest.raises(ComponentError, match="has no tokens"):
        pipeline[1].process([Message("hi")])


# --- persistence, conformance ---------------------------------------------------------------


def test_persist_and_load_give_identical_features(tmp_path) -> None:
    pipeline = fit(["Hello big World", "see you 2morrow"], features=SMALL, additional_vocabulary_size=5)
    loaded = persist_and_load(pipeline[1], tmp_path)
    assert loaded.vocabulary.items == pipeline[1].vocabulary.items
    assert loaded.dimension == pipeline[1].dimension == 11 + 3 + 5  # "ee", "ou", "ow"; 5 reserved
    texts = ["Hello you", "", "World big Hello see"]
    assert rows([pipeline[0], loaded], texts) == rows(pipeline, texts)


def test_check_component() -> None:
    data = read_yaml_string(
        """
nlu:
- intent: greet
  examples: |
    - Hello there
    - hi, how are you?
- intent: book
  examples: |
    - book a TABLE for 2 people
    - I need a room at 8pm
"""
    )
    check_component(LexicalSyntacticFeaturizer, data, before=["WhitespaceTokenizer"])
    check_component(
        LexicalSyntacticFeaturizer,
        data,
        before=["WhitespaceTokenizer"],
        config={"features": [["prefix2", "suffix3"], ["BOS", "prefix5", "suffix1"]], "additional_vocabulary_size": 10},
    )


# --- finetuning -----------------------------------------------------------------------------


def finetuned(tmp_path, first, second, **config):
    base = fit(first, **config)
    loaded = persist_and_load(base[1], tmp_path, finetune=True)
    assert loaded.finetune_mode
    pipeline = [base[0], loaded]
    train(pipeline, examples((text, None) for text in second))
    return base, pipeline


def test_finetune_puts_new_values_into_reserved_columns(tmp_path) -> None:
    base, pipeline = finetuned(
        tmp_path, ["hello world"], ["hello world", "cat"], features=[["suffix2"]], additional_vocabulary_size=2
    )
    assert base[1].vocabulary.items == ["0:suffix2:ld", "0:suffix2:lo"]
    assert pipeline[1].vocabulary.items == ["0:suffix2:ld", "0:suffix2:lo", "0:suffix2:at"]
    assert pipeline[1].dimension == base[1].dimension == 4
    assert rows(pipeline, ["cat world"]) == [[[2], [0]]]
    assert rows(base, ["cat world"]) == [[[], [0]]]  # known values keep their columns
    reloaded = persist_and_load(pipeline[1], tmp_path / "again")
    assert rows([pipeline[0], reloaded], ["cat world"]) == [[[2], [0]]]


def test_exhausting_the_reserve_is_a_clear_error(tmp_path) -> None:
    _, pipeline = finetuned(tmp_path, ["hello world"], ["cat"], features=[["suffix2"]], additional_vocabulary_size=2)
    loaded = persist_and_load(pipeline[1], tmp_path / "second", finetune=True)
    with pytest.raises(ComponentError) as caught:
        train([pipeline[0], loaded], examples([("dog fish", None)]))
    message = str(caught.value)
    assert "needs 2 reserved feature columns" in message and "only 1 are available" in message
    assert "from scratch" in message and "additional_vocabulary_size" in message


def test_training_without_finetune_starts_from_scratch(tmp_path) -> None:
    base = fit(["hello world"], features=[["suffix2"]])
    loaded = persist_and_load(base[1], tmp_path)
    train([base[0], loaded], examples([("cat", None)]))
    assert loaded.vocabulary.items == ["0:suffix2:at"]


# --- against a straightforward reference ------------------------------------------------------


def _reference_rows(featurizer: LexicalSyntacticFeaturizer, message: Message) -> list[list[int]]:
    """Rasa's algorithm, token by token, mapped through the featurizer's vocabulary."""
    tokens = message.tokens or []
    config = featurizer.feature_config
    offsets = window_offsets(len(config))
    index = featurizer.vocabulary.index
    result = []
    for anchor in range(len(tokens)):
        columns = []
        for position, (offset, names) in enumerate(zip(offsets, config)):
            at = anchor + offset
            if not 0 <= at < len(tokens):
                continue
            text = tokens[at].text
            for name in names:
                if name == "BOS":
                    value = str(at == 0)
                elif name == "EOS":
                    value = str(at == len(tokens) - 1)
                else:
                    value = {
                        "low": str(text.islower()), "title": str(text.istitle()),
                        "upper": str(text.isupper()), "digit": str(text.isdigit()),
                        "prefix5": text[:5], "prefix2": text[:2], "suffix5": text[-5:],
                        "suffix3": text[-3:], "suffix2": text[-2:], "suffix1": text[-1:],
                    }[name]  # fmt: skip
                column = index.get(f"{position}:{name}:{value}")
                if column is not None:
                    columns.append(column)
        result.append(sorted(columns))
    return result


@pytest.mark.parametrize(
    "features",
    [
        None,
        [["prefix2", "BOS"], ["suffix3", "EOS", "upper"], ["prefix5", "EOS"], ["BOS", "digit"]],
        [["suffix1", "EOS"]],
    ],
)
def test_batches_agree_with_a_token_by_token_reference(features, tmp_path) -> None:
    import random

    rng = random.Random(3)
    words = ["Hello", "hi", "WORLD", "42", "a", "Berlin", "x1", "Ok", "NASA", "the", "zz", "7"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 7))) for _ in range(30)]
    words += ["Zebra", "quux99", "Tail", "MORE"]
    texts += [" ".join(rng.choice(words) for _ in range(rng.randint(1, 7))) for _ in range(30)]
    config = {"additional_vocabulary_size": 20}
    if features is not None:
        config["features"] = features
    pipeline = fit(texts[:30], **config)
    # Finetune so that some values sit in reserved columns (out of sorted order).
    loaded = persist_and_load(pipeline[1], tmp_path, finetune=True)
    train([pipeline[0], loaded], examples((text, None) for text in texts[30:]))
    if features is not None:
        assert len(loaded.vocabulary) > len(pipeline[1].vocabulary)
    pipeline = [pipeline[0], loaded]
    messages = parse(pipeline, texts)
    assert rows(pipeline, texts) == [_reference_rows(loaded, m) for m in messages]
    assert [rows(pipeline, [text])[0] for text in texts[:10]] == rows(pipeline, texts[:10])
