"""The command line: every verb, exit codes, and clear errors without tracebacks."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intently.cli.main import main

from conftest import EXAMPLE_PROJECT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project as the working directory."""
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE_PROJECT, target)
    return target


def run_cli(args: list[str], monkeypatch, cwd: Path, stdin: str | None = None) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def trained(project: Path, monkeypatch) -> Path:
    code, out, err = run_cli(["train", "--fixed-model-name", "example"], monkeypatch, project)
    assert code == 0, err
    return project


def test_train_writes_archive_with_defaults_from_the_project(trained):
    assert (trained / "models" / "example.tar.gz").is_file()
    assert [p.name for p in (trained / "models").iterdir()] == ["example.tar.gz"]


def test_train_default_name_and_out(project, monkeypatch):
    code, out, err = run_cli(
        ["train", "--config", "config.yml", "--data", "data", "--out", "elsewhere"], monkeypatch, project
    )
    assert code == 0, err
    archive = Path(out.strip())
    assert archive.parent.name == "elsewhere" and archive.name.endswith(".tar.gz")
    assert "Model saved to" in err


def test_parse_prints_one_json_line_per_text_in_order(trained, monkeypatch):
    texts = ["hello there", "book a table for two tonight", "where is my order A12345"]
    code, out, err = run_cli(["parse", *texts], monkeypatch, trained)
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in results] == texts
    assert [r["intent"]["name"] for r in results] == ["greet", "book_table", "check_order"]
    for result in results:
        assert set(result) >= {"text", "intent", "entities", "intent_ranking"}
        assert 0.0 <= result["intent"]["confidence"] <= 1.0
        assert result["intent_ranking"][0]["name"] == result["intent"]["name"]


def test_parse_reads_standard_input_with_dash(trained, monkeypatch):
    code, out, err = run_cli(["parse", "-m", "models/example.tar.gz", "-"], monkeypatch, trained, stdin="hi\n\nbye\n")
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["hi", "", "bye"]


def test_shell_parses_each_line_until_stop(trained, monkeypatch):
    code, out, err = run_cli(["shell"], monkeypatch, trained, stdin="hello\n/stop\nnot parsed\n")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["text"] for line in lines] == ["hello"]


def test_data_validate_passes_the_example(project, monkeypatch):
    code, out, err = run_cli(["data", "validate", "--config", "config.yml"], monkeypatch, project)
    assert code == 0, err
    assert "0 error(s)" in err


def test_data_validate_fails_on_an_example_under_two_intents(project, monkeypatch):
    (project / "data" / "clash.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: deny\n  examples: |\n    - hello\n', encoding="utf-8"
    )
    code, out, err = run_cli(["data", "validate"], monkeypatch, project)
    assert code == 1
    assert "error" in err and "clash.yml:5" in err and "greet" in err and "deny" in err


def test_data_validate_warns_about_stray_brackets_and_dropped_duplicates(project, monkeypatch):
    # Rasa 3.6 reads "你好]" as text and drops the repeated example; so does intently,
    # and `data validate` says where, so the author can fix them.
    (project / "data" / "rasa.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: 闲聊\n  examples: |\n    - 你好]\n    - 在吗\n    - 在吗\n',
        encoding="utf-8",
    )
    code, out, err = run_cli(["data", "validate", "--fail-on-warnings"], monkeypatch, project)
    assert code == 1
    assert "rasa.yml:5:9: ']' without a matching '['" in err
    assert "rasa.yml:7: the example '在吗'" in err and "rasa.yml:6" in err and "dropped" in err


def test_components_lists_builtins_with_distribution_and_defaults(monkeypatch, tmp_path):
    code, out, err = run_cli(["components"], monkeypatch, tmp_path)
    assert code == 0
    assert "WhitespaceTokenizer  (intently 0.1.0)" in out
    assert "CountVectorsFeaturizer" in out and "analyzer:" in out
    code, out, err = run_cli(["components", "--json"], monkeypatch, tmp_path)
    names = {row["name"] for row in json.loads(out)}
    assert {"WhitespaceTokenizer", "CountVectorsFeaturizer", "LogisticRegressionClassifier"} <= names


# --- bad input: exit code 1, a located message, no traceback ------------------------


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("error: [E")
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


def test_malformed_yaml_names_file_line_and_column(project, monkeypatch):
    (project / "data" / "nlu.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n - intent: x\n')
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "nlu.yml:6:", "hint:")


def test_broken_entity_annotation(project, monkeypatch):
    (project / "data" / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi [there]{"entity": }\n    - hello\n'
    )
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "nlu.yml:5:")


def test_unknown_component_and_key(project, monkeypatch):
    (project / "config.yml").write_text("pipeline:\n- name: WhitespaceTokeniser\n")
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "unknown component 'WhitespaceTokeniser'", "WhitespaceTokenizer", "config.yml:2:")
    (project / "config.yml").write_text("pipeline:\n- name: WhitespaceTokenizer\n  intent_split: x\n")
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "WhitespaceTokenizer has no config key 'intent_split'", "config.yml:3:",
                       "did you mean 'intent_split_symbol'")
    (project / "config.yml").write_text("pipeline:\n- name: WhitespaceTokenizer\n  intent_split_symbol: ''\n")
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "config.yml:3: pipeline item 1: WhitespaceTokenizer: 'intent_split_symbol' must be")


def test_featurizer_before_tokenizer(project, monkeypatch):
    (project / "config.yml").write_text(
        "pipeline:\n- name: CountVectorsFeaturizer\n- name: WhitespaceTokenizer\n- name: LogisticRegressionClassifier\n"
    )
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "CountVectorsFeaturizer (pipeline item 1) requires 'tokens'", "WhitespaceTokenizer")


def test_graph_recipe_without_its_graphs_is_a_clear_error(project, monkeypatch):
    (project / "config.yml").write_text("recipe: graph.v1\nlanguage: en\n")
    code, out, err = run_cli(["train"], monkeypatch, project)
    assert_clean_error(code, err, "[E204]", "graph.v1 needs `train_schema:`")


def test_missing_model_and_missing_data(project, monkeypatch):
    code, out, err = run_cli(["parse", "-m", "nowhere.tar.gz", "hi"], monkeypatch, project)
    assert_clean_error(code, err, "nowhere.tar.gz")
    code, out, err = run_cli(["parse", "hi"], monkeypatch, project)
    assert_clean_error(code, err, "models")
    code, out, err = run_cli(["train", "--data", "missing_folder"], monkeypatch, project)
    assert_clean_error(code, err, "missing_folder")


def test_a_failed_training_keeps_the_previous_model(trained, monkeypatch):
    before = (trained / "models" / "example.tar.gz").read_bytes()
    (trained / "config.yml").write_text("pipeline:\n- name: Nope\n")
    code, out, err = run_cli(["train", "--fixed-model-name", "example"], monkeypatch, trained)
    assert code == 1
    assert (trained / "models" / "example.tar.gz").read_bytes() == before


def test_console_script_help_and_usage_errors(tmp_path):
    exe = Path(sys.executable).with_name("intently")
    assert exe.exists(), "the intently console script is not installed"
    for args in (["--help"], ["train", "--help"], ["parse", "--help"], ["shell", "--help"],
                 ["data", "validate", "--help"], ["components", "--help"]):
        result = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
        assert "usage: intently" in result.stdout
    result = subprocess.run([str(exe), "train", "--no-such-flag"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    result = subprocess.run([str(exe)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    result = subprocess.run([str(exe), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "intently 0.1.0" in result.stdout
