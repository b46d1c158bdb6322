"""`intently test nlu` and `intently data split nlu` from the command line."""

from __future__ import annotations

import json

from test_cli import assert_clean_error, project, run_cli, trained  # noqa: F401 - fixtures


def test_split_then_test_nlu_writes_reports(project, monkeypatch):  # noqa: F811
    code, out, err = run_cli(["data", "split", "nlu", "--training-fraction", "0.75", "--random-seed", "7"], monkeypatch, project)
    assert code == 0, err
    split = project / "train_test_split"
    assert (split / "training_data.yml").is_file() and (split / "test_data.yml").is_file()
    code, out, err = run_cli(
        ["train", "--data", "train_test_split/training_data.yml", "--fixed-model-name", "split"], monkeypatch, project
    )
    assert code == 0, err
    code, out, err = run_cli(["test", "nlu", "--nlu", "train_test_split/test_data.yml"], monkeypatch, project)
    assert code == 0, err
    assert "test examples" in out and "intents" in out and "accuracy" in out
    results = project / "results"
    report = json.loads((results / "intent_report.json").read_text())
    assert {"accuracy", "macro avg", "weighted avg", "greet"} <= set(report)
    errors = json.loads((results / "intent_errors.json").read_text())
    assert isinstance(errors, list)
    assert (results / "intent_confusion_matrix.png").read_bytes().startswith(b"\x89PNG")
    assert (results / "intent_histogram.png").is_file()
    summary = json.loads((results / "summary.json").read_text())
    assert summary["examples"] == sum(1 for line in (split / "test_data.yml").read_text().splitlines()
                                      if line.strip().startswith("- ") and "intent:" not in line)


def test_cross_validation_from_the_command_line(project, monkeypatch):  # noqa: F811
    code, out, err = run_cli(
        ["test", "nlu", "--cross-validation", "--folds", "3", "--nlu", "data", "--out", "cv"], monkeypatch, project
    )
    assert code == 0, err
    assert "3-fold cross-validation" in out and "intent_accuracy" in out and "±" in out
    result = json.loads((project / "cv" / "cross_validation_results.json").read_text())
    assert result["folds"] == 3 and len(result["per_fold"]) == 3
    assert 0.0 <= result["aggregate"]["intent_accuracy"]["mean"] <= 1.0


def test_test_nlu_bad_inputs(trained, monkeypatch):  # noqa: F811
    code, out, err = run_cli(["test", "nlu", "--model", "no/such/model.tar.gz", "--nlu", "data"], monkeypatch, trained)
    assert_clean_error(code, err, "no/such/model.tar.gz")
    (trained / "empty.yml").write_text("")
    code, out, err = run_cli(["test", "nlu", "--nlu", "empty.yml"], monkeypatch, trained)
    assert_clean_error(code, err, "no labelled examples in empty.yml")
    (trained / "unknown.yml").write_text('version: "3.1"\nnlu:\n- intent: order_pizza\n  examples: |\n    - a large pizza\n')
    code, out, err = run_cli(["test", "nlu", "--nlu", "unknown.yml", "--no-plots"], monkeypatch, trained)
    assert code == 0
    assert "not trained on: order_pizza" in err
    assert not (trained / "results" / "intent_confusion_matrix.png").exists()
