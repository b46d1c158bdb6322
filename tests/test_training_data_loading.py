"""load_data: files and folders, merged; non-training files; versions; errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from intently.errors import NoTrainingDataError, TrainingDataError, YamlSyntaxError
from intently.training_data import load_data


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def nlu(intent: str, *examples: str) -> str:
    lines = "".join(f"    - {example}\n" for example in examples)
    return f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{lines}'


def test_one_file(tmp_path: Path) -> None:
    path = write(tmp_path / "nlu.yml", nlu("greet", "hi", "hello"))
    data = load_data(path)
    assert [m.text for m in data.training_examples] == ["hi", "hello"]
    assert data.training_examples[0].source.file == str(path)


def test_string_path_and_list_of_paths(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yml", nlu("a", "one"))
    second = write(tmp_path / "b.yml", nlu("b", "two"))
    assert [m.text for m in load_data(str(first)).training_examples] == ["one"]
    assert [m.text for m in load_data([second, str(first)]).training_examples] == ["two", "one"]


def test_folder_is_read_recursively_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path / "data" / "b.yml", nlu("b", "from b"))
    write(tmp_path / "data" / "a.yaml", nlu("a", "from a"))
    write(tmp_path / "data" / "sub" / "c.yml", nlu("c", "from c"))
    write(tmp_path / "data" / "sub" / "notes.txt", "not yaml")
    write(tmp_path / "data" / ".hidden" / "x.yml", "this: is: not: read")
    write(tmp_path / "data" / "stories.yml", "stories:\n- story: s\n  steps:\n  - intent: a\n  - action: b\n")
    write(tmp_path / "data" / "rules.yml", "rules:\n- rule: r\n  steps:\n  - intent: a\n  - action: b\n")
    data = load_data(tmp_path / "data")
    assert [m.text for m in data.training_examples] == ["from a", "from b", "from c"]
    assert [s.name for s in data.stories] == ["r", "s"]


def test_many_files_are_merged(tmp_path: Path) -> None:
    for index in range(12):
        write(tmp_path / f"f{index:02d}.yml", nlu(f"intent_{index % 3}", f"example {index}"))
    write(tmp_path / "syn.yml", "nlu:\n- synonym: NYC\n  examples: |\n    - new york\n")
    write(tmp_path / "resp.yml", "responses:\n  utter_a:\n  - text: a\n")
    data = load_data(tmp_path)
    assert len(data.training_examples) == 12
    assert data.intents == ["intent_0", "intent_1", "intent_2"]
    assert data.entity_synonyms == {"new york": "NYC"}
    assert data.responses == {"utter_a": [{"text": "a"}]}


def test_config_endpoints_and_credentials_in_a_folder_are_skipped(tmp_path: Path, caplog) -> None:
    write(tmp_path / "config.yml", "recipe: default.v1\nlanguage: en\npipeline: []\npolicies: []\nassistant_id: x\n")
    write(tmp_path / "endpoints.yml", "action_endpoint:\n  url: http://localhost:5055/webhook\n")
    write(tmp_path / "credentials.yml", "rest:\nsocketio:\n  user_message_evt: user_uttered\n")
    write(tmp_path / "data" / "nlu.yml", nlu("greet", "hi"))
    with caplog.at_level(logging.DEBUG, logger="intently.training_data"):
        data = load_data(tmp_path)
    assert [m.text for m in data.training_examples] == ["hi"]
    assert data.warnings == []
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 3


def test_domain_in_a_folder_contributes_only_responses(tmp_path: Path) -> None:
    write(
        tmp_path / "domain.yml",
        'version: "3.1"\nintents:\n- greet\nslots:\n  name:\n    type: text\nforms: {}\n'
        "responses:\n  utter_greet:\n  - text: Hi!\n  utter_faq/ask_name:\n  - text: I am a bot\n"
        "actions:\n- action_x\ne2e_actions:\n- hello\nsession_config:\n  session_expiration_time: 60\n",
    )
    write(tmp_path / "data" / "nlu.yml", nlu("greet", "hi"))
    data = load_data(tmp_path)
    assert data.responses == {"utter_greet": [{"text": "Hi!"}], "utter_faq/ask_name": [{"text": "I am a bot"}]}
    assert len(data.training_examples) == 1


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("config.yml", "language: en\npipeline: []\n"),
        ("endpoints.yml", "action_endpoint:\n  url: http://x\n"),
        ("credentials.yml", "rest:\n"),
    ],
)
def test_a_named_file_that_is_not_training_data_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(TrainingDataError) as caught:
        load_data(path)
    assert caught.value.file == str(path)
    assert "not training data" in caught.value.message


def test_newer_version_is_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    newer = write(tmp_path / "a_new.yml", 'version: "4.0"\nnlu:\n- intent: a\n  examples: |\n    - x\n')
    write(tmp_path / "b_ok.yml", nlu("b", "y"))
    write(tmp_path / "c_noversion.yml", "nlu:\n- intent: c\n  examples: |\n    - z\n")
    with caplog.at_level(logging.WARNING):
        data = load_data(tmp_path)
    assert [m.text for m in data.training_examples] == ["y", "z"]
    assert len(data.warnings) == 1
    assert data.warnings[0].startswith(f"{newer}:1:")
    assert "4.0" in caplog.text


def test_empty_file_gives_a_warning_naming_it(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.yml", "")
    write(tmp_path / "nlu.yml", nlu("a", "x"))
    data = load_data(tmp_path)
    assert data.warnings == [f"{empty}: the file is empty (no training data)"]
    assert len(data.training_examples) == 1


def test_folder_without_yaml_gives_a_warning(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    data = load_data(tmp_path / "nothing")
    assert data.is_empty()
    assert "no .yml or .yaml files" in data.warnings[0]


def test_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "nlu.yml", nlu("a", "x"))
    missing = tmp_path / "missing.yml"
    with pytest.raises(NoTrainingDataError) as caught:
        load_data([tmp_path / "nlu.yml", missing])
    assert caught.value.file == str(missing)
    assert str(missing) in caught.value.message


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    path = write(tmp_path / "nlu.yml", nlu("a", "x"))
    assert len(load_data([path, tmp_path, path]).training_examples) == 1


def test_errors_in_a_folder_name_the_file(tmp_path: Path) -> None:
    write(tmp_path / "a.yml", nlu("a", "x"))
    bad = write(tmp_path / "b.yml", "nlu:\n- intent: a\n  examples: |\n    - [x]{y}\n")
    with pytest.raises(TrainingDataError) as caught:
        load_data(tmp_path)
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(bad), 4, 10)
    broken = write(tmp_path / "c.yml", "nlu: [\n")
    bad.unlink()
    with pytest.raises(YamlSyntaxError) as caught_yaml:
        load_data(tmp_path)
    assert caught_yaml.value.file == str(broken)


def test_an_unknown_yaml_file_in_a_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    # Rasa ignores YAML files of other kinds (e.g. Rasa Pro's flows); the warning catches typos.
    path = write(tmp_path / "stuff.yml", "stoires: []\n")
    write(tmp_path / "a.yml", nlu("a", "x"))
    data = load_data(tmp_path)
    assert [m.text for m in data.training_examples] == ["x"]
    (warning,) = data.warnings
    assert warning.startswith(f"{path}:1:") and "did you mean 'stories'" in warning


