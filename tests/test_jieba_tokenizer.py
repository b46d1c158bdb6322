"""JiebaTokenizer: exact offsets, user dictionaries kept in the model, optional jieba, Chinese end to end."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import pytest
from component_helpers import examples, intent_data, persist_and_load

import intently
from intently.errors import ComponentConfigError, MissingDependencyError, PipelineError
from intently.message import Message
from intently.plugins.tokenizers.jieba_tokenizer import DICTIONARY_FOLDER, JiebaTokenizer, import_jieba
from intently.plugins.tokenizers.tokenizer import INTENT_TOKENS
from intently.testing import check_component

pytest.importorskip("jieba")

USER_WORDS = "小度音箱\n石墨烯加热器 10 n\n"

INTENTS = {
    "greet": ["你好", "您好", "早上好", "嗨，你好啊", "晚上好"],
    "weather": ["今天天气怎么样", "明天会下雨吗", "北京的天气如何", "外面冷不冷", "这周天气好吗"],
    "book_flight": ["我想订一张机票", "帮我预订去上海的航班", "订一张明天去北京的机票", "我要买机票", "有没有去广州的航班"],
    "goodbye": ["再见", "拜拜", "下次见", "再见了朋友", "晚安，再见"],
}


def spans(text: str, tokenizer: JiebaTokenizer | None = None) -> list[tuple[str, int, int]]:
    tokens = (tokenizer or JiebaTokenizer()).tokens_for(text)
    for token in tokens:
        assert text[token.start : token.end] == token.text
    return [(t.text, t.start, t.end) for t in tokens]


def words(text: str, tokenizer: JiebaTokenizer | None = None) -> list[str]:
    return [word for word, _, _ in spans(text, tokenizer)]


@pytest.fixture
def dictionary_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "userdict"
    folder.mkdir()
    (folder / "products.txt").write_text(USER_WORDS, encoding="utf-8")
    return folder


def test_segments_chinese_with_exact_offsets() -> None:
    assert spans("我想订一张明天从北京到上海的机票") == [
        ("我想订", 0, 3),
        ("一张", 3, 5),
        ("明天", 5, 7),
        ("从", 7, 8),
        ("北京", 8, 10),
        ("到", 10, 11),
        ("上海", 11, 13),
        ("的", 13, 14),
        ("机票", 14, 16),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("今天天气怎么样？", ["今天天气", "怎么样", "？"]),
        ("hello，世界 😀 ok", ["hello", "，", "世界", "😀", "ok"]),
        ("  你好  ", ["你好"]),
        ("你好\n再见\t拜拜", ["你好", "再见", "拜拜"]),
        ("", []),
        ("   ", []),
        ("？！", ["？", "！"]),
    ],
)
def test_whitespace_is_no_token_punctuation_is(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_offsets_are_exact_on_mixed_text() -> None:
    text = " 我买了3个iPhone 15，花了¥12,000.50元！ see https://x.cn/a?b=1 😀😀 第二行\r\n結束 "
    tokens = spans(text)
    assert tokens and all(not word.isspace() for word, _, _ in tokens)
    assert "".join(word for word, _, _ in tokens) == "".join(text.split())


def test_a_user_dictionary_changes_the_segmentation(dictionary_folder: Path) -> None:
    plain = JiebaTokenizer()
    custom = JiebaTokenizer({"dictionary_path": str(dictionary_folder)})
    custom.train(intent_data({"x": ["你好"]}))
    assert words("我要查询小度音箱的订单", plain) == ["我要", "查询", "小度", "音箱", "的", "订单"]
    assert words("我要查询小度音箱的订单", custom) == ["我要", "查询", "小度音箱", "的", "订单"]
    assert words("打开石墨烯加热器", custom) == ["打开", "石墨烯加热器"]
    # the other tokenizer, and jieba's global one, do not see the user words
    assert words("打开石墨烯加热器", plain) == ["打开", "石墨", "烯", "加热器"]
    import jieba

    assert "石墨烯加热器" not in jieba.dt.FREQ


def test_dictionary_path_may_name_one_file(dictionary_folder: Path) -> None:
    tokenizer = JiebaTokenizer({"dictionary_path": str(dictionary_folder / "products.txt")})
    assert words("小度音箱", tokenizer) == ["小度音箱"]


def test_the_dictionary_is_persisted_in_the_model(tmp_path: Path, dictionary_folder: Path) -> None:
    tokenizer = JiebaTokenizer({"dictionary_path": str(dictionary_folder)})
    tokenizer.train(intent_data({"x": ["你好"]}))
    model = tmp_path / "model"
    loaded_dir = model / tokenizer.unique_name
    shutil.rmtree(dictionary_folder)  # the original is gone: the model does not need it
    loaded = persist_and_load(tokenizer, model)
    assert isinstance(loaded, JiebaTokenizer)
    assert (loaded_dir / DICTIONARY_FOLDER / "000.txt").read_text(encoding="utf-8") == USER_WORDS
    assert loaded.dictionaries == [("products.txt", USER_WORDS)]
    text = "我要查询小度音箱的订单，打开石墨烯加热器"
    assert spans(text, loaded) == spans(text, tokenizer)
    assert "小度音箱" in words(text, loaded)


def test_finetuning_keeps_the_user_dictionary(tmp_path: Path, dictionary_folder: Path, caplog) -> None:
    tokenizer = JiebaTokenizer({"dictionary_path": str(dictionary_folder)})
    tokenizer.train(intent_data({"x": ["你好"]}))
    (dictionary_folder / "products.txt").write_text("完全不同\n", encoding="utf-8")  # changed since
    finetunable = persist_and_load(tokenizer, tmp_path, finetune=True)
    assert isinstance(finetunable, JiebaTokenizer) and finetunable.finetune_mode
    data = intent_data({"buy": ["买小度音箱"]})
    with caplog.at_level(logging.INFO, logger="intently"):
        finetunable.train(data)
    assert [t.text for t in data.training_examples[0].tokens] == ["买", "小度音箱"]
    assert "finetuning keeps the user dictionary" in caplog.text
    # a fresh training reads the folder again
    fresh = JiebaTokenizer({"dictionary_path": str(dictionary_folder)})
    fresh.train(intent_data({"x": ["你好"]}))
    assert fresh.dictionaries == [("products.txt", "完全不同\n")]


def test_models_with_the_same_dictionary_share_one_jieba_tokenizer(dictionary_folder: Path) -> None:
    first = JiebaTokenizer({"dictionary_path": str(dictionary_folder)})
    second = JiebaTokenizer({"dictionary_path": str(dictionary_folder)})
    assert first._segmenter() is second._segmenter()
    assert JiebaTokenizer()._segmenter() is JiebaTokenizer()._segmenter()
    assert first._segmenter() is not JiebaTokenizer()._segmenter()


def test_bad_dictionaries_are_clear_errors(tmp_path: Path) -> None:
    missing = JiebaTokenizer({"dictionary_path": str(tmp_path / "nope")})
    with pytest.raises(ComponentConfigError, match="does not exist"):
        missing.train(intent_data({"x": ["你好"]}))
    folder = tmp_path / "latin1"
    folder.mkdir()
    (folder / "words.txt").write_bytes("café 3\n".encode("latin-1"))
    with pytest.raises(ComponentConfigError, match="is not UTF-8"):
        JiebaTokenizer({"dictionary_path": str(folder)}).train(intent_data({"x": ["你好"]}))


def test_an_empty_dictionary_folder_is_allowed(tmp_path: Path, caplog) -> None:
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.WARNING, logger="intently"):
        tokenizer = JiebaTokenizer({"dictionary_path": str(tmp_path / "empty")})
        tokenizer.train(intent_data({"x": ["你好"]}))
    assert "has no files" in caplog.text
    assert words("你好", tokenizer) == ["你好"]


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"dictionary_path": 5}, "dictionary_path"),
        ({"dictionary_path": "  "}, "'dictionary_path' must be a non-empty string or null, got '  '"),
        ({"token_pattern": "(unclosed"}, r"'token_pattern' must be a regular expression .*, got '\(unclosed'"),
        ({"intent_split_symbol": ""}, r"'intent_split_symbol' must be a non-empty string \(spaces count\), got ''"),
        ({"token_level": "characters"}, "(?s)'token_level' must be one of 'word', 'character'.*did you mean 'character'"),
        ({"user_dictionary": "x"}, "has no config key"),
    ],
)
def test_invalid_config_is_rejected(config: dict, fragment: str) -> None:
    with pytest.raises(ComponentConfigError, match=fragment):
        JiebaTokenizer(config)


def test_token_pattern_and_intent_tokens_come_from_the_base_class() -> None:
    tokenizer = JiebaTokenizer({"token_pattern": r"\w", "intent_tokenization_flag": True})
    assert words("北京的天气", tokenizer) == ["北", "京", "的", "天", "气"]
    data = examples([("北京的天气", "ask_weather")])
    tokenizer.train(data)
    assert data.training_examples[0].data[INTENT_TOKENS] == ["ask", "weather"]


def test_supports_chinese_only() -> None:
    assert JiebaTokenizer.supported_languages == ("zh",)
    with pytest.raises(PipelineError, match="does not support language 'en'"):
        intently.Trainer({"language": "en", "pipeline": [{"name": "JiebaTokenizer"}]})


def test_missing_jieba_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jieba", None)  # `import jieba` now raises ImportError
    with pytest.raises(MissingDependencyError) as caught:
        JiebaTokenizer()
    assert "pip install 'intently[zh]'" in str(caught.value)
    assert caught.value.code == "E303"
    with pytest.raises(MissingDependencyError):
        intently.Trainer({"language": "zh", "pipeline": [{"name": "JiebaTokenizer"}]})


def test_jieba_logs_through_python_logging_not_stderr(caplog) -> None:
    jieba = import_jieba()
    jieba_logger = logging.getLogger("jieba")
    assert jieba.log_console not in jieba_logger.handlers
    with caplog.at_level(logging.DEBUG, logger="jieba"):
        jieba_logger.debug("Building prefix dict from the default dictionary ...")
    assert "Building prefix dict" in caplog.text


def test_chinese_end_to_end(tmp_path: Path) -> None:
    config = {
        "language": "zh",
        "pipeline": [
            {"name": "JiebaTokenizer"},
            {"name": "CountVectorsFeaturizer"},
            {"name": "LogisticRegressionClassifier", "max_iter": 500},
        ],
    }
    interpreter = intently.Trainer(config).train(intent_data(INTENTS))
    paraphrases = {
        "你好呀": "greet",
        "上海明天天气怎么样": "weather",
        "帮我订一张去广州的机票": "book_flight",
        "好的，再见": "goodbye",
        "明天北京会下雨吗": "weather",
    }
    predicted = {text: interpreter.parse(text)["intent"]["name"] for text in paraphrases}
    assert predicted == paraphrases
    archive = interpreter.persist(tmp_path, fixed_model_name="zh")
    loaded = intently.Interpreter.load(archive)
    for text in [*paraphrases, "", "？"]:
        assert loaded.parse(text) == interpreter.parse(text)


def test_conformance_kit(dictionary_folder: Path) -> None:
    texts = ["我要查询小度音箱的订单", "今天天气怎么样？", "hello，世界", "", "再见"]
    data = intent_data({k: v[:3] for k, v in INTENTS.items()})
    check_component(JiebaTokenizer, data, language="zh", texts=texts)
    check_component(
        JiebaTokenizer,
        data,
        language="zh",
        texts=texts,
        config={"dictionary_path": str(dictionary_folder)},
        after=["CountVectorsFeaturizer", "LogisticRegressionClassifier"],
    )


def test_tokenizes_a_message_batch() -> None:
    messages = [Message("你好"), Message(""), Message("北京的天气")]
    JiebaTokenizer().process(messages)
    assert [[t.text for t in m.tokens or []] for m in messages] == [["你好"], [], ["北京", "的", "天气"]]
