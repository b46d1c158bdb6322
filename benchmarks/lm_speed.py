"""Speed of LanguageModelFeaturizer alone, per runtime (numpy, onnxruntime), side by side in one run.

    python benchmarks/get_language_model.py        # once: MiniLM-L6 into the local Hugging Face cache
    python benchmarks/lm_speed.py [--model-weights sentence-transformers/all-MiniLM-L6-v2]

Each runtime is measured in a fresh Python process: load (reading the
checkpoint and building the runtime), one message at a time (WhitespaceTokenizer
then the featurizer; p50/p95 after a warm-up) and all messages at once
(messages per second, the median of three runs), peak RSS, and which of
TensorFlow / PyTorch got imported (none should). The texts are SNIPS's test
set. The encoder is most of a ``diet-minilm.yml`` parse; the whole pipeline's
numbers come from ``benchmarks/speed.py --config benchmarks/configs/diet-minilm.yml``.
Writes ``lm_speed.json`` and ``.md``; compare rows within one run only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_OUT, SHARED_DATA, environment, markdown_table, peak_rss_mb, percentile, publish  # noqa: E402

RUNTIMES = ("numpy", "onnxruntime")
SINGLE = 400
WARM_UP = 30


def worker(model_weights: str, runtime: str, data: Path) -> dict[str, Any]:
    from intently.message import Message
    from intently.plugins.featurizers.language_model.featurizer import LanguageModelFeaturizer
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
    from intently.training_data.loading import load_data

    texts = [example.text for example in load_data([str(data)]).training_examples]
    tokenizer = WhitespaceTokenizer()
    started = time.perf_counter()
    featurizer = LanguageModelFeaturizer({"model_weights": model_weights, "runtime": runtime}, unique_name="lm")
    featurizer._ensure_model()
    load = time.perf_counter() - started

    def run(batch: list[str]) -> None:
        messages = [Message(text=text) for text in batch]
        tokenizer.process(messages)
        featurizer.process(messages)

    for text in texts[:WARM_UP]:
        run([text])
    latencies = []
    for text in texts[:SINGLE]:
        began = time.perf_counter()
        run([text])
        latencies.append(1000 * (time.perf_counter() - began))
    rates = []
    for _ in range(3):
        began = time.perf_counter()
        run(texts)
        rates.append(len(texts) / (time.perf_counter() - began))
    return {
        "runtime": featurizer.runtime, "load_s": load, "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95), "batch_msg_s": sorted(rates)[1], "batch_messages": len(texts),
        "peak_rss_mb": peak_rss_mb(),
        "heavy_imports": [name for name in ("tensorflow", "torch") if name in sys.modules],
    }


def to_markdown(data: dict[str, Any]) -> str:
    """The runtimes table of one run, with the checkpoint, the data and the machine's load."""
    rows = data["results"]
    table = markdown_table(
        ["runtime", "p50 ms", "p95 ms", "batch msg/s", "load s", "peak RSS MB", "TF/PyTorch imported"],
        [[row["runtime"], f"{row['p50_ms']:.3f}", f"{row['p95_ms']:.3f}", f"{row['batch_msg_s']:,.0f}",
          f"{row['load_s']:.3f}", f"{row['peak_rss_mb']:.0f}", ", ".join(row["heavy_imports"]) or "no"]
         for row in rows],
    )
    loads = ", ".join(f"{value:.2f}" for value in data["load_average_before"])
    return (f"{table}\n\nLanguageModelFeaturizer alone ({data['model_weights']}, {Path(data['data']).name}, "
            f"{rows[0]['batch_messages']} messages); load average before: {loads} "
            f"on {data['environment']['cpus']} CPUs.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-weights", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "snips" / "test.yml")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stem", default="lm_speed")
    parser.add_argument("--worker", choices=RUNTIMES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.model_weights, args.worker, args.data)))
        return 0
    rows = []
    load_average = os.getloadavg()
    for runtime in RUNTIMES:
        done = subprocess.run(
            [sys.executable, __file__, "--worker", runtime, "--model-weights", args.model_weights,
             "--data", str(args.data)],
            check=True, capture_output=True, text=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    data = {"environment": environment(), "load_average_before": load_average,
            "load_average_after": os.getloadavg(), "model_weights": args.model_weights,
            "data": str(args.data), "results": rows}
    publish(args.out, args.stem, data, to_markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
