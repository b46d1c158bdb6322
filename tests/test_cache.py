"""The training cache: fingerprints, hits and misses, restored training data, safety, eviction, the CLI."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from intently import Component
from intently.cli.main import main
from intently.component import TOKENS
from intently.config import load_config
from intently.errors import UsageError
from intently.graph import cache as cache_module
from intently.graph.cache import TrainingCache, cache_dir, max_cache_bytes, node_fingerprints
from intently.graph.delta import TrainingDataDelta
from intently.graph.recipes import recipe_for
from intently.trainer import Trainer
from intently.training_data.loading import load_data
from test_graph import NLU as GRAPH_NLU

NLU = GRAPH_NLU + """- regex: count
  examples: |
    - [两三四五六]个
"""
TEXTS = ["你好", "帮我 订 两个 人的 桌子", "我想订 三个 人的 位子", "早上 好 啊", "订 六个 人", ""]
TOKENIZER, REGEX, LEXICAL, COUNTS, CLASSIFIER, CRF, SYNONYMS = (
    "train_0_WhitespaceTokenizer", "train_1_RegexFeaturizer", "train_2_LexicalSyntacticFeaturizer",
    "train_3_CountVectorsFeaturizer", "train_4_LogisticRegressionClassifier", "train_5_CRFEntityExtractor",
    "train_6_EntitySynonymMapper",
)
ALL = [TOKENIZER, REGEX, LEXICAL, COUNTS, CLASSIFIER, CRF, SYNONYMS]


def classic(classifier: dict[str, Any] | None = None, crf: dict[str, Any] | None = None,
            counts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A classic.yml-style pipeline: an intent classifier, and a CRF after it."""
    return {"language": "zh", "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 2, **(counts or {})},
        {"name": "LogisticRegressionClassifier", **(classifier or {})},
        {"name": "CRFEntityExtractor", "max_iterations": 20, **(crf or {})},
        {"name": "EntitySynonymMapper"},
    ]}


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "nlu.yml"
    path.write_text(NLU, encoding="utf-8")
    return path


def train(config: dict[str, Any], data_file: Path, **kwargs: Any) -> tuple[Trainer, Any]:
    trainer = Trainer(config)
    return trainer, trainer.train(load_data(data_file), **kwargs)


def fates(trainer: Trainer) -> dict[str, str]:
    assert trainer.cache_report is not None
    return trainer.cache_report["nodes"]


def ran(trainer: Trainer) -> list[str]:
    return [name for name, fate in fates(trainer).items() if fate != "restored"]


def parses(interpreter: Any) -> list[dict[str, Any]]:
    return [interpreter.parse(text) for text in TEXTS]


# --- fingerprints ---------------------------------------------------------------------------


def fingerprints(config: dict[str, Any], data_file: Path) -> dict[str, str]:
    recipe = recipe_for(load_config(config))
    return node_fingerprints(recipe.train, recipe.train_order, load_data(data_file).fingerprint(), recipe.config.language)


def test_fingerprints_are_stable_across_processes_and_key_order(data_file):
    config = classic()
    here = fingerprints(config, data_file)
    script = (
        "import json, sys\n"
        "from intently.config import load_config\n"
        "from intently.graph.cache import node_fingerprints\n"
        "from intently.graph.recipes import recipe_for\n"
        "from intently.training_data.loading import load_data\n"
        "recipe = recipe_for(load_config(json.loads(sys.argv[1])))\n"
        "print(json.dumps(node_fingerprints(recipe.train, recipe.train_order, load_data(sys.argv[2]).fingerprint(),"
        " recipe.config.language)))\n"
    )
    reordered = {"pipeline": [dict(reversed(list(item.items()))) for item in config["pipeline"]], "language": "zh"}
    out = subprocess.run([sys.executable, "-c", script, json.dumps(reordered, ensure_ascii=False), str(data_file)],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == here
    # A default spelled out is the same config.
    assert fingerprints(classic(counts={"lowercase": True}), data_file) == here


def test_a_config_change_changes_that_node_and_what_depends_on_it(data_file):
    before = fingerprints(classic(), data_file)
    after = fingerprints(classic(classifier={"max_iter": 7}), data_file)
    assert [n for n in ALL if before[n] != after[n]] == [CLASSIFIER]
    after = fingerprints(classic(counts={"max_ngram": 3}), data_file)
    # The synonym mapper's train node needs only the data.
    assert [n for n in ALL if before[n] != after[n]] == [COUNTS, CLASSIFIER, CRF]


def test_a_version_or_data_change_changes_the_fingerprints(data_file, monkeypatch):
    before = fingerprints(classic(), data_file)
    real = cache_module.class_version
    monkeypatch.setattr(cache_module, "class_version",
                        lambda cls: real(cls) + (" 9.9" if cls.__name__ == "RegexFeaturizer" else ""))
    after = fingerprints(classic(), data_file)
    # The regex featurizer and its descendants (the featurizers after it add to its features).
    assert [n for n in ALL if before[n] == after[n]] == [TOKENIZER, SYNONYMS]
    monkeypatch.setattr(cache_module, "class_version", real)
    data_file.write_text(NLU.replace("早上 好", "晚上 好"), encoding="utf-8")
    after = fingerprints(classic(), data_file)
    assert all(before[n] != after[n] for n in ALL)


# --- hits, misses, identical models -----------------------------------------------------------


def test_only_what_a_change_affects_runs_and_the_model_parses_as_an_uncached_one(data_file, caplog):
    caplog.set_level(logging.INFO, logger="intently")
    trainer, _ = train(classic(), data_file)  # (a) cold
    assert fates(trainer) == dict.fromkeys(ALL, "ran")

    caplog.clear()
    trainer, cached = train(classic(), data_file)  # (c) nothing changed
    assert ran(trainer) == []
    assert f"Restored {CLASSIFIER}" in caplog.text and "saving about" in caplog.text
    _, uncached = train(classic(), data_file, use_cache=False)
    assert parses(cached) == parses(uncached)

    # (b)/(e) only the intent classifier's config: the featurizers are restored (with their
    # training data), the CRF after the classifier is not retrained.
    trainer, cached = train(classic(classifier={"max_iter": 50}), data_file)
    assert ran(trainer) == [CLASSIFIER]
    _, uncached = train(classic(classifier={"max_iter": 50}), data_file, use_cache=False)
    assert parses(cached) == parses(uncached)

    # Only the CRF: it trains on the restored tokens, regex token data and features.
    trainer, cached = train(classic(crf={"max_iterations": 15}), data_file)
    assert ran(trainer) == [CRF]
    _, uncached = train(classic(crf={"max_iterations": 15}), data_file, use_cache=False)
    assert parses(cached) == parses(uncached)

    # A featurizer: it and what reads its features.
    trainer, cached = train(classic(counts={"max_ngram": 3}), data_file)
    assert ran(trainer) == [COUNTS, CLASSIFIER, CRF]
    _, uncached = train(classic(counts={"max_ngram": 3}), data_file, use_cache=False)
    assert parses(cached) == parses(uncached)

    # (d) one example: everything that reads the data.
    data_file.write_text(NLU.replace("早上 好", "晚上 好"), encoding="utf-8")
    trainer, _ = train(classic(), data_file)
    assert ran(trainer) == ALL


def test_use_cache_false_neither_reads_nor_writes(data_file, _own_training_cache):
    trainer, _ = train(classic(), data_file, use_cache=False)
    assert trainer.cache_report is None
    assert not _own_training_cache.exists()
    train(classic(), data_file)
    entries = sorted(os.listdir(_own_training_cache / "v1" / "entries"))
    trainer, _ = train(classic(), data_file, use_cache=False)
    assert trainer.cache_report is None
    assert sorted(os.listdir(_own_training_cache / "v1" / "entries")) == entries


def test_finetuning_does_not_use_the_cache(data_file, tmp_path):
    trainer, interpreter = train(classic(), data_file)
    archive = interpreter.persist(tmp_path / "models")
    trainer = Trainer(classic())
    trainer.train(load_data(data_file), base_model=archive)
    assert trainer.cache_report is None


class OpaqueData(Component):
    """Hands later components a Python object in message.data: not cacheable."""

    requires = (TOKENS,)

    def process(self, messages, **context: Any) -> None:
        for message in messages:
            message.data["_opaque"] = object()


def test_a_node_whose_output_is_not_json_runs_every_time_and_the_rest_is_cached(data_file, caplog):
    from intently.registry import get_registry

    registry = get_registry()
    registry.register(OpaqueData, plugin="tests") if "OpaqueData" not in registry else None
    config = classic()
    config["pipeline"].insert(1, {"name": f"{__name__}.OpaqueData"})
    caplog.set_level(logging.INFO, logger="intently")
    first = Trainer(config)
    first.train(load_data(data_file))
    name = "train_1_OpaqueData"
    assert "not cached" in first.cache_report["nodes"][name] and "message.data['_opaque']" in caplog.text
    second = Trainer(config)
    second.train(load_data(data_file))
    assert [n for n, fate in second.cache_report["nodes"].items() if fate != "restored"] == [name]


# --- safety and robustness ----------------------------------------------------------------------


def entry_of(trainer: Trainer, node: str, root: Path) -> Path:
    return root / "v1" / "entries" / trainer.cache_report["fingerprints"][node]


def test_a_tampered_or_incomplete_entry_is_a_miss_with_a_warning(data_file, _own_training_cache, caplog):
    trainer, _ = train(classic(), data_file)
    counts = entry_of(trainer, COUNTS, _own_training_cache)
    arrays = counts / "delta.npz"
    arrays.write_bytes(arrays.read_bytes()[:-5] + b"xxxxx")
    crf = entry_of(trainer, CRF, _own_training_cache)
    (crf / "entry.json").unlink()  # as if half written (a real write renames a complete folder)
    synonyms = entry_of(trainer, SYNONYMS, _own_training_cache)
    (synonyms / "component" / "evil").symlink_to("/etc/passwd")
    caplog.set_level(logging.WARNING, logger="intently")
    trainer, cached = train(classic(), data_file)
    # Only the damaged nodes run (the classifier's inputs are unchanged: its entry is still good).
    assert ran(trainer) == [COUNTS, CRF, SYNONYMS]
    assert "damaged" in caplog.text and "SHA-256" in caplog.text and "link" in caplog.text
    _, uncached = train(classic(), data_file, use_cache=False)
    assert parses(cached) == parses(uncached)
    trainer, _ = train(classic(), data_file)  # the damaged entries were replaced
    assert ran(trainer) == []


def test_a_damaged_index_is_rebuilt_from_the_entries(data_file, _own_training_cache, caplog):
    train(classic(), data_file)
    index = _own_training_cache / "v1" / "index.json"
    index.write_text("{not json", encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="intently")
    trainer, _ = train(classic(), data_file)
    assert ran(trainer) == [] and "rebuilding" in caplog.text
    assert set(json.loads(index.read_text())["entries"]) == set(trainer.cache_report["fingerprints"].values())


def test_a_training_killed_while_writing_an_entry_leaves_a_usable_cache(data_file, _own_training_cache):
    script = (
        "import os, signal, sys\n"
        "from intently.graph import delta\n"
        "real = delta.TrainingDataDelta.save\n"
        "count = []\n"
        "def dying_save(self, folder):\n"
        "    count.append(1)\n"
        "    real(self, folder)\n"
        "    if len(count) == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "delta.TrainingDataDelta.save = dying_save\n"
        "from intently.trainer import Trainer\n"
        "import json\n"
        "Trainer(json.loads(sys.argv[1])).train(sys.argv[2])\n"
    )
    done = subprocess.run([sys.executable, "-c", script, json.dumps(classic(), ensure_ascii=False), str(data_file)],
                          capture_output=True, text=True)
    assert done.returncode == -9
    tmp = _own_training_cache / "v1" / "tmp"
    leftovers = list(tmp.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith("entry-")  # the third entry, half written
    assert len(list((_own_training_cache / "v1" / "entries").iterdir())) == 2
    old = time.time() - 3600
    os.utime(leftovers[0], (old, old))
    trainer, cached = train(classic(), data_file)
    assert ran(trainer) == [LEXICAL, COUNTS, CLASSIFIER, CRF, SYNONYMS]
    assert list(tmp.iterdir()) == []  # the leftover was removed
    _, uncached = train(classic(), data_file, use_cache=False)
    assert parses(cached) == parses(uncached)


class Stateful(Component):
    defaults = {"n": 0}

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any]:
        (model_dir / "state.bin").write_bytes(b"x" * 3000)
        return {}


def test_least_recently_used_entries_are_evicted_under_the_size_limit(tmp_path):
    cache = TrainingCache(tmp_path / "c", max_bytes=100_000)
    assert cache.store(f"{0:064x}", "node0", Stateful({"n": 0}), TrainingDataDelta(0), 0.1)
    one = cache.size()
    assert one > 3000  # the state, the delta and entry.json
    cache.max_bytes = int(3.5 * one)  # room for three entries
    for n in (1, 2):
        time.sleep(0.01)
        assert cache.store(f"{n:064x}", f"node{n}", Stateful({"n": n}), TrainingDataDelta(0), 0.1)
    assert [cache.contains(f"{n:064x}") for n in range(3)] == [True, True, True]
    cache._update_index(touched=[f"{0:064x}"])  # entry 0 is used again: entry 1 is now the least recent
    assert cache.store(f"{3:064x}", "node3", Stateful({"n": 3}), TrainingDataDelta(0), 0.1)
    assert cache.size() <= cache.max_bytes
    assert [cache.contains(f"{n:064x}") for n in range(4)] == [True, False, True, True]
    # The index records what is on disk.
    assert cache.size() == sum(
        p.stat().st_size for p in (tmp_path / "c" / "v1" / "entries").rglob("*") if p.is_file()
    )
    # An entry larger than the whole cache is not written.
    assert not TrainingCache(tmp_path / "small", max_bytes=1000).store("f" * 64, "n", Stateful(), TrainingDataDelta(0), 0.1)


# --- environment and command line ---------------------------------------------------------------


def test_environment_variables(tmp_path, monkeypatch, data_file):
    monkeypatch.setenv("INTENTLY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("INTENTLY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert cache_dir() == tmp_path / "xdg" / "intently"
    monkeypatch.setenv("INTENTLY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert max_cache_bytes({}) == 1000 * 1_000_000
    assert max_cache_bytes({"INTENTLY_MAX_CACHE_SIZE": "2.5"}) == 2_500_000
    for bad in ("lots", "-1", "nan"):
        with pytest.raises(UsageError, match="INTENTLY_MAX_CACHE_SIZE"):
            max_cache_bytes({"INTENTLY_MAX_CACHE_SIZE": bad})
    monkeypatch.setenv("INTENTLY_MAX_CACHE_SIZE", "0")
    trainer, _ = train(classic(), data_file)
    assert trainer.cache_report is None and not (tmp_path / "elsewhere").exists()
    monkeypatch.delenv("INTENTLY_MAX_CACHE_SIZE")
    train(classic(), data_file)
    assert len(list((tmp_path / "elsewhere" / "v1" / "entries").iterdir())) == len(ALL)


def test_cli_skip_cache_and_recipe_show_marks_cached_nodes(data_file, tmp_path, capsys, _own_training_cache):
    config = tmp_path / "config.yml"
    config.write_text(json.dumps(classic(), ensure_ascii=False), encoding="utf-8")
    args = ["-c", str(config), "-d", str(data_file)]
    assert main(["train", *args, "--out", str(tmp_path / "m1"), "--skip-cache"]) == 0
    assert not _own_training_cache.exists()
    assert main(["recipe", "show", *args]) == 0
    assert "(cached)" not in capsys.readouterr().out
    assert main(["train", *args, "--out", str(tmp_path / "m2")]) == 0
    capsys.readouterr()
    assert main(["recipe", "show", *args]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("(cached)") == len(ALL) and "class " in captured.out and "cached" in captured.out
    assert f"{len(ALL)} of {len(ALL)} component train nodes are cached" in captured.err
    changed = tmp_path / "changed.yml"
    changed.write_text(json.dumps(classic(classifier={"max_iter": 9}), ensure_ascii=False), encoding="utf-8")
    assert main(["recipe", "show", "-c", str(changed), "-d", str(data_file), "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.count("(cached)") == len(ALL) - 1 and "palegreen" in out
    assert "4_LogisticRegressionClassifier\\nLogisticRegressionClassifier.train\"" in out
    assert main(["train", "--help"]) == 0
    assert "neither restore" in capsys.readouterr().out.replace("\n", " ").replace("  ", " ")
    monkeypatch_env = os.environ.get("INTENTLY_MAX_CACHE_SIZE")
    assert monkeypatch_env is None


# --- the training-data delta --------------------------------------------------------------------


def test_the_delta_round_trips_tokens_data_entities_and_feature_blocks(tmp_path):
    import numpy as np
    import scipy.sparse
    from intently import Message, Token
    from intently.features import attach_features, collect_features
    from intently.graph.delta import NotCacheable, capture, load_delta, snapshot
    from intently.message import Entity

    def examples():
        return [Message("你好 世界", intent="问候"), Message("订 两个 位子", intent="订餐"), Message("嗨", intent="问候")]

    def annotate(messages):
        for message in messages:
            message.tokens = [Token(w, message.text.index(w), message.text.index(w) + len(w), data={"pattern": {"数": "两" in w}})
                              for w in message.text.split()]
            message.data["_intent_tokens"] = [message.intent]
        messages[1].entities = [Entity(2, 4, "两个", "count", extractor="x")]
        offsets = np.cumsum([0] + [len(m.tokens) for m in messages])
        attach_features(messages, "1_稀疏", "sequence", scipy.sparse.random(offsets[-1], 7, density=0.4, format="csr",
                                                                          random_state=1), offsets)
        attach_features(messages, "1_稀疏", "sentence", np.arange(21, dtype=np.float32).reshape(3, 7))

    reference = examples()
    annotate(reference)
    restored = examples()
    before = snapshot(restored)
    annotate(restored)
    delta = capture(before, restored)
    delta.save(tmp_path)
    target = examples()
    load_delta(tmp_path).apply(target)
    for kind in ("sequence", "sentence"):
        expected, expected_offsets = collect_features(reference, kind)
        got, got_offsets = collect_features(target, kind)
        assert (abs(expected - got)).sum() == 0 and got.dtype == expected.dtype
        assert np.array_equal(expected_offsets, got_offsets)
    for a, b in zip(reference, target):
        assert [(t.text, t.start, t.end, t.data) for t in a.tokens] == [(t.text, t.start, t.end, t.data) for t in b.tokens]
        assert a.data == b.data and a.entities == b.entities
    # Removing features, changing a label or setting a non-JSON value cannot be cached.
    before = snapshot(restored)
    restored[0].features = []
    with pytest.raises(NotCacheable, match="removed feature"):
        capture(before, restored)
    before = snapshot(target)
    target[2].intent = "订餐"
    with pytest.raises(NotCacheable, match="labels"):
        capture(before, target)
    # A damaged delta is refused (an index out of range).
    state = json.loads((tmp_path / "delta.json").read_text(encoding="utf-8"))
    state["blocks"][0]["examples"][0] = 99
    (tmp_path / "delta.json").write_text(json.dumps(state), encoding="utf-8")
    with pytest.raises(ValueError, match="out of range"):
        load_delta(tmp_path)


def test_inserting_a_component_renames_the_nodes_after_it_and_they_run_again(data_file):
    before = fingerprints(classic(), data_file)
    config = classic()
    config["pipeline"].insert(6, {"name": "KeywordIntentClassifier"})
    after = fingerprints(config, data_file)
    assert before[CRF] == after[CRF] and "train_7_EntitySynonymMapper" in after


def test_a_bad_size_limit_is_a_clear_error_in_the_cli(data_file, tmp_path, capsys, monkeypatch):
    config = tmp_path / "config.yml"
    config.write_text(json.dumps(classic(), ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("INTENTLY_MAX_CACHE_SIZE", "10GB")
    assert main(["train", "-c", str(config), "-d", str(data_file), "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert "[E500]" in err and "INTENTLY_MAX_CACHE_SIZE='10GB'" in err and "megabytes" in err
    assert "Traceback" not in err
