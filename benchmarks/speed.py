"""Speed benchmark: parse latency, throughput, load time, size and memory, beside a baseline.

    python benchmarks/speed.py                                  # trains the default pipeline on snips/train.yml
    python benchmarks/speed.py --model models/my.tar.gz --data my/test.yml --train my/train.yml
    python benchmarks/speed.py --config benchmarks/configs/classic.yml --stem speed-classic

Each system is measured in a fresh Python process, so import time, load time
and peak memory are its own ("import s": importing the library; "load s":
reading the model once imported): intently loads its archive and parses with the
Interpreter; the baseline (TF-IDF + logistic regression from scikit-learn,
trained on ``--train`` and saved with joblib) loads and predicts intents. Both
parse the texts of ``--data`` one at a time (after a warm-up; p50/p95/p99 over
at least ``--messages`` parses) and then all at once in batches (messages per
second, the median of three timed runs). Writes ``speed.json`` and ``speed.md`` into ``--out``.

Both libraries' modules are compiled to bytecode before the workers start (as
installing a wheel does), so neither compiles Python source inside its timed
import and load.

Timings on shared 2-core machines vary from run to run: compare the two
systems within one run, not figures from different runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    DEFAULT_OUT,
    SHARED_DATA,
    environment,
    markdown_table,
    peak_rss_mb,
    percentile,
    publish,
)

WARM_UP = 50
BATCH_SIZE = 512
#: The batched parse is timed this many times and the median reported (one run on these shared
#: machines varies by 10-20 %).
BATCH_REPEATS = 3


def _measure(parse_one, parse_many, texts: list[str], messages: int) -> dict[str, Any]:
    for text in texts[:WARM_UP]:
        parse_one(text)
    latencies = []
    count = 0
    while count < messages:
        for text in texts:
            started = time.perf_counter()
            parse_one(text)
            latencies.append((time.perf_counter() - started) * 1000)
            count += 1
            if count >= messages:
                break
    batch_texts = texts * max(1, -(-5000 // len(texts)))  # at least 5,000 messages
    rates = []
    for _ in range(BATCH_REPEATS):
        started = time.perf_counter()
        parse_many(batch_texts)
        rates.append(len(batch_texts) / (time.perf_counter() - started))
    return {
        "single_messages": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": sum(latencies) / len(latencies),
        "batch_messages": len(batch_texts),
        "batch_messages_per_second": percentile(rates, 50),
        "batch_messages_per_second_runs": rates,
    }


def worker_intently(model: str, texts_file: str, messages: int) -> dict[str, Any]:
    started = time.perf_counter()
    import intently

    imported = time.perf_counter()
    interpreter = intently.load_model(model)
    load_seconds = time.perf_counter() - imported
    import_seconds = imported - started
    texts = json.loads(Path(texts_file).read_text())
    result = _measure(interpreter.parse, lambda many: interpreter.parse_batch(many, batch_size=BATCH_SIZE), texts, messages)
    return {"import_seconds": import_seconds, "load_seconds": load_seconds, **result, "peak_rss_mb": peak_rss_mb()}


def worker_baseline(model: str, texts_file: str, messages: int) -> dict[str, Any]:
    started = time.perf_counter()
    import joblib  # the baseline is scikit-learn's own way: a pickle (benchmark-only)
    import sklearn.pipeline  # noqa: F401  (imported by the unpickling anyway; timed as an import)

    imported = time.perf_counter()
    pipeline = joblib.load(model)
    load_seconds = time.perf_counter() - imported
    import_seconds = imported - started
    texts = json.loads(Path(texts_file).read_text())

    def parse_many(many: list[str]) -> None:
        for start in range(0, len(many), BATCH_SIZE):
            pipeline.predict_proba(many[start : start + BATCH_SIZE])

    result = _measure(lambda text: pipeline.predict_proba([text]), parse_many, texts, messages)
    return {"import_seconds": import_seconds, "load_seconds": load_seconds, **result, "peak_rss_mb": peak_rss_mb()}


WORKERS = {"intently": worker_intently, "baseline": worker_baseline}


def compile_bytecode() -> None:
    """Compile intently's modules to bytecode first, as installing a wheel does.

    scikit-learn's bytecode was written when it was installed; intently's, in
    an editable install under ``PYTHONDONTWRITEBYTECODE``, never is, and every
    worker would compile its modules again inside the timed import and load.
    """
    import compileall

    import intently
    import intently.plugins

    for package in (intently, intently.plugins):
        compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)


def run_worker(kind: str, model: Path, texts_file: Path, messages: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", kind, str(model), str(texts_file), str(messages)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{kind} worker failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def train_baseline(train_file: Path, target: Path) -> float:
    import joblib

    import intently
    from baselines import TfidfLogisticRegression, mostly_chinese

    data = intently.load_data(train_file)
    examples = [m for m in data.training_examples if m.intent]
    texts = [m.text for m in examples]
    started = time.perf_counter()
    model = TfidfLogisticRegression(chinese=mostly_chinese(texts)).fit(texts, [m.intent for m in examples])
    seconds = time.perf_counter() - started
    joblib.dump(model.model, target)
    return seconds


def to_markdown(data: dict[str, Any]) -> str:
    """The table of a result file's ``systems`` (older files have no import time: "–")."""
    header = ["system", "p50 ms", "p95 ms", "p99 ms", "batch msg/s", "import s", "load s", "archive MB", "peak RSS MB",
              "train s"]
    rows = []
    for name, row in data["systems"].items():
        rows.append([
            name,
            f"{row['p50_ms']:.3f}",
            f"{row['p95_ms']:.3f}",
            f"{row['p99_ms']:.3f}",
            f"{row['batch_messages_per_second']:,.0f}",
            "–" if row.get("import_seconds") is None else f"{row['import_seconds']:.3f}",
            f"{row['load_seconds']:.3f}",
            f"{row['archive_mb']:.2f}",
            f"{row['peak_rss_mb']:.0f}",
            "–" if row.get("train_seconds") is None else f"{row['train_seconds']:.1f}",
        ])
    table = markdown_table(header, rows)
    load = data.get("load_average")
    if load:
        cpus = (data.get("environment") or {}).get("cpus", "?")
        table += (f"\n\nLoad average (1, 5, 15 min) on {cpus} CPUs: "
                  f"{', '.join(f'{v:.2f}' for v in load['before'])} before, "
                  f"{', '.join(f'{v:.2f}' for v in load['after'])} after.")
    return table


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, model, texts_file, messages = sys.argv[2:6]
        print(json.dumps(WORKERS[kind](model, texts_file, int(messages))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an intently archive (default: train one with --config on --train)")
    parser.add_argument("--config", default=None, help="config to train when no --model is given (default pipeline)")
    parser.add_argument("--train", type=Path, default=SHARED_DATA / "snips" / "train.yml", help="training data (default: snips/train.yml)")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "snips" / "test.yml", help="texts to parse (default: snips/test.yml)")
    parser.add_argument("--messages", type=int, default=2000, help="single-message parses to time (default: %(default)s, at least 1000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    parser.add_argument("--stem", default="speed", help="output file names without suffix (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.messages < 1000:
        parser.error("--messages must be at least 1000")

    import intently

    texts = [m.text for m in intently.load_data(args.data).training_examples]
    if not texts:
        parser.error(f"no examples in {args.data}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="intently-speed-") as tmp:
        tmp_path = Path(tmp)
        texts_file = tmp_path / "texts.json"
        texts_file.write_text(json.dumps(texts))
        model = args.model
        train_seconds = None
        if model is None:
            started = time.perf_counter()
            model = intently.train(args.config, args.train, tmp_path, fixed_model_name="speed")
            train_seconds = time.perf_counter() - started
        compile_bytecode()
        baseline_model = tmp_path / "baseline.joblib"
        baseline_train_seconds = train_baseline(args.train, baseline_model)
        rows = {
            "intently": {
                **run_worker("intently", model, texts_file, args.messages),
                "archive_mb": os.path.getsize(model) / 1e6,
                "train_seconds": train_seconds,
            },
            "baseline": {
                **run_worker("baseline", baseline_model, texts_file, args.messages),
                "archive_mb": os.path.getsize(baseline_model) / 1e6,
                "train_seconds": baseline_train_seconds,
            },
        }
    names = {"intently": f"intently ({'default pipeline' if args.model is None and args.config is None else Path(args.model or args.config).name})",
             "baseline": "TF-IDF + LogReg (sklearn, joblib)"}
    data = {
        "environment": environment(),
        "train_file": str(args.train),
        "data_file": str(args.data),
        "texts": len(texts),
        "model": str(args.model) if args.model else "trained by the benchmark",
        "systems": {names[k]: v for k, v in rows.items()},
        # The machine's 1, 5 and 15-minute load averages before and after the measurements.
        "load_average": {"before": list(load_before), "after": list(os.getloadavg())},
    }
    publish(args.out, args.stem, data, to_markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
