"""SpacyNLP, SpacyTokenizer, SpacyFeaturizer, SpacyEntityExtractor on small spaCy pipelines built and saved here.

No model is downloaded: a blank Chinese pipeline gets a few word vectors, a
rule that tags two characters and a tiny named-entity recognizer trained in
the fixture, and is loaded back by its path, as a user's model would be.
"""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

import intently
from intently.errors import ComponentConfigError, ComponentError, MissingDependencyError
from intently.message import Message
from intently.plugins.featurizers.spacy_featurizer import SpacyFeaturizer
from intently.plugins.spacy_nlp import SPACY_DOC_KEY, SpacyNLP, lower_keeping_offsets
from intently.plugins.tokenizers.spacy_tokenizer import SpacyTokenizer
from intently.testing import check_component
from intently.training_data import read_yaml_string

spacy = pytest.importorskip("spacy", reason="the spacy extra is not installed")

WIDTH = 8
CHARACTERS = "我想去北京上海订票你好谢谢再见"
NER_EXAMPLES = [
    ("我想去北京", [(3, 5, "GPE")]),
    ("我想去上海", [(3, 5, "GPE")]),
    ("北京你好", [(0, 2, "GPE")]),
    ("上海再见", [(0, 2, "GPE")]),
    ("订票去北京", [(3, 5, "GPE")]),
    ("你好谢谢", []),
]
DATA = read_yaml_string(
    """
version: "3.1"
nlu:
- intent: travel
  examples: |
    - 我想去北京
    - 我想去上海
    - 订票去北京
    - 去上海订票
- intent: greet
  examples: |
    - 你好
    - 你好你好
    - 谢谢你好
- intent: bye
  examples: |
    - 再见
    - 谢谢再见
    - 再见再见
"""
)


def vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=WIDTH).astype(np.float32)


def build_pipeline(path, *, seed_offset: int = 0, lang: str = "zh") -> None:
    from spacy.training import Example

    spacy.util.fix_random_seed(0)
    nlp = spacy.blank(lang)
    for index, char in enumerate(CHARACTERS):
        nlp.vocab.set_vector(char, vector(index + seed_offset))
    ruler = nlp.add_pipe("attribute_ruler")
    ner = nlp.add_pipe("ner")
    ner.add_label("GPE")
    examples = [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in NER_EXAMPLES]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(40):
        nlp.update(examples, sgd=optimizer, drop=0.0)
    ruler.add([[{"ORTH": "北"}], [{"ORTH": "京"}]], {"TAG": "NNP"})  # initialize() clears the rules
    nlp.to_disk(path)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("spacy") / "zh_tiny"
    build_pipeline(path)
    return str(path)


@pytest.fixture(scope="module")
def english_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("spacy") / "en_vectors"
    nlp = spacy.blank("en")
    nlp.vocab.set_vector("hello", vector(1))
    nlp.vocab.set_vector("world", vector(2))
    nlp.vocab.set_vector("hi_there", vector(3))
    nlp.to_disk(path)
    return str(path)


def pipeline_config(model: str, **nlp_settings) -> dict:
    return {
        "language": "zh",
        "pipeline": [
            {"name": "SpacyNLP", "model": model, **nlp_settings},
            {"name": "SpacyTokenizer"},
            {"name": "SpacyFeaturizer"},
            {"name": "LogisticRegressionClassifier"},
            {"name": "SpacyEntityExtractor"},
        ],
    }


def loaded_nlp(model: str, **settings) -> SpacyNLP:
    nlp = SpacyNLP({"model": model, **settings})
    nlp.provide_context()
    return nlp


def featurized(model: str, texts: list[str], *, nlp_settings=None, tokenizer=None, pooling="mean") -> list[Message]:
    nlp = loaded_nlp(model, **(nlp_settings or {}))
    messages = [Message(text=t) for t in texts]
    nlp.process(messages)
    SpacyTokenizer(tokenizer or {}).process(messages)
    featurizer = SpacyFeaturizer({"pooling": pooling})
    featurizer.process(messages)
    return messages


def rows(message: Message, kind: str) -> np.ndarray:
    (ref,) = [ref for ref in message.features if ref.kind == kind]
    return np.asarray(ref.matrix)


# --- the whole pipeline ---------------------------------------------------------------------------------


def test_a_spacy_pipeline_trains_persists_loads_by_path_and_parses(model_path, tmp_path):
    interpreter = intently.Trainer(pipeline_config(model_path)).train(DATA)
    archive = interpreter.persist(tmp_path, fixed_model_name="spacy")
    loaded = intently.load_model(archive)
    result = loaded.parse("我想去北京")
    assert result["intent"]["name"] == "travel"
    assert result["entities"] == [
        {"entity": "GPE", "start": 3, "end": 5, "value": "北京", "extractor": "SpacyEntityExtractor",
         "confidence": None}
    ]
    assert "_spacy_doc" not in result
    assert loaded.parse("谢谢再见")["intent"]["name"] == "bye"
    assert [loaded.parse(t)["intent"]["name"] for t in ("你好", "去上海")] == ["greet", "travel"]


def test_finetuning_loads_the_same_model_and_a_changed_model_is_refused(model_path, tmp_path):
    archive = intently.Trainer(pipeline_config(model_path)).train(DATA).persist(tmp_path, fixed_model_name="base")
    finetuned = intently.Trainer(pipeline_config(model_path)).train(DATA, base_model=archive, epoch_fraction=0.5)
    assert finetuned.parse("我想去上海")["intent"]["name"] == "travel"
    changed = tmp_path / "changed"
    shutil.copytree(model_path, changed)
    other = tmp_path / "other"
    build_pipeline(other, seed_offset=100)
    shutil.rmtree(changed / "vocab")
    shutil.copytree(other / "vocab", changed / "vocab")
    moved = intently.Trainer(pipeline_config(str(changed))).train(DATA).persist(tmp_path, fixed_model_name="c")
    shutil.rmtree(changed)
    shutil.copytree(model_path, changed)  # the same path, other vectors
    with pytest.raises(ComponentError, match="word vectors differ"):
        intently.load_model(moved)


# --- tokens and features ------------------------------------------------------------------------------------


def test_tokens_have_offsets_tags_and_keep_the_original_case(model_path, english_path):
    (message,) = featurized(model_path, ["我想去北京"])
    assert [(t.text, t.start, t.end) for t in message.tokens] == [
        ("我", 0, 1), ("想", 1, 2), ("去", 2, 3), ("北", 3, 4), ("京", 4, 5)
    ]
    assert [t.data.get("pos") for t in message.tokens] == [None, None, None, "NNP", "NNP"]
    (english,) = featurized(english_path, ["Hello  WORLD!"])
    assert [(t.text, t.start, t.end) for t in english.tokens] == [("Hello", 0, 5), ("WORLD", 7, 12), ("!", 12, 13)]
    assert english.data[SPACY_DOC_KEY].text == "hello  world!"


def test_sequence_features_are_the_word_vectors_and_the_sentence_pools_the_nonzero_ones(model_path):
    (message,) = featurized(model_path, ["我想去北京吗"])  # 吗 has no vector
    sequence = rows(message, "sequence")
    expected = np.stack([vector(CHARACTERS.index(c)) for c in "我想去北京"] + [np.zeros(WIDTH, np.float32)])
    np.testing.assert_allclose(sequence, expected, rtol=1e-6)
    np.testing.assert_allclose(rows(message, "sentence")[0], expected[:5].mean(axis=0), rtol=1e-5)
    (maxed,) = featurized(model_path, ["我想去北京吗"], pooling="max")
    np.testing.assert_allclose(rows(maxed, "sentence")[0], expected[:5].max(axis=0), rtol=1e-6)
    (unknown,) = featurized(model_path, ["吗呢"])
    assert not rows(unknown, "sentence").any()


def test_case_sensitivity_decides_which_vector_a_word_gets(english_path):
    insensitive, = featurized(english_path, ["Hello world"])
    sensitive, = featurized(english_path, ["Hello world"], nlp_settings={"case_sensitive": True})
    np.testing.assert_allclose(rows(insensitive, "sequence")[0], vector(1))
    assert not rows(sensitive, "sequence")[0].any()
    np.testing.assert_allclose(rows(sensitive, "sequence")[1], vector(2))
    assert lower_keeping_offsets("İSTANBUL Straße") == "İstanbul straße"


def test_tokens_cut_by_a_token_pattern_or_spanning_several_spacy_tokens_get_their_mean(english_path):
    (message,) = featurized(english_path, ["hi_there hello"], tokenizer={"token_pattern": r"[a-z]+"})
    assert [t.text for t in message.tokens] == ["hi", "there", "hello"]  # one spaCy token cut in two
    np.testing.assert_allclose(rows(message, "sequence"), np.stack([vector(3), vector(3), vector(1)]), rtol=1e-6)
    nlp = loaded_nlp(english_path)
    whole = Message(text="hello world")
    nlp.process([whole])
    whole.tokens = [intently.Token("hello world", 0, 11)]
    SpacyFeaturizer().process([whole])
    np.testing.assert_allclose(rows(whole, "sequence")[0], (vector(1) + vector(2)) / 2, rtol=1e-6)


def test_a_model_without_vectors_adds_no_features_with_a_warning(tmp_path, caplog):
    path = tmp_path / "blank"
    spacy.blank("zh").to_disk(path)
    config = pipeline_config(str(path))
    config["pipeline"][3:] = [{"name": "CountVectorsFeaturizer", "analyzer": "char"},
                              {"name": "LogisticRegressionClassifier"}]
    with caplog.at_level(logging.WARNING):
        interpreter = intently.Trainer(config).train(DATA)
    assert "no word vectors" in caplog.text
    assert interpreter.parse("再见")["intent"]["name"] == "bye"


def test_entities_are_filtered_by_dimensions(model_path):
    config = pipeline_config(model_path)
    config["pipeline"][-1]["dimensions"] = ["PERSON"]
    interpreter = intently.Trainer(config).train(DATA)
    assert interpreter.parse("我想去北京")["entities"] == []


# --- errors ------------------------------------------------------------------------------------------------


def test_a_missing_model_says_how_to_install_it(tmp_path):
    with pytest.raises(MissingDependencyError) as caught:
        intently.Trainer(pipeline_config("xx_missing_model_md")).train(DATA)
    assert caught.value.code == "E303" and "python -m spacy download xx_missing_model_md" in str(caught.value)
    with pytest.raises(MissingDependencyError, match="no saved spaCy pipeline in that folder"):
        loaded_nlp(str(tmp_path / "nowhere"))
    with pytest.raises(ComponentConfigError, match="needs `model`"):
        intently.Trainer({"language": "zh", "pipeline": [{"name": "SpacyNLP"}, {"name": "SpacyTokenizer"}]})


def test_the_spacy_components_need_spacynlp_before_them():
    with pytest.raises(intently.errors.PipelineError, match="SpacyNLP"):
        intently.Trainer({"language": "zh", "pipeline": [{"name": "SpacyTokenizer"}]})
    with pytest.raises(ComponentConfigError, match="pooling"):
        SpacyFeaturizer({"pooling": "sum"})


def test_conformance_checks(model_path):
    check_component(SpacyTokenizer, DATA, before=[{"name": "SpacyNLP", "model": model_path}], language="zh")
    check_component(
        SpacyFeaturizer, DATA, before=[{"name": "SpacyNLP", "model": model_path}, "SpacyTokenizer"],
        after=["LogisticRegressionClassifier"], language="zh",
    )
