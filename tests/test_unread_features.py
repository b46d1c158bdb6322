"""Feature kinds no component reads: declared by ``reads_features``, skipped by CountVectorsFeaturizer when parsing."""

from __future__ import annotations

import json

import numpy as np
from component_helpers import intent_data, parse, train
from toy_components import ToyClassifier

import intently
from intently.component import Component
from intently.features import SENTENCE, SEQUENCE, collect_features
from intently.pipeline import unread_feature_kinds
from intently.plugins.classifiers.logistic_regression import LogisticRegressionClassifier
from intently.plugins.extractors.crf_entity_extractor import CRFEntityExtractor
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

INTENTS = {
    "天气": ["明天 北京 下雨 吗", "上海 今天 天气 怎么样", "weather in 深圳 tomorrow", "会 下雪 吗"],
    "订餐": ["帮 我 订 一份 披萨", "order 两碗 牛肉面", "我 想 点 外卖", "订 一份 寿司 to 公司"],
    "音乐": ["播放 周杰伦 的 歌", "play some 爵士 music", "来 一首 轻音乐", "放 点 摇滚"],
}
TEXTS = ["北京 明天 会 下雨 吗", "订 一份 牛肉面", "play 周杰伦", "完全 陌生 的 话", ""]


def test_unread_kinds_follow_the_declarations() -> None:
    tokenizer, featurizer = WhitespaceTokenizer(), CountVectorsFeaturizer()
    assert unread_feature_kinds([tokenizer, featurizer]) == {SEQUENCE, SENTENCE}
    assert unread_feature_kinds([tokenizer, featurizer, LogisticRegressionClassifier()]) == {SEQUENCE}
    assert unread_feature_kinds([tokenizer, featurizer, CRFEntityExtractor()]) == {SENTENCE}
    both = [tokenizer, featurizer, LogisticRegressionClassifier(), CRFEntityExtractor()]
    assert unread_feature_kinds(both) == frozenset()
    # A component that does not declare what it reads may read anything (third-party components).
    assert ToyClassifier.reads_features is None
    assert unread_feature_kinds([tokenizer, featurizer, ToyClassifier()]) == frozenset()
    assert unread_feature_kinds([tokenizer, object()]) == frozenset()


def test_the_base_component_ignores_the_hint() -> None:
    component = ToyClassifier()
    component.skip_unread_features(frozenset({SEQUENCE}))  # no error, nothing to skip
    assert isinstance(component, Component)


def test_a_skipped_parse_attaches_the_same_sentence_features_and_no_sequence_ones() -> None:
    for config in ({"max_ngram": 2, "sublinear_tf": True, "use_idf": True, "norm": "l2"},
                   {"analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4, "use_idf": True, "norm": "l2"},
                   {"analyzer": "char", "max_ngram": 3}, {}):
        pipeline = [WhitespaceTokenizer(), CountVectorsFeaturizer({**config, "additional_vocabulary_size": 0},
                                                                  unique_name="cv")]
        train(pipeline, intent_data(INTENTS))
        for text in TEXTS:
            full = parse(pipeline, [text])
            pipeline[1].skip_unread_features(frozenset({SEQUENCE}))
            assert pipeline[1].skip_sequence
            skipped = parse(pipeline, [text])
            pipeline[1].skip_sequence = False
            expected, _ = collect_features(full, SENTENCE)
            got, _ = collect_features(skipped, SENTENCE)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            assert np.array_equal(got.indices, expected.indices) and np.array_equal(got.data, expected.data), config
            assert collect_features(skipped, SEQUENCE)[0] is None
            assert collect_features(full, SEQUENCE)[0].shape[0] == len(text.split())


def test_a_sentence_only_hint_leaves_sequence_features_on() -> None:
    featurizer = CountVectorsFeaturizer()
    featurizer.skip_unread_features(frozenset({SENTENCE}))
    assert not featurizer.skip_sequence


def test_the_default_pipeline_parses_without_sequence_features_and_identically(tmp_path) -> None:
    interpreter = intently.Trainer({"language": "en"}).train(intent_data(INTENTS))
    featurizers = [c for c in interpreter.components if isinstance(c, CountVectorsFeaturizer)]
    assert len(featurizers) == 2 and all(f.skip_sequence for f in featurizers)
    skipped = [interpreter.parse(text) for text in TEXTS] + interpreter.parse_batch(TEXTS)
    for featurizer in featurizers:
        featurizer.skip_sequence = False
    full = [interpreter.parse(text) for text in TEXTS] + interpreter.parse_batch(TEXTS)
    assert json.dumps(skipped, sort_keys=True) == json.dumps(full, sort_keys=True)
    # A loaded model is told the same.
    archive = interpreter.persist(tmp_path / "models", fixed_model_name="model")
    loaded = intently.Interpreter.load(archive)
    assert all(c.skip_sequence for c in loaded.components if isinstance(c, CountVectorsFeaturizer))
    assert [loaded.parse(text) for text in TEXTS] == [dict(p) for p in full[: len(TEXTS)]]


def test_a_pipeline_that_reads_sequence_features_keeps_them() -> None:
    config = {"language": "en", "pipeline": [
        {"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
        {"name": "LogisticRegressionClassifier"}, {"name": "CRFEntityExtractor"}]}
    interpreter = intently.Trainer(config).train(intent_data(INTENTS))
    assert not any(c.skip_sequence for c in interpreter.components if isinstance(c, CountVectorsFeaturizer))
