"""Smoke tests: the benchmark scripts run end to end on tiny data and write their tables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import EXAMPLE_PROJECT, REPO

BENCHMARKS = REPO / "benchmarks"


def split_example(tmp_path):
    from intently.training_data import load_data
    from intently.training_data.split import split_training_data
    from intently.training_data.writer import write_yaml_file

    train, test = split_training_data(load_data(EXAMPLE_PROJECT / "data"), 0.7, random_seed=1)
    write_yaml_file(train, tmp_path / "train.yml")
    write_yaml_file(test, tmp_path / "test.yml")
    return tmp_path / "train.yml", tmp_path / "test.yml"


def test_accuracy_benchmark_runs_configs_and_references(tmp_path):
    train, test = split_example(tmp_path)
    shutil.copy(EXAMPLE_PROJECT / "config.yml", tmp_path / "example.yml")
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "accuracy.py"), "--train", str(train), "--test", str(test),
         "--config", str(tmp_path / "example.yml"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "accuracy.json").read_text())
    systems = [row["system"] for row in data["results"][0]["rows"]]
    assert systems == ["intently: example.yml", "TF-IDF + LogReg (reference)", "CRF (reference)"]
    ours = data["results"][0]["rows"][0]
    assert 0.0 <= ours["intent_accuracy"] <= 1.0 and ours["train_seconds"] > 0
    assert "| intently: example.yml |" in (tmp_path / "out" / "accuracy.md").read_text()


def test_speed_benchmark_measures_both_systems(tmp_path):
    train, test = split_example(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "speed.py"), "--train", str(train), "--data", str(test),
         "--messages", "1000", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "speed.json").read_text())
    assert len(data["systems"]) == 2
    for figures in data["systems"].values():
        assert figures["single_messages"] == 1000
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
        assert figures["batch_messages"] >= 5000 and figures["batch_messages_per_second"] > 0
        assert figures["import_seconds"] > 0 and figures["load_seconds"] > 0
        assert figures["peak_rss_mb"] > 0 and figures["archive_mb"] > 0


def test_finetune_benchmark_compares_finetune_and_scratch(tmp_path):
    train, test = split_example(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "finetune.py"), "--train", str(train), "--test", str(test),
         "--config", str(EXAMPLE_PROJECT / "config.yml"), "--fraction", "0.5", "--new-intents", "1",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "finetune.json").read_text())
    (dataset,) = data["results"]
    models = [row["model"] for row in dataset["rows"]]
    assert len(models) == 5 and models[2] == "from scratch on the whole file"
    assert len(dataset["new_intents"]) == 1
    assert 0.0 <= dataset["rows"][4]["new_intent_recall"] <= 1.0
    assert {"finetune time / scratch time", "new intents' recall"} <= set(dataset["targets"])
    assert "| from scratch on the whole file |" in (tmp_path / "out" / "finetune.md").read_text()


def test_random_seed_option_seeds_every_component_that_has_the_key(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import accuracy

    name, config = accuracy.with_random_seed("intently: diet.yml", str(BENCHMARKS / "configs" / "diet.yml"), 7)
    assert name == "intently: diet.yml, random_seed 7"
    seeds = [(spec["name"], spec.get("random_seed")) for spec in config.pipeline]
    assert ("DIETClassifier", 7) in seeds
    # Components without the key are left alone (setting it would be an unknown-key error).
    assert all(seed is None for component, seed in seeds if component != "DIETClassifier")
    name, config = accuracy.with_random_seed("intently: default pipeline", None, 3)
    assert name == "intently: default pipeline, random_seed 3"
    assert all("random_seed" not in spec for spec in config.pipeline)
