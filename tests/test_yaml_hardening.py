"""YAML tricks, round-trip breakers, the language check and --out: clear errors, never a crash."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path

import pytest

from intently.cli.main import main
from intently.config import load_config
from intently.errors import ConfigError, EntityAnnotationError, TrainingDataError, YamlSyntaxError
from intently.languages import closest_languages, is_valid_language
from intently.training_data import dump_yaml, read_yaml_string
from intently.yaml_utils import ALIAS_EXTRA_NODES, load_yaml

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_documents import alias_bomb, assert_same_data  # noqa: E402


def example(metadata: str) -> str:
    return f"nlu:\n- intent: greet\n  metadata: {metadata}\n  examples: |\n    - 你好\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("nlu:\n- <<: 5\n", 2, "merge key"),
        ("nlu:\n- <<: [*x]\n", 2, "undefined alias"),
        (example("{d: !!float abc}"), 3, "not a number"),
        (example("{d: !!int 1.5}"), 3, "not an integer"),
        (example("{d: !!bool yes}"), 3, "not true or false"),
        (example("{d: !!timestamp 2001-12-14}"), 3, "!!timestamp is not allowed"),
        (example("{d: !!python/object/apply:os.system [ls]}"), 3, "not allowed"),
        (example("{d: !!binary aGk=}"), 3, "!!binary is not allowed"),
        (example("!!set {a, b}"), 3, "!!set is not allowed"),
        (example("{d: !custom x}"), 3, "!custom is not allowed"),
        ("nlu:\n- intent: !!python/name:os.system greet\n  examples: |\n    - hi\n", 2, "not allowed"),
        (example("&m {k: *m}"), 3, "recursive alias"),
        ("responses:\n  utter_x:\n  - &r {text: hi, custom: [*r]}\n", 3, "recursive alias"),
        (example("[" * 150 + "]" * 150), 3, "nested more than"),
        (example("{d: !!int " + "9" * 5000 + "}"), 3, "too long"),
    ],
)
def test_yaml_tricks_are_clear_errors(text: str, line: int, words: str) -> None:
    with pytest.raises(TrainingDataError) as caught:
        read_yaml_string(text, "data.yml")
    assert caught.value.file == "data.yml" and caught.value.line == line
    assert words in caught.value.message


def test_an_alias_bomb_is_refused_quickly() -> None:
    text = alias_bomb(levels=9, width=9)
    assert len(text) < 700
    with pytest.raises(YamlSyntaxError, match="aliases expand the document"):
        read_yaml_string(text, "bomb.yml")


def test_aliases_within_the_budget_and_merge_keys_work() -> None:
    text = (
        "responses:\n"
        "  utter_a:\n"
        "  - &base {text: 你好, image: x.png}\n"
        "  utter_b:\n"
        "  - <<: *base\n"
        "    text: override\n"
        "  utter_c:\n"
        "  - *base\n"
    )
    data = read_yaml_string(text)
    assert data.responses["utter_b"] == [{"image": "x.png", "text": "override"}]
    assert data.responses["utter_c"] == [{"text": "你好", "image": "x.png"}]
    # A list anchored once and repeated up to the budget is fine.
    items = ", ".join(["x"] * 1000)
    repeated = ", ".join(["*l"] * (ALIAS_EXTRA_NODES // 1001))
    load_yaml(f"a: &l [{items}]\nb: [{repeated}]\n")


def test_scalars_follow_yaml_1_2() -> None:
    data = read_yaml_string(
        example("{date: 2001-13-45, ok: 2001-12-14, y: yes, n: no, o: 0o12, e: 1e3, z: 012, t: true, "
                "u: 1_000, x: 0x1F, i: -.inf, 1: one, null: v}")
    )
    metadata = data.training_examples[0].metadata
    assert metadata == {
        "date": "2001-13-45", "ok": "2001-12-14", "y": "yes", "n": "no", "o": 10, "e": 1000.0, "z": 12,
        "t": True, "u": "1_000", "x": 31, "i": -math.inf, "1": "one", "null": "v",
    }
    data.fingerprint()


def test_empty_annotation_value_is_an_error() -> None:
    with pytest.raises(EntityAnnotationError, match='"value" is empty') as caught:
        read_yaml_string('nlu:\n- intent: a\n  examples: |\n    - [x]{"entity": "e", "value": ""}\n', "d.yml")
    assert caught.value.line == 4


@pytest.mark.parametrize("separator", ["\\L", "\\P", "\\N", "\\r", "\\t", "\\x01", "\\uFEFF"])
def test_unusual_characters_survive_the_round_trip(separator: str) -> None:
    text = (
        "nlu:\n- intent: a\n  examples:\n"
        f'  - "订一张[桌子](thing){separator}明天"\n'
        f'  - text: "plain{separator}text"\n'
        f"- lookup: l\n  examples:\n  - \"北京{separator}上海\"\n"
        f"- synonym: s\n  examples:\n  - \"x{separator}y\"\n"
    )
    original = read_yaml_string(text)
    written = dump_yaml(original)
    again = read_yaml_string(written)
    assert_same_data(original, again)
    assert dump_yaml(again) == written


def test_synonyms_implied_by_examples_are_not_repeated() -> None:
    original = read_yaml_string(
        'nlu:\n- intent: a\n  examples: |\n    - [ NYC]{"entity": "city", "value": " New York"}\n'
        "- synonym: Big Apple\n  examples: |\n    - apple\n"
    )
    written = dump_yaml(original)
    assert "synonym: Big Apple" in written and "New York\n" not in written.split("synonym")[-1]
    assert_same_data(original, read_yaml_string(written))


def test_strings_that_look_typed_are_quoted_when_written() -> None:
    original = read_yaml_string(example("{a: 1e3x, b: '1e3', c: 'yes', d: '2001-12-14', e: '0o12', f: '<<'}"))
    again = read_yaml_string(dump_yaml(original))
    assert again.training_examples[0].metadata == original.training_examples[0].metadata
    assert again.training_examples[0].metadata["b"] == "1e3"


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["en", "EN", "zh", "zh-CN", "zh-Hans", "zh_Hant_TW", "pt-BR", "en-US", "es-419",
                                  "de-1996", "yue", "fil", "nb"])
def test_valid_language_codes(code: str) -> None:
    assert is_valid_language(code)
    assert load_config({"language": code}).language == code


@pytest.mark.parametrize(("code", "guess"), [("xx-klingon", "xh"), ("english", "en"), ("eng", "en"),
                                             ("chinese", "zh"), ("zh-", "zh")])
def test_unknown_language_codes(code: str, guess: str, tmp_path: Path) -> None:
    assert guess in closest_languages(code)
    path = tmp_path / "config.yml"
    path.write_text(f"recipe: default.v1\nlanguage: {code}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown language code") as caught:
        load_config(path)
    assert caught.value.line == 2 and f"'{guess}'" in caught.value.hint


@pytest.mark.parametrize("text", ["language: yes\n", "language: 2001-12-14\n", "<<: 5\n", "a: &a [*a]\n",
                                  "pipeline: !!python/object:os.system x\n", "language: !!float x\n"])
def test_config_yaml_tricks_are_config_errors(text: str, tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == str(path)


@pytest.mark.parametrize(("text", "classifier"), [
    ("", "LogisticRegressionClassifier"),
    ("pipeline: []\n", "LogisticRegressionClassifier"),
    ("language: zh\npipeline:\n", "DIETClassifier"),  # the zh default (docs/chinese.md)
])
def test_default_pipeline_is_announced_by_train(text: str, classifier: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "config.yml").write_text(text, encoding="utf-8")
    (tmp_path / "d.yml").write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - 你好\n    - hi\n- intent: bye\n  examples: |\n"
        "    - 再见\n    - bye\n", encoding="utf-8")
    assert main(["train", "-c", str(tmp_path / "config.yml"), "--data", str(tmp_path / "d.yml"),
                 "--out", str(tmp_path / "models")]) == 0
    err = capsys.readouterr().err
    assert "using the default pipeline" in err and classifier in err


# --- --out ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["train"], ["data", "split", "nlu"], ["test", "nlu"]])
@pytest.mark.parametrize("below", [False, True])
def test_out_naming_a_file_is_a_clear_error(command: list[str], below: bool, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "d.yml").write_text("nlu:\n- intent: a\n  examples: |\n    - hi\n", encoding="utf-8")
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    out = tmp_path / "taken" / "sub" if below else tmp_path / "taken"
    assert main([*command, "--data", str(tmp_path / "d.yml"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "[E500]" in err and "is a file, not a folder" in err and "Traceback" not in err


def test_cli_reports_yaml_tricks_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "d.yml").write_text(example("&m {k: *m}"), encoding="utf-8")
    assert main(["data", "validate", "--data", str(tmp_path / "d.yml")]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'd.yml'}:3:" in err and "recursive alias" in err and "Traceback" not in err
    logging.getLogger("intently").setLevel(logging.NOTSET)


def test_a_control_character_is_located() -> None:
    with pytest.raises(YamlSyntaxError, match="control characters") as caught:
        read_yaml_string("nlu:\n- intent: a\n  examples: |\n    - 你好\x01\n", "c.yml")
    assert (caught.value.line, caught.value.column) == (4, 9)


def test_merge_keys_earlier_mappings_win() -> None:
    value = load_yaml("a: &a {k: 1, x: 1}\nb: &b {k: 2, y: 2}\nc:\n  <<: [*a, *b]\n  x: 3\n")
    assert value["c"] == {"k": 1, "y": 2, "x": 3}
    with pytest.raises(YamlSyntaxError, match="duplicate key 'x'"):
        load_yaml("c: {x: 1, x: 2}\n")


def test_split_writes_files_that_validate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    lines = "".join(f'  - "例子 {i}\\L第二部分 [北京](city)"\n' for i in range(10))
    (tmp_path / "d.yml").write_text(
        f"nlu:\n- intent: a\n  examples:\n{lines}- intent: b\n  examples:\n{lines.replace('例子', '句子')}",
        encoding="utf-8",
    )
    out = tmp_path / "split"
    assert main(["data", "split", "nlu", "--data", str(tmp_path / "d.yml"), "--out", str(out)]) == 0
    for name in ("training_data.yml", "test_data.yml"):
        assert main(["data", "validate", "--data", str(out / name)]) == 0
    written = read_yaml_string((out / "training_data.yml").read_text(encoding="utf-8"))
    assert all("\u2028" in m.text for m in written.training_examples)


def test_metadata_shared_between_examples_is_written_without_anchors() -> None:
    # Found by benchmarks/robustness.py: the second intent block's examples
    # share the first's metadata object, and the writer put a YAML anchor on it.
    text = (
        'nlu:\n- intent: "天气"\n  examples: "-a\\n-n"\n  metadata:\n   sentiment: []\n'
        '- intent: "天气"\n  examples: [a]\n'
    )
    written = dump_yaml(read_yaml_string(text))
    assert "&" not in written and "*" not in written
    assert dump_yaml(read_yaml_string(written)) == written
