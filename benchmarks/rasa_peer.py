"""Rasa 3.6 beside intently, in one script run: training time, accuracy, parsing speed, memory.

    ../shared/peers/rasa/install.sh /tmp/rasa-venv      # once, about 5 minutes
    python benchmarks/rasa_peer.py                      # snips-100, benchmarks/configs/diet.yml
    python benchmarks/rasa_peer.py --dataset banking77-30 --config benchmarks/configs/diet.yml
    python benchmarks/rasa_peer.py --train my/train.yml --test my/test.yml --rasa-config my/rasa-config.yml

Timings on shared 2-core machines vary up to 2x from run to run, so a speed
claim against Rasa holds only as a ratio measured side by side; this script
runs both systems one after the other, each in its own processes, on the same
files:

1. training: ``intently train`` and ``rasa train nlu`` as command lines, wall
   time including imports (``--config`` and ``--rasa-config``, by default the
   same pipeline: issue 5's DIET with 100 epochs);
2. parsing: each model is loaded in a fresh process that parses the test
   texts one at a time after 50 warm-up parses (latency p50 / p99), then all of
   them once more (messages per second, one at a time), and reports load time
   and peak memory; Rasa's side is ``measure_parse.py`` of the peer folder;
3. accuracy: both systems' parses of the test file are scored the same way
   (intent accuracy, exact-span entity micro P / R / F1).

Writes ``rasa_peer.json`` and ``rasa_peer.md`` (``--stem``) into ``--out``. Exits
with status 2 and says how to install Rasa when ``--rasa-venv`` has none.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_OUT,
    REPO,
    add_data_arguments,
    chosen_datasets,
    environment,
    markdown_table,
    peak_rss_mb,
    percent,
    publish,
)

DEFAULT_CONFIG = Path(__file__).resolve().parent / "configs" / "diet.yml"
DEFAULT_PEER = REPO.parent / "shared" / "peers" / "rasa"
DEFAULT_VENV = Path("/tmp/rasa-venv")
WARM_UP = 50
#: Environment for Rasa's processes: no telemetry, no TensorFlow log lines.
RASA_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
#: What ``measure_parse.py`` prints last, e.g. ``load_s=29.6 p50_ms=10.5 p99_ms=15.8 msg_per_s=95 rss_mb=1164``.
METRIC = re.compile(r"(\w+)=([0-9.]+)")


class PeerMissing(Exception):
    """Rasa or the peer folder is not where the command line says."""


# --- intently's parse worker (run in its own process) ------------------------------------------


def worker_intently(model: str, texts_file: str, parses_file: str) -> dict[str, float]:
    """Load ``model``, parse the texts as ``measure_parse.py`` does Rasa's, write the parses as JSONL."""
    started = time.perf_counter()
    import intently

    interpreter = intently.load_model(model)
    load_seconds = time.perf_counter() - started
    with open(texts_file, encoding="utf-8") as handle:  # read as measure_parse.py reads them
        texts = [line.rstrip("\n") for line in handle]
    for text in texts[:WARM_UP]:
        interpreter.parse(text)
    latencies, parses = [], []
    for text in texts:
        begun = time.perf_counter()
        parses.append(interpreter.parse(text))
        latencies.append((time.perf_counter() - begun) * 1000)
    with open(parses_file, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps({"text": p["text"], "intent": p["intent"], "entities": p["entities"]}) + "\n"
                          for p in parses)
    begun = time.perf_counter()
    for text in texts:
        interpreter.parse(text)
    rate = len(texts) / (time.perf_counter() - begun)
    latencies.sort()  # the same order statistics as measure_parse.py takes
    return {"load_s": load_seconds, "p50_ms": latencies[len(latencies) // 2],
            "p99_ms": latencies[int(len(latencies) * 0.99)], "msg_per_s": rate, "rss_mb": peak_rss_mb()}


# --- the two systems ------------------------------------------------------------------------------


def rasa_paths(venv: Path, peer: Path) -> tuple[Path, Path, Path]:
    """``(rasa, python, measure_parse.py)``; PeerMissing naming what to do when one is absent."""
    rasa, python, measure = venv / "bin" / "rasa", venv / "bin" / "python", peer / "measure_parse.py"
    if not rasa.is_file() or not python.is_file():
        raise PeerMissing(f"no Rasa in {venv}: install it with {peer / 'install.sh'} {venv} (about 5 minutes), "
                          "or pass --rasa-venv")
    if not measure.is_file():
        raise PeerMissing(f"no {measure}: pass --rasa-peer with the folder of Rasa's measure_parse.py")
    return rasa, python, measure


def run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Run ``command`` with ``env`` added to this environment, its output captured; on failure stop
    with the end of its output and errors (Rasa's CLI prints its errors to standard output)."""
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd,
                               env=None if env is None else {**os.environ, **env})
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}\n"
                         f"stdout: ...{completed.stdout[-2000:]}\nstderr: ...{completed.stderr[-2000:]}")
    return completed


def parse_metrics(output: str) -> dict[str, float]:
    """The ``name=value`` figures of a parse worker's last output line."""
    lines = [line for line in output.splitlines() if METRIC.search(line)]
    if not lines:
        raise SystemExit(f"no measurements in the parse worker's output:\n{output[-2000:]}")
    return {name: float(value) for name, value in METRIC.findall(lines[-1])}


def train_and_parse(who: str, train: list[str], parse: list[str], model: Path, parses: Path, *,
                    env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Run the command ``train`` (which writes ``model``), then the parse worker ``parse`` (which
    writes ``parses``); training seconds, the worker's figures and the archive's size."""
    started = time.perf_counter()
    run(train, env=env, cwd=cwd)
    seconds = time.perf_counter() - started
    if not model.is_file():  # `rasa train nlu` exits 0 when it finds no NLU data
        raise SystemExit(f"{who}'s training wrote no model {model}: {' '.join(train)}")
    figures = parse_metrics(run(parse, env=env, cwd=cwd).stdout)
    return {"train_s": seconds, **figures, "archive_mb": model.stat().st_size / 1e6, "parses": parses}


def run_intently(config: Path, train: Path, texts: Path, work: Path) -> dict[str, Any]:
    out, parses = work / "intently", work / "intently-parses.jsonl"
    model = out / "model.tar.gz"
    return train_and_parse(
        "intently",
        [sys.executable, "-m", "intently", "train", "--config", str(config), "--nlu", str(train), "--out", str(out),
         "--fixed-model-name", "model", "--force"],
        [sys.executable, __file__, "--worker", str(model), str(texts), str(parses)],
        model, parses,
    )


def run_rasa(paths: tuple[Path, Path, Path], config: Path, train: Path, texts: Path, work: Path) -> dict[str, Any]:
    rasa, python, measure = paths
    out, parses = work / "rasa", work / "rasa-parses.jsonl"
    model = out / "model.tar.gz"
    # Rasa writes a .rasa/ cache into its working folder: the temporary one, not the repository.
    return train_and_parse(
        "Rasa",
        [str(rasa), "train", "nlu", "--config", str(config), "--nlu", str(train), "--out", str(out),
         "--fixed-model-name", "model"],
        [str(python), str(measure), str(model), str(texts), str(parses)],
        model, parses, env=RASA_ENV, cwd=work,
    )


# --- scoring --------------------------------------------------------------------------------------


def score(parses_file: Path, test_file: Path) -> dict[str, float | None]:
    """Intent accuracy and exact-span entity micro P / R / F1 of a JSONL of parses of the test file's texts."""
    import intently
    from intently.evaluation import label_report, span_report

    gold = intently.load_data(test_file).training_examples
    parses = [json.loads(line) for line in parses_file.read_text(encoding="utf-8").splitlines()]
    if [p["text"] for p in parses] != [m.text for m in gold]:
        raise SystemExit(f"{parses_file}: the parses are not of the test file's texts, in its order")
    result: dict[str, float | None] = {"intent_accuracy": None, "entity_precision": None, "entity_recall": None,
                                       "entity_micro_f1": None}
    with_intent = [(m, p) for m, p in zip(gold, parses) if m.intent]
    if with_intent:
        predicted = [(p.get("intent") or {}).get("name") or "" for _, p in with_intent]
        result["intent_accuracy"] = label_report([m.intent for m, _ in with_intent], predicted)["accuracy"]
    gold_spans = [(i, e.start, e.end, e.entity) for i, m in enumerate(gold) for e in m.entities]
    if gold_spans:
        found = [(i, e["start"], e["end"], e["entity"]) for i, p in enumerate(parses) for e in p.get("entities", [])]
        micro = span_report(gold_spans, found)["micro avg"]
        result.update(entity_precision=micro["precision"], entity_recall=micro["recall"],
                      entity_micro_f1=micro["f1-score"])
    return result


# --- report ---------------------------------------------------------------------------------------


HEADER = ["data (train → test)", "system", "intent acc %", "entity P / R / F1 %", "train s", "load s",
          "p50 / p99 ms", "msg/s (one at a time)", "peak RSS MB", "archive MB"]


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """The Markdown rows of one data set: intently, Rasa, then intently / Rasa ratios."""
    rows = []
    for key in ("intently", "rasa"):
        row = result[key]
        entity = ("–" if row["entity_micro_f1"] is None else
                  f"{percent(row['entity_precision'])} / {percent(row['entity_recall'])} / "
                  f"{percent(row['entity_micro_f1'])}")
        rows.append([result["data"], row["system"], percent(row["intent_accuracy"]), entity, f"{row['train_s']:.1f}",
                     f"{row['load_s']:.2f}", f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f}",
                     f"{row['msg_per_s']:,.0f}", f"{row['rss_mb']:,.0f}", f"{row['archive_mb']:.1f}"])
    ratio = result["ratios"]
    rows.append([result["data"], "ratio intently / Rasa", "", "", f"{ratio['train_s']:.2f}×", f"{ratio['load_s']:.3f}×",
                 f"{ratio['p50_ms']:.3f}×", f"{ratio['msg_per_s']:.1f}×", f"{ratio['rss_mb']:.2f}×",
                 f"{ratio['archive_mb']:.2f}×"])
    return rows


def compare(data: str, ours: dict[str, Any], theirs: dict[str, Any], test_file: Path,
            names: tuple[str, str]) -> dict[str, Any]:
    """Both systems' figures on one data set, scored, with the ratios ours / theirs."""
    result: dict[str, Any] = {"data": data}
    for key, row, name in (("intently", ours, names[0]), ("rasa", theirs, names[1])):
        result[key] = {"system": name, **{k: v for k, v in row.items() if k != "parses"},
                       **score(row["parses"], test_file)}
    result["ratios"] = {key: result["intently"][key] / result["rasa"][key]
                        for key in ("train_s", "load_s", "p50_ms", "msg_per_s", "rss_mb", "archive_mb")}
    return result


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(" ".join(f"{k}={v:.6f}" for k, v in worker_intently(*sys.argv[2:5]).items()))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser, default=["snips-100"])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="intently's config (default: diet.yml)")
    parser.add_argument("--rasa-peer", type=Path, default=DEFAULT_PEER,
                        help="the folder of Rasa's install.sh, config.yml and measure_parse.py (default: %(default)s)")
    parser.add_argument("--rasa-config", type=Path, default=None,
                        help="Rasa's config (default: config.yml of --rasa-peer, the same pipeline as diet.yml)")
    parser.add_argument("--rasa-venv", type=Path, default=DEFAULT_VENV,
                        help="the virtual environment Rasa is installed in (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", default="rasa_peer", help="output file names without suffix (default: %(default)s)")
    args = parser.parse_args(argv)
    datasets = {name: (train.resolve(), test.resolve()) for name, (train, test) in chosen_datasets(parser, args).items()}
    rasa_config = (args.rasa_config or args.rasa_peer / "config.yml").resolve()
    try:
        paths = rasa_paths(args.rasa_venv.resolve(), args.rasa_peer.resolve())
    except PeerMissing as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    for path in (args.config, rasa_config):
        if not path.is_file():
            parser.error(f"no config {path}")
    names = (f"intently: {args.config.name}", f"Rasa 3.6: {rasa_config.name}")
    results = []
    for data, (train, test) in datasets.items():
        import intently

        texts = [m.text for m in intently.load_data(test).training_examples]
        if not texts:
            parser.error(f"no examples in {test}")
        if any("\n" in text or "\r" in text for text in texts):
            parser.error(f"{test}: a text with a line break; the parse workers read one text per line")
        with tempfile.TemporaryDirectory(prefix="intently-rasa-peer-") as tmp:
            work = Path(tmp)
            texts_file = work / "texts.txt"
            texts_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
            ours = run_intently(args.config, train, texts_file, work)
            theirs = run_rasa(paths, rasa_config, train, texts_file, work)
            results.append(compare(f"{data} ({train.name} → {test.name})", ours, theirs, test, names))
    table = markdown_table(HEADER, [row for result in results for row in table_rows(result)])
    publish(args.out, args.stem, {"environment": environment(), "config": str(args.config),
                                  "rasa_config": str(rasa_config), "results": results}, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
