"""A/B of the default pipeline's parse with and without sequence features nobody reads (issue 24).

    python benchmarks/unread_features_ab.py                   # snips/train.yml, snips/test.yml

Trains the default pipeline (training cache off), saves and loads it, then
times single-message parses of the test texts in alternating rounds: A as
loaded (its CountVectorsFeaturizers skip the per-token matrix that no
component reads), B with the skip turned off (what every parse did before).
Both arms run in one process on one model, so load and machine noise fall on
both alike; the parse results are checked to be identical. Writes
``unread_features_ab.json`` and ``.md`` (``--stem``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_OUT, SHARED_DATA, environment, markdown_table, percentile, publish  # noqa: E402

os.environ.setdefault("INTENTLY_MAX_CACHE_SIZE", "0")

import intently  # noqa: E402
from intently.plugins.featurizers.count_vectors import CountVectorsFeaturizer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=SHARED_DATA / "snips/train.yml")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "snips/test.yml")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per arm, alternated (default 6)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stem", default="unread_features_ab")
    args = parser.parse_args(argv)
    texts = [m.text for m in intently.load_data(args.data).training_examples]
    trained = intently.Trainer(None).train(intently.load_data(args.train))
    with tempfile.TemporaryDirectory() as folder:
        interpreter = intently.Interpreter.load(trained.persist(folder, fixed_model_name="model"))
    featurizers = [c for c in interpreter.components if isinstance(c, CountVectorsFeaturizer)]
    assert featurizers and all(f.skip_sequence for f in featurizers), "the default pipeline should skip"

    def arm(skip: bool) -> tuple[list[float], list[dict]]:
        for featurizer in featurizers:
            featurizer.skip_sequence = skip
        latencies, results = [], []
        for text in texts:
            started = time.perf_counter()
            results.append(interpreter.parse(text))
            latencies.append((time.perf_counter() - started) * 1000)
        return latencies, results

    arm(True), arm(False)  # warm-up
    times: dict[bool, list[float]] = {True: [], False: []}
    rounds: dict[bool, list[float]] = {True: [], False: []}
    outputs: dict[bool, list[dict]] = {}
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for skip in (True, False):
            latencies, outputs[skip] = arm(skip)
            times[skip] += latencies
            rounds[skip].append(statistics.median(latencies))
    load_after = os.getloadavg()[0]
    identical = json.dumps(outputs[True], sort_keys=True) == json.dumps(outputs[False], sort_keys=True)
    rows = [{"arm": name, "p50_ms": percentile(times[skip], 50), "p95_ms": percentile(times[skip], 95),
             "round_p50s_ms": rounds[skip], "parses": len(times[skip])}
            for name, skip in (("sequence features skipped (now)", True), ("sequence features built (before)", False))]
    data = {"environment": environment(), "identical": identical, "load": [load_before, load_after],
            "rounds": args.rounds, "texts": len(texts), "data": f"{args.data.parent.name}/{args.data.name}",
            "train": f"{args.train.parent.name}/{args.train.name}", "rows": rows}
    publish(args.out, args.stem, data, to_markdown(data))
    return 0 if identical else 1


def to_markdown(data: dict) -> str:
    """The A/B table and how it was measured."""
    table = markdown_table(["arm", "p50 ms", "p95 ms", "per-round p50 ms", "parses"],
                           [[r["arm"], f"{r['p50_ms']:.3f}", f"{r['p95_ms']:.3f}",
                             ", ".join(f"{v:.3f}" for v in r["round_p50s_ms"]), str(r["parses"])] for r in data["rows"]])
    before, after = data["load"]
    return (f"{table}\n\nIdentical parse results: {data['identical']}. Load average {before:.1f} before, "
            f"{after:.1f} after (`os.getloadavg`); {data['rounds']} alternating rounds over the {data['texts']} "
            f"texts of {data['data']}; the default pipeline trained on {data['train']}.")


if __name__ == "__main__":
    sys.exit(main())
