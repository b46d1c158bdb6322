"""Chinese out of the box (issue 25): annotations that cut through tokens, jieba's
learned words, the zh behaviour of the featurizers, the zh default pipeline."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from component_helpers import annotated as annotated_lines, persist_and_load

import intently
from intently.config import ModelConfig, default_pipeline, load_config
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer
from intently.plugins.featurizers.lexical_syntactic import CASELESS_FEATURES, LexicalSyntacticFeaturizer
from intently.plugins.featurizers.regex_featurizer import RegexFeaturizer
from intently.plugins.tokenizers.jieba_tokenizer import LEARNED_WORDS_FILE, JiebaTokenizer
from intently.plugins.tokenizers.tokenizer import split_tokens, unaligned_annotations
from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
from intently.training_data.model import TrainingData

pytest.importorskip("jieba")

ZH = ModelConfig(language="zh")
EN = ModelConfig(language="en")

SINGERS = ["周杰伦", "林俊杰", "张杰", "王菲", "陈奕迅", "邓紫棋"]
SONG_TEMPLATES = [
    "播放[{s}](singer)的歌",
    "我想听[{s}](singer)唱的歌",
    "给我唱首[{s}](singer)的歌",
    "来一首[{s}](singer)的[英文](language)歌",
]


def annotated(lines: list[str], intent: str = "play") -> TrainingData:
    return annotated_lines(lines, intent)


def song_data() -> TrainingData:
    return annotated([t.format(s=s) for t in SONG_TEMPLATES for s in SINGERS])


def write_yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "nlu.yml"
    path.write_text('version: "3.1"\nnlu:\n' + body, encoding="utf-8")
    return path


# --- annotations that cut through tokens -------------------------------------------------------


def test_split_tokens_cuts_only_inside_tokens() -> None:
    tokens = WhitespaceTokenizer().tokens_for("fly to Berlin now")
    pieces = split_tokens(tokens, "fly to Berlin now", [7, 11, 17, 3])
    assert [(t.text, t.start, t.end) for t in pieces] == [
        ("fly", 0, 3), ("to", 4, 6), ("Berl", 7, 11), ("in", 11, 13), ("now", 14, 17)
    ]


def test_english_annotation_inside_a_token_is_split_and_reported(tmp_path: Path, caplog) -> None:
    data = intently.load_data(write_yaml(tmp_path, (
        "- intent: fly\n  examples: |\n"
        "    - fly to [Berl](city)in now\n"
        "    - fly to [Paris](city) now\n"
    )))
    tokenizer = WhitespaceTokenizer()
    with caplog.at_level(logging.WARNING, logger="intently"):  # named in the warning itself
        tokenizer.train(data, EN)
    first = data.training_examples[0]
    assert [t.text for t in first.tokens] == ["fly", "to", "Berl", "in", "now"]
    assert unaligned_annotations(data.training_examples) == []
    assert "1 entity annotations in 1 training examples" in caplog.text
    assert "nlu.yml:5" in caplog.text and "'Berl'" in caplog.text and "city" in caplog.text
    # parsing does not split: there are no annotations then
    assert [t.text for t in tokenizer.tokens_for("fly to Berlin now")] == ["fly", "to", "Berlin", "now"]


def test_without_splitting_the_annotation_is_reported_and_tokens_stay(caplog) -> None:
    data = annotated(["fly to [Berl](city)in now"], "fly")
    tokenizer = WhitespaceTokenizer({"split_tokens_at_entities": False})
    with caplog.at_level(logging.WARNING, logger="intently"):
        tokenizer.train(data, EN)
    assert [t.text for t in data.training_examples[0].tokens] == ["fly", "to", "Berlin", "now"]
    assert "split_tokens_at_entities is off" in caplog.text
    (annotation,) = unaligned_annotations(data.training_examples)
    assert annotation.entity == "city" and annotation.inside_token


def test_chinese_annotation_inside_a_jieba_word_is_split() -> None:
    # Rasa's segmentation: "首张" is one jieba word, so "张杰" starts inside it
    data = annotated(["给我唱首[张杰](singer)的歌"])
    tokenizer = JiebaTokenizer({"learn_entity_words": False})
    assert "首张" in [t.text for t in tokenizer.tokens_for("给我唱首张杰的歌")]
    tokenizer.train(data, ZH)
    tokens = [t.text for t in data.training_examples[0].tokens]
    assert "首" in tokens and "首张" not in tokens
    assert unaligned_annotations(data.training_examples) == []


def test_a_boundary_between_tokens_is_reported_as_not_mended(caplog) -> None:
    data = annotated(["i live in [Berlin ](city)now"], "inform")
    data.training_examples[0].entities[0].end = 17  # includes the space
    with caplog.at_level(logging.WARNING, logger="intently"):
        WhitespaceTokenizer().train(data, EN)
    (annotation,) = unaligned_annotations(data.training_examples)
    assert not annotation.inside_token
    assert "1 have a boundary between tokens" in caplog.text


UNALIGNED = "do not start and end at token boundaries"
WORD_LEVEL_JIEBA = {"name": "JiebaTokenizer", "learn_entity_words": False}


def test_unaligned_annotations_warn_only_when_the_pipeline_learns_entities(caplog) -> None:
    # "首张 | 杰": the singer annotation starts inside a jieba word
    intents_only = ModelConfig(language="zh", pipeline=[
        WORD_LEVEL_JIEBA, {"name": "CountVectorsFeaturizer"}, {"name": "LogisticRegressionClassifier"},
        {"name": "EntitySynonymMapper"}, {"name": "RegexEntityExtractor"},
    ])
    with caplog.at_level(logging.INFO, logger="intently"):
        JiebaTokenizer({"learn_entity_words": False}).train(annotated(["给我唱首[张杰](singer)的歌"]), intents_only)
    assert UNALIGNED in caplog.text  # still said, once, at INFO
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and UNALIGNED in r.getMessage()]

    no_diet_entities = ModelConfig(language="zh", pipeline=[
        WORD_LEVEL_JIEBA, {"name": "CountVectorsFeaturizer"},
        {"name": "DIETClassifier", "entity_recognition": False},
    ])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="intently"):
        JiebaTokenizer({"learn_entity_words": False}).train(annotated(["给我唱首[张杰](singer)的歌"]), no_diet_entities)
    assert UNALIGNED not in caplog.text

    for extractor in ({"name": "CRFEntityExtractor"}, {"name": "DIETClassifier"}):
        learns = ModelConfig(language="zh", pipeline=[WORD_LEVEL_JIEBA, {"name": "CountVectorsFeaturizer"}, extractor])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="intently"):
            JiebaTokenizer({"learn_entity_words": False}).train(annotated(["给我唱首[张杰](singer)的歌"]), learns)
        assert "1 entity annotations in 1 training examples " + UNALIGNED in caplog.text, extractor


def test_english_default_pipeline_does_not_warn_about_unaligned_annotations(caplog) -> None:
    config = load_config({"language": "en"})
    assert config.used_default_pipeline
    with caplog.at_level(logging.WARNING, logger="intently"):
        WhitespaceTokenizer().train(annotated(["fly to [Berl](city)in now"], "fly"), config)
    assert UNALIGNED not in caplog.text


def test_crf_does_not_repeat_the_tokenizers_report(caplog) -> None:
    # split_tokens_at_entities off: the annotation stays unaligned and the CRF leaves it out;
    # the tokenizer's warning names it, the CRF's own would only repeat it.
    lines = ["给我唱首[张杰](singer)的歌"] + [t.format(s=s) for t in SONG_TEMPLATES[:2] for s in SINGERS]
    config = {"language": "zh", "pipeline": [
        {"name": "JiebaTokenizer", "learn_entity_words": False, "split_tokens_at_entities": False},
        {"name": "CRFEntityExtractor", "max_iterations": 5},
    ]}
    with caplog.at_level(logging.WARNING, logger="intently"):
        intently.Trainer(config).train(annotated(lines))
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and UNALIGNED in r.getMessage()]
    assert len(warned) == 1 and "split_tokens_at_entities is off" in warned[0] and "'张杰'" in warned[0]


def test_crf_still_warns_about_annotations_no_tokenizer_reported(caplog) -> None:
    from intently.plugins.extractors.crf_entity_extractor import CRFEntityExtractor

    data = annotated(["给我唱首[张杰](singer)的歌", "播放[王菲](singer)的歌"])
    JiebaTokenizer({"learn_entity_words": False}).process(data.training_examples)  # no training: no report
    with caplog.at_level(logging.WARNING, logger="intently"):
        CRFEntityExtractor({"max_iterations": 5}).train(data, ZH)
    assert "'张杰'" in caplog.text and "does not start and end at token boundaries" in caplog.text


def test_data_validate_lists_unaligned_annotations(tmp_path: Path, capsys) -> None:
    from intently.cli.main import main

    data = write_yaml(tmp_path, (
        "- intent: play\n  examples: |\n"
        "    - 给我唱首[张杰](singer)的歌\n"
        "    - 播放[周杰伦](singer)的歌\n"
    ))
    config = tmp_path / "config.yml"
    config.write_text("language: zh\npipeline:\n  - name: JiebaTokenizer\n    learn_entity_words: false\n",
                      encoding="utf-8")
    assert main(["data", "validate", "-d", str(data), "-c", str(config)]) == 0
    err = capsys.readouterr().err
    assert "nlu.yml:5" in err and "'张杰'" in err and "singer" in err
    assert "1 entity annotation(s) do not start and end at token boundaries" in err
    assert main(["data", "validate", "-d", str(data), "-c", str(config), "--fail-on-warnings"]) == 1


# --- jieba learns the training data's words ------------------------------------------------------


def test_glued_names_stay_whole_after_training(tmp_path: Path) -> None:
    unknown = "一只叫瓦力斯的猫"  # a made-up name: jieba glues or splits it arbitrarily
    data = song_data()
    data.training_examples.append(annotated([f"播放[瓦力斯](singer)的歌"]).training_examples[0])
    rasa_like = JiebaTokenizer({"learn_entity_words": False})
    assert "瓦力斯" not in [t.text for t in rasa_like.tokens_for(unknown)]
    tokenizer = JiebaTokenizer()
    tokenizer.train(data, ZH)
    assert unaligned_annotations(data.training_examples) == []
    assert "瓦力斯" in [t.text for t in tokenizer.tokens_for(unknown)]
    # 英文歌 is one word in jieba's dictionary; the annotations cut it, so it is split
    assert [t.text for t in tokenizer.tokens_for("我要听英文歌")][-2:] == ["英文", "歌"]
    # persisted as a plain word list and used after loading
    loaded = persist_and_load(tokenizer, tmp_path / "model")
    stored = (tmp_path / "model" / tokenizer.unique_name / LEARNED_WORDS_FILE).read_text(encoding="utf-8")
    assert "瓦力斯 " in stored and all(len(line.split(" ")) == 2 for line in stored.splitlines())
    assert loaded.tokens_for(unknown) == tokenizer.tokens_for(unknown)
    assert loaded.tokens_for("我要听英文歌") == tokenizer.tokens_for("我要听英文歌")


def test_lookup_entries_become_words_and_finetuning_adds_new_ones(tmp_path: Path) -> None:
    from intently.training_data.model import LookupTable

    data = song_data()
    data.lookup_tables.append(LookupTable(name="singer", elements=["朴树根"]))
    tokenizer = JiebaTokenizer()
    tokenizer.train(data, ZH)
    assert "朴树根" in tokenizer.learned_words
    finetunable = persist_and_load(tokenizer, tmp_path / "model", finetune=True)
    assert "巴啦鲁" not in finetunable.learned_words
    finetunable.train(annotated(["播放[巴啦鲁](singer)的歌"]), ZH)
    assert {"巴啦鲁", "朴树根"} <= set(finetunable.learned_words)
    assert set(tokenizer.learned_words) <= set(finetunable.learned_words)
    assert "巴啦鲁" in [t.text for t in finetunable.tokens_for("来点巴啦鲁的")]


def test_a_common_word_is_not_split_for_one_odd_annotation() -> None:
    lines = [f"播放[{s}](singer)的歌" for s in SINGERS] + ["播[放空](song)"]
    tokenizer = JiebaTokenizer()
    tokenizer.train(annotated(lines), ZH)
    assert [t.text for t in tokenizer.tokens_for("播放音乐")][0] == "播放"


def test_learn_entity_words_off_is_rasas_segmentation() -> None:
    data = song_data()
    off = JiebaTokenizer({"learn_entity_words": False})
    off.train(data, ZH)
    assert off.learned_words == {}
    assert off.tokens_for("我想订一张明天从北京到上海的机票") == JiebaTokenizer().tokens_for(
        "我想订一张明天从北京到上海的机票"
    )


def test_character_tokens_carry_their_jieba_word_and_place() -> None:
    tokenizer = JiebaTokenizer({"token_level": "character"})
    tokens = tokenizer.tokens_for("播放tfboys的歌 123")
    assert [(t.text, t.start, t.end, t.data["word_boundary"]) for t in tokens] == [
        ("播", 0, 1, "B"), ("放", 1, 2, "E"), ("tfboys", 2, 8, "S"), ("的", 8, 9, "S"),
        ("歌", 9, 10, "S"), ("123", 11, 14, "S"),
    ]
    assert tokens[0].data["word"] == "播放"
    data = annotated(["给我唱首[张杰](singer)的歌", "来点[儿歌](type)"])
    JiebaTokenizer({"token_level": "character", "learn_entity_words": False}).train(data, ZH)
    assert unaligned_annotations(data.training_examples) == []  # every character is a token


def test_lexical_window_over_characters_reads_word_boundaries() -> None:
    data = song_data()
    JiebaTokenizer({"token_level": "character"}).train(data, ZH)
    featurizer = LexicalSyntacticFeaturizer()
    featurizer.train(data, ZH)
    from intently.plugins.featurizers.lexical_syntactic import CHARACTER_FEATURES

    assert featurizer.feature_config == CHARACTER_FEATURES
    items = set(featurizer.vocabulary.index)
    assert {"2:word:周杰伦", "2:word_boundary:B", "0:text:播", "4:word_boundary:E"} <= items


# --- featurizers on Chinese text ---------------------------------------------------------------


def test_lexical_features_for_chinese_have_no_case(tmp_path: Path) -> None:
    data = song_data()
    JiebaTokenizer().train(data, ZH)
    featurizer = LexicalSyntacticFeaturizer()
    featurizer.train(data, ZH)
    assert featurizer.feature_config == CASELESS_FEATURES
    items = list(featurizer.vocabulary.index)
    assert not [item for item in items if item.split(":")[1] in ("low", "upper", "title")]
    assert "1:suffix1:伦" in items and "1:prefix2:周杰" in items
    loaded = persist_and_load(featurizer, tmp_path / "model")
    assert loaded.feature_config == CASELESS_FEATURES
    # an explicit window is kept, and English keeps Rasa's default window
    explicit = LexicalSyntacticFeaturizer({"features": [["low"], ["BOS", "low"], ["low"]]})
    explicit.train(data, ZH)
    assert explicit.feature_config == [["low"], ["BOS", "low"], ["low"]]
    english = annotated(["fly to [Berlin](city) now"], "fly")
    WhitespaceTokenizer().train(english, EN)
    default = LexicalSyntacticFeaturizer()
    default.train(english, EN)
    assert default.feature_config == LexicalSyntacticFeaturizer.defaults["features"]


def test_char_ngrams_of_chinese_span_token_boundaries_without_a_space() -> None:
    data = song_data()
    JiebaTokenizer().train(data, ZH)
    featurizer = CountVectorsFeaturizer({"analyzer": "char", "min_ngram": 2, "max_ngram": 2})
    featurizer.train(data, ZH)
    vocabulary = set(featurizer.vocabulary.index)
    assert "放周" in vocabulary  # 播放 | 周杰伦: the n-gram across the two tokens
    assert not any(" " in gram for gram in vocabulary)
    english = CountVectorsFeaturizer({"analyzer": "char", "min_ngram": 2, "max_ngram": 2})
    data_en = annotated(["fly to Berlin"], "fly")
    WhitespaceTokenizer().train(data_en, EN)
    english.train(data_en, EN)
    assert "o " in set(english.vocabulary.index)  # Rasa's: tokens joined by a space
    words = CountVectorsFeaturizer()
    words.train(data, ZH)
    assert "周杰伦" in set(words.vocabulary.index)


def test_regex_featurizer_matches_parts_of_chinese_words() -> None:
    from component_helpers import parse, train

    from intently.features import collect_features
    from intently.training_data.model import RegexPattern

    data = song_data()
    data.regex_features.append(RegexPattern(name="song_word", pattern="歌"))
    pipeline = [JiebaTokenizer(), RegexFeaturizer({"number_additional_patterns": 0})]
    train(pipeline, data, ZH)
    (message,) = parse(pipeline, ["我爱听英文歌曲"])
    sequence, _ = collect_features([message], "sequence")
    rows = sequence.toarray().tolist()
    hits = [t.text for t, row in zip(message.tokens, rows) if row[0]]
    assert hits and all("歌" in text for text in hits)  # the jieba word that holds it
    assert len(hits) < len(message.tokens)


# --- the default pipeline -------------------------------------------------------------------------


def test_zh_default_pipeline_is_diet_with_learned_jieba_words(tmp_path: Path) -> None:
    config = load_config({"language": "zh"})
    assert config.used_default_pipeline
    names = [item["name"] for item in config.pipeline]
    assert names[0] == "JiebaTokenizer" and "DIETClassifier" in names and "EntitySynonymMapper" in names
    assert config.pipeline[0]["token_level"] == "character" and not config.pipeline[0]["learn_entity_words"]
    assert config.pipeline == default_pipeline("zh")
    # the intent comes from logistic regression after DIET (chosen on CAIS dev, docs/chinese.md)
    assert names.index("LogisticRegressionClassifier") == names.index("DIETClassifier") + 1
    classifier = config.pipeline[names.index("LogisticRegressionClassifier")]
    assert classifier["C"] == "auto" and classifier["class_weight"] is None
    assert default_pipeline("en")[0]["name"] == "WhitespaceTokenizer"
