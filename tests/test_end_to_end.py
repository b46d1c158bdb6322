"""Train → persist → load → parse through the public Python API."""

from __future__ import annotations

import subprocess
import sys

import intently
from intently import Entity, Message
from intently.training_data import TrainingData

from conftest import EXAMPLE_PROJECT, REPO


def test_train_and_load_model_on_the_example_project(tmp_path):
    path = intently.train(EXAMPLE_PROJECT / "config.yml", EXAMPLE_PROJECT / "data", tmp_path / "models")
    assert path.parent == tmp_path / "models" and path.name.endswith(".tar.gz")
    interpreter = intently.load_model(tmp_path / "models")  # the newest archive in the folder
    assert interpreter.model_path == path
    # Paraphrases that are not in the training data.
    unseen = {
        "hey, good morning to you": "greet",
        "could you reserve a table for three people": "book_table",
        "track order B12121 for me": "check_order",
        "thanks so much": "thank",
        "what do people call you": "chitchat",
    }
    results = interpreter.parse_batch(list(unseen))
    assert [r["intent"]["name"] for r in results] == list(unseen.values())
    booking = interpreter.parse("book a table for two tonight")
    assert [(e["entity"], e["value"], e["extractor"]) for e in booking["entities"]] == [
        ("people", "two", "CRFEntityExtractor"), ("time", "tonight", "CRFEntityExtractor"),
    ]
    search = interpreter.parse("any good sushi places in Berlin?")
    assert [(e["entity"], e["value"], e.get("processors")) for e in search["entities"]] == [
        ("cuisine", "japanese", ["EntitySynonymMapper"]), ("city", "Berlin", None),
    ]
    result = interpreter.parse("hello")
    assert list(result) == ["text", "intent", "entities", "intent_ranking"]
    assert set(result["intent"]) == {"name", "confidence"}
    ranking = result["intent_ranking"]
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6  # all 9 intents fit in ranking_length 10
    assert interpreter.labels["intents"] == sorted(interpreter.labels["intents"])
    assert "chitchat" in interpreter.labels["retrieval_intents"]
    assert {"cuisine", "city", "people", "time", "order_id"} <= set(interpreter.labels["entities"])


def test_parse_batch_equals_parse_one_by_one(tmp_path):
    interpreter = intently.Trainer(EXAMPLE_PROJECT / "config.yml").train(EXAMPLE_PROJECT / "data")
    texts = ["hello", "", "book a table", "where is my order A12345", "ciao", "   "]
    assert interpreter.parse_batch(texts, batch_size=4) == [interpreter.parse(t) for t in texts]
    empty = interpreter.parse("")
    assert empty["intent"] == {"name": None, "confidence": 0.0}
    assert empty["entities"] == [] and empty["intent_ranking"] == []


def test_programmatic_example_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "programmatic.py")], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "model written to assistant.tar.gz" in result.stdout
    assert '"name": "book_table"' in result.stdout
    assert "-> greet" in result.stdout and "-> check_order" in result.stdout


def test_chinese_default_pipeline_trains_and_classifies(tmp_path):
    examples = {
        "greet": ["你好", "您好", "早上好", "嗨，你好啊", "晚上好", "你好呀"],
        "book": ["我想订一张桌子", "帮我预订两个人的位子", "订一个明天晚上的桌子", "我要预约餐厅", "预订四个人的座位", "能帮我订个位子吗"],
        "weather": ["今天天气怎么样", "明天会下雨吗", "外面冷不冷", "天气预报说什么", "今天会不会下雨", "明天天气好吗"],
    }
    data = TrainingData(training_examples=[Message(t, intent=i) for i, texts in examples.items() for t in texts])
    interpreter = intently.Trainer({"language": "zh"}).train(data)
    assert interpreter.parse("你好啊")["intent"]["name"] == "greet"
    assert interpreter.parse("帮我订一个位子")["intent"]["name"] == "book"
    assert interpreter.parse("后天会下雨吗")["intent"]["name"] == "weather"


def test_entity_output_shape_follows_rasa():
    entity = Entity(start=3, end=8, value="Paris", entity="city", role="destination", group="1",
                    confidence=0.87, extractor="CRFEntityExtractor", processors=["EntitySynonymMapper"])
    assert entity.to_dict() == {
        "entity": "city", "start": 3, "end": 8, "value": "Paris", "confidence_entity": 0.87,
        "role": "destination", "group": "1", "extractor": "CRFEntityExtractor",
        "processors": ["EntitySynonymMapper"],
    }
    assert Entity(0, 1, "x", "e").to_dict() == {"entity": "e", "start": 0, "end": 1, "value": "x"}


def test_model_metadata_records_the_training(tmp_path):
    import json
    import tarfile

    path = intently.train(EXAMPLE_PROJECT / "config.yml", EXAMPLE_PROJECT / "data", tmp_path, fixed_model_name="m")
    with tarfile.open(path) as tar:
        names = tar.getnames()
        meta = json.load(tar.extractfile("metadata.json"))
    assert "metadata.json" in names
    assert {"0_WhitespaceTokenizer", "1_RegexFeaturizer", "2_LexicalSyntacticFeaturizer",
            "3_CountVectorsFeaturizer", "4_CountVectorsFeaturizer", "5_LogisticRegressionClassifier",
            "6_CRFEntityExtractor", "7_EntitySynonymMapper"} <= set(names)
    data = intently.load_data(EXAMPLE_PROJECT / "data")
    assert meta["fingerprint"]["data"] == data.fingerprint()
    assert meta["config"]["pipeline"][4] == {"name": "CountVectorsFeaturizer", "analyzer": "char_wb",
                                             "min_ngram": 1, "max_ngram": 4}
    assert meta["model_name"] == "m" and meta["language"] == "en"
    for component in meta["components"]:
        for file in component["files"]:
            assert f"{component['folder']}/{file}" in names
