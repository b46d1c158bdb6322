"""Smoke tests: the benchmark scripts run end to end on tiny data and write their tables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

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
    # The logistic regression's key is random_state (it shuffles C: auto's folds).
    assert [spec["random_state"] for spec in config.pipeline if "random_state" in spec] == [3]


def test_accuracy_benchmark_seeds_give_mean_and_spread(tmp_path):
    train, test = split_example(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "accuracy.py"), "--train", str(train), "--test", str(test),
         "--no-baselines", "--seeds", "1", "2", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    (row,) = json.loads((tmp_path / "out" / "accuracy.json").read_text())["results"][0]["rows"]
    assert row["seeds"] == [1, 2] and len(row["per_seed"]) == 2
    values = [run["intent_accuracy"] for run in row["per_seed"]]
    assert row["intent_accuracy"] == sum(values) / 2
    assert row["spread"]["intent_accuracy"]["half_range"] == (max(values) - min(values)) / 2
    assert row["train_seconds"] > 0
    text = (tmp_path / "out" / "accuracy.md").read_text()
    assert "| 1, 2 | intently: default pipeline |" in text and " ± " in text


def test_combine_seeds_keeps_what_every_run_has(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import accuracy

    runs = [{"system": "s", "intent_accuracy": 0.5, "train_seconds": 2.0},
            {"system": "s", "intent_accuracy": 0.9, "train_seconds": 4.0}]
    row = accuracy.combine_seeds(runs, [1, 2])
    assert row["intent_accuracy"] == 0.7 and row["train_seconds"] == 3.0
    assert row["spread"]["intent_accuracy"] == {"min": 0.5, "max": 0.9, "half_range": 0.2}
    assert "entity_micro_f1" not in row and row["system"] == "s"
    assert accuracy._figure(row, "intent_accuracy") == "70.0 ± 20.0"


FAKE_RASA = """#!/bin/sh
# Stands in for `rasa train nlu ... --out DIR --fixed-model-name NAME`: writes a model file.
while [ $# -gt 0 ]; do
  case "$1" in --out) out=$2; shift;; --fixed-model-name) name=$2; shift;; esac; shift
done
mkdir -p "$out" .rasa && printf 'model' > "$out/$name.tar.gz"  # Rasa caches into ./.rasa
"""
FAKE_PYTHON = """#!{python}
# Stands in for `python measure_parse.py MODEL TEXTS OUT`: every text parsed as {intent!r}, no entities.
import json, sys
texts = open(sys.argv[3], encoding="utf-8").read().splitlines()
with open(sys.argv[4], "w", encoding="utf-8") as out:
    for text in texts:
        out.write(json.dumps({{"text": text, "intent": {{"name": {intent!r}}}, "entities": []}}) + "\\n")
print("load_s=2.00 p50_ms=10.00 p99_ms=20.00 msg_per_s=100 rss_mb=1000")
"""


def fake_rasa(tmp_path, intent):
    venv, peer = tmp_path / "rasa-venv", tmp_path / "peer"
    (venv / "bin").mkdir(parents=True)
    peer.mkdir()
    for name, text in (("rasa", FAKE_RASA), ("python", FAKE_PYTHON.format(python=sys.executable, intent=intent))):
        (venv / "bin" / name).write_text(text)
        (venv / "bin" / name).chmod(0o755)
    (peer / "measure_parse.py").write_text("# run by the fake python above\n")
    return venv, peer


def test_rasa_peer_benchmark_puts_both_systems_and_their_ratios_in_one_table(tmp_path):
    from intently.training_data import load_data

    train, test = split_example(tmp_path)
    gold = [m.intent for m in load_data(test).training_examples]
    commonest = max(set(gold), key=gold.count)
    venv, peer = fake_rasa(tmp_path, commonest)
    caller = tmp_path / "caller"
    caller.mkdir()
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "rasa_peer.py"), "--train", str(train), "--test", str(test),
         "--config", str(EXAMPLE_PROJECT / "config.yml"), "--rasa-config", str(EXAMPLE_PROJECT / "config.yml"),
         "--rasa-venv", str(venv), "--rasa-peer", str(peer), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False, cwd=caller,
    )
    assert result.returncode == 0, result.stderr
    assert not (caller / ".rasa").exists()  # Rasa ran in a temporary folder
    (dataset,) = json.loads((tmp_path / "out" / "rasa_peer.json").read_text())["results"]
    ours, theirs = dataset["intently"], dataset["rasa"]
    assert theirs["intent_accuracy"] == gold.count(commonest) / len(gold)
    assert theirs["entity_micro_f1"] == 0.0 and ours["entity_micro_f1"] > 0.0
    assert 0.0 < ours["intent_accuracy"] <= 1.0 and ours["train_s"] > 0 and ours["load_s"] > 0
    assert 0 < ours["p50_ms"] <= ours["p99_ms"] and ours["msg_per_s"] > 0 and ours["rss_mb"] > 0
    assert dataset["ratios"]["load_s"] == ours["load_s"] / 2.0
    assert dataset["ratios"]["train_s"] == ours["train_s"] / theirs["train_s"]
    table = (tmp_path / "out" / "rasa_peer.md").read_text()
    assert "| intently: config.yml |" in table and "| Rasa 3.6: config.yml |" in table
    assert "| ratio intently / Rasa |" in table


def test_rasa_peer_benchmark_says_how_to_install_rasa_when_it_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "rasa_peer.py"), "--rasa-venv", str(tmp_path / "none"),
         "--rasa-peer", str(tmp_path), "--out", str(tmp_path / "out"), "--train", str(tmp_path / "t.yml"),
         "--test", str(tmp_path / "t.yml")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert f"no Rasa in {tmp_path / 'none'}: install it with {tmp_path / 'install.sh'}" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_rasa_peer_benchmark_stops_clearly_when_rasa_writes_no_model(tmp_path):
    train, test = split_example(tmp_path)
    venv, peer = fake_rasa(tmp_path, "greet")
    (venv / "bin" / "rasa").write_text("#!/bin/sh\necho 'No NLU data given.'\n")  # Rasa exits 0 here
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "rasa_peer.py"), "--train", str(train), "--test", str(test),
         "--config", str(EXAMPLE_PROJECT / "config.yml"), "--rasa-config", str(EXAMPLE_PROJECT / "config.yml"),
         "--rasa-venv", str(venv), "--rasa-peer", str(peer), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert "Rasa's training wrote no model" in result.stderr and "Traceback" not in result.stderr


def test_robustness_benchmark_runs_every_part_and_counts_every_case(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "robustness.py"), "--quick", "--documents", "200", "--archives", "20",
         "--models", "default", "--kills", "1", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "robustness.json").read_text())
    documents, archives, kill = (data["parts"][name] for name in ("documents", "archives", "kill"))
    assert sum(documents["counts"].values()) == documents["documents"] == 200
    assert sum(archives["counts"].values()) == archives["archives"] == 20
    assert documents["counts"]["ok"] > 0 and documents["counts"]["clean"] > 0
    assert archives["counts"]["clean"] > 0
    # What holds today and must keep holding: nothing escapes, and a killed training never harms the saved model.
    assert archives["outside"] == 0
    assert kill["runs"] == kill["intact"] == 1 and kill["last_training_exit"] == 0
    table = (tmp_path / "out" / "robustness.md").read_text()
    assert "| part | cases | ok | clean errors | tracebacks | crashes | hangs |" in table
    assert "| fuzzed training-data documents | 200 |" in table and "| damaged model archives | 20 |" in table


def test_robustness_children_are_classified_by_how_they_end(tmp_path, monkeypatch):
    import os
    import signal
    import time

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from robustness_procs import Limits, fork_child, reap

    def crash(job, result_file):
        os.kill(os.getpid(), signal.SIGSEGV)

    def hang(job, result_file):
        time.sleep(60)

    def grow(job, result_file):
        result_file.write_text(str(len(bytearray(512 * 1024 * 1024))))

    def escape(job, result_file):
        (tmp_path / "big").write_bytes(bytes(3 * 1024 * 1024))

    # 5 s, not 1: the hang child must run past it, and the others must end well within it even on a
    # busy CI machine (with 1 s the memory-capped child was once still unwinding its MemoryError).
    limits = Limits(memory_mb=64, file_mb=2, seconds=5.0)
    children = {}
    for function in (crash, hang, grow, escape):
        child = fork_child(function, function.__name__, tmp_path / f"{function.__name__}.json", limits)
        children[child.pid] = child
    ends = {}
    while children:
        for child, end in reap(children, limits.seconds):
            ends[child.job] = end
    assert ends["crash"] == {"status": "signal", "signal": "SIGSEGV"}
    assert ends["hang"]["status"] == "timeout"
    assert ends["grow"] == {"status": "exited", "code": 70}  # MemoryError under the memory cap
    assert "MemoryError" in (tmp_path / "grow.json.crash").read_text()
    assert ends["escape"] == {"status": "signal", "signal": "SIGXFSZ"}


def test_robustness_documents_are_made_again_from_seed_and_index(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from robustness_docs import make_document

    sources = ["version: '3.1'\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n"]
    made = [make_document(7, index, sources) for index in range(200)]
    assert made == [make_document(7, index, sources) for index in range(200)]
    assert {kind for kind, _ in made} == {"mutated", "structure", "tokens", "special"}
    assert made != [make_document(8, index, sources) for index in range(200)]


def fake_rasa_reader(tmp_path, view: dict) -> Path:
    """A venv whose ``python`` answers the version probe and writes ``view`` as Rasa's reading."""
    venv = tmp_path / "fake-rasa"
    (venv / "bin").mkdir(parents=True)
    (tmp_path / "view.json").write_text(json.dumps(view, ensure_ascii=False), encoding="utf-8")
    python = venv / "bin" / "python"
    python.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-c" ]; then echo 3.6.21; exit 0; fi\n'
        f'cp "{tmp_path / "view.json"}" "$2"\n'
    )
    python.chmod(0o755)
    return venv


def test_rasa_compat_benchmark_tables_every_difference(tmp_path):
    project = (tmp_path / "proj").resolve()
    (project / "data").mkdir(parents=True)
    nlu = project / "data" / "nlu.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: 问候\n  examples: |\n    - 你好]\n    - 去[北京](city)\n'
        "- synonym: 北京\n  examples: |\n    - 北平\n",
        encoding="utf-8",
    )
    entity = {"start": 1, "end": 3, "value": "北京", "entity": "city", "role": None, "group": None}
    messages = [
        {"text": "你好]", "intent": "问候", "intent_response_key": None, "entities": [], "metadata": {}},
        {"text": "去北京", "intent": "问候", "intent_response_key": None, "entities": [entity], "metadata": {}},
    ]
    view = {
        "files": {
            str(nlu): {
                "kinds": ["nlu"],
                "messages": messages,
                "synonyms": {"北平": "北京", "北京市": "北京"},  # one more than intently reads
                "regexes": [],
                "lookups": {},
                "responses": {},
            }
        },
        "folders": {str(project): 2},
    }
    venv = fake_rasa_reader(tmp_path, view)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "rasa_compat.py"), str(project), "--rasa-venv", str(venv),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "rasa_compat.json").read_text(encoding="utf-8"))
    entry = data["files"]["proj/data/nlu.yml"]
    assert entry["counts"]["examples"] == 0 and entry["counts"]["synonyms"] == 1
    assert entry["differences"]["synonyms"] == ["synonym '北京市': only Rasa has it: \"北京\""]
    assert data["folders"]["proj"] == {"rasa_examples": 2, "intently_examples": 2}
    table = (tmp_path / "out" / "rasa_compat.md").read_text(encoding="utf-8")
    assert "| `proj/data/nlu.yml` | 2 / 2 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 1 |" in table


def test_rasa_compat_benchmark_says_how_to_install_rasa_when_it_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "rasa_compat.py"), str(tmp_path), "--rasa-venv", str(tmp_path / "none"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert f"Rasa is not installed in {tmp_path / 'none'}" in result.stderr and "install.sh" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_dev_c_auto_compares_the_searches_on_a_training_file_only(tmp_path):
    train, _ = split_example(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "dev_c_auto.py"), "--train", str(train), "--seeds", "1",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    (split,) = json.loads((tmp_path / "out" / "dev_split-c-auto.json").read_text())["results"]
    systems = [row["system"] for row in split["rows"]]
    assert systems == ["earlier C: auto (3 folds, 10 x tol)", "C: auto", "TF-IDF + LogReg (reference)"]
    assert all(0.0 <= row["intent_accuracy"] <= 1.0 for row in split["rows"])
    # the emulation of the earlier search is undone afterwards
    assert "10 x tol" not in (tmp_path / "out" / "dev_split-c-auto.md").read_text().split("| C: auto |")[1]


def test_train_time_times_both_systems_with_the_same_blas_threads(tmp_path):
    train, _ = split_example(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "train_time.py"), "--train", str(train), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "train_time.json").read_text())
    (figures,) = data["results"].values()
    assert data["blas_threads"] == 1
    (default,) = figures["systems"].values()
    assert default["seconds"] > 0 and figures["reference_seconds"] > 0
    assert default["ratio"] == default["seconds"] / figures["reference_seconds"]
    assert default["cpu_seconds"] > 0 and default["cpu_ratio"] == default["cpu_seconds"] / figures["reference_cpu_seconds"]


def test_train_time_alternates_several_configs_in_rounds(tmp_path):
    train, _ = split_example(tmp_path)
    lbfgs = REPO / "benchmarks" / "configs" / "default-lbfgs.yml"
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "train_time.py"), "--train", str(train), "--config", "default", str(lbfgs),
         "--rounds", "2", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "train_time.json").read_text())
    (figures,) = data["results"].values()
    assert list(figures["systems"]) == ["default", str(lbfgs)]
    assert all(len(system["rounds"]) == 2 for system in figures["systems"].values())
    assert len(figures["reference_rounds"]) == 2
    table = (tmp_path / "out" / "train_time.md").read_text()
    assert "intently (default pipeline) s" in table and "intently (default-lbfgs.yml) s" in table
    assert "2 rounds" in table and "CPU s" in table and "Load average before" in table


def test_dev_split_scores_entities_beside_the_crf_reference(tmp_path):
    train, _ = split_example(tmp_path)
    shutil.copy(EXAMPLE_PROJECT / "config.yml", tmp_path / "example.yml")
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "dev_split.py"), "--train", str(train), "--config",
         str(tmp_path / "example.yml"), "--entity-baseline", "--name", "dev", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    (split,) = json.loads((tmp_path / "out" / "dev.json").read_text())["results"]
    rows = {row["system"]: row for row in split["rows"]}
    assert list(rows) == ["example.yml", "TF-IDF + LogReg (reference)", "CRF (reference)"]
    assert 0.0 <= rows["example.yml"]["entity_micro_f1"] <= 1.0 and 0.0 <= rows["CRF (reference)"]["entity_micro_f1"] <= 1.0
    assert "entity_micro_f1" not in rows["TF-IDF + LogReg (reference)"]
    table = (tmp_path / "out" / "dev.md").read_text()
    assert "dev entity F1 %" in table and "| CRF (reference) | — | — |" in table


def test_unread_features_ab_times_both_arms_on_one_model(tmp_path):
    train, test = split_example(tmp_path)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "unread_features_ab.py"), "--train", str(train), "--data", str(test),
         "--rounds", "1", "--stem", "ab", "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "ab.json").read_text())
    assert data["identical"] is True and [row["parses"] for row in data["rows"]] == [data["texts"]] * 2
    assert all(row["p50_ms"] > 0 for row in data["rows"])
    assert "Identical parse results: True" in (tmp_path / "out" / "ab.md").read_text()


def test_a_readme_cell_from_one_file_per_seed_is_their_mean_with_the_spread(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import report

    for stem, seed, accuracy in (("one", 1, 0.82), ("two", 2, 0.80)):
        row = {"system": "intently: diet.yml", "seeds": [seed], "intent_accuracy": accuracy, "train_seconds": 10.0}
        (tmp_path / f"{stem}.json").write_text(json.dumps({"results": [{"dataset": "banking77-30", "rows": [row]}]}))
    row = report._accuracy_row(tmp_path, [(stem, "banking77-30", "intently: diet.yml") for stem in ("one", "two")])
    assert row["seeds"] == [1, 2] and abs(row["intent_accuracy"] - 0.81) < 1e-12
    assert abs(row["spread"]["intent_accuracy"]["half_range"] - 0.01) < 1e-12
    assert report._intent_entity(row) == "81.0"


def test_domain_adaptation_trains_one_config_on_the_base_and_the_adapted_checkpoint(tmp_path):
    from lm_helpers import make_tiny_bert

    train, test = split_example(tmp_path)
    bert = make_tiny_bert(tmp_path / "bert")
    config = tmp_path / "lm.yml"
    config.write_text(
        "language: en\npipeline:\n  - name: WhitespaceTokenizer\n  - name: LanguageModelFeaturizer\n"
        f"    model_name: bert\n    model_weights: {bert}\n"
        "  - name: LogisticRegressionClassifier\n", encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "domain_adaptation.py"), "--train", str(train), "--test", str(test),
         "--config", str(config), "--lm-epochs", "1", "--keep-checkpoint", str(tmp_path / "lm"),
         "--out", str(tmp_path / "out"), "--stem", "domain_adaptation-tiny"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out" / "domain_adaptation-tiny.json").read_text())
    dataset = data["results"][0]
    assert [row["system"] for row in dataset["rows"]] == ["base checkpoint", "adapted checkpoint"]
    lm = dataset["lm_finetune"]
    train_texts = len(__import__("intently").load_data(train).training_examples)
    assert lm["texts"] == train_texts and lm["epochs"] == 1 and lm["seconds"] > 0
    assert (tmp_path / "lm" / "train-adapted" / "model.safetensors").is_file()
    base, adapted = dataset["rows"]
    assert (base["model_weights"], adapted["model_weights"]) == (str(bert), str(tmp_path / "lm" / "train-adapted"))
    assert dataset["gain"]["intent_accuracy"] == adapted["intent_accuracy"] - base["intent_accuracy"]
    assert "adapted − base" in (tmp_path / "out" / "domain_adaptation-tiny.md").read_text()


def test_domain_adaptation_needs_a_config_that_names_its_checkpoint(tmp_path):
    train, test = split_example(tmp_path)
    config = tmp_path / "plain.yml"
    config.write_text("language: en\npipeline:\n  - name: WhitespaceTokenizer\n"
                      "  - name: LogisticRegressionClassifier\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "domain_adaptation.py"), "--train", str(train), "--test", str(test),
         "--config", str(config), "--out", str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0 and "exactly one LanguageModelFeaturizer" in result.stderr
    assert not (tmp_path / "out").exists()
