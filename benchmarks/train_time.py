"""Training time of a config beside the TF-IDF + logistic-regression reference, BLAS threads alike.

    python benchmarks/train_time.py                              # every shared data set, default pipeline
    python benchmarks/train_time.py --dataset snips-100 banking77 --blas-threads 1

``accuracy.py`` times both systems as a user gets them: intently's
logistic regression runs BLAS on one thread during its fits, scikit-learn's
reference on as many as BLAS starts, which on a busy machine makes the
reference slower. This script limits BLAS to ``--blas-threads`` threads for
both (threadpoolctl), so the ratio compares the work each does. Only
training is timed (no test file is read); scikit-learn is imported before
the clocks start. Writes ``train_time.json`` and ``train_time.md``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import TfidfLogisticRegression, mostly_chinese  # noqa: E402
from common import DEFAULT_OUT, add_data_arguments, chosen_datasets, environment, markdown_table, publish  # noqa: E402

import intently  # noqa: E402


def time_dataset(train_path: Path, config: Any) -> dict[str, Any]:
    data = intently.load_data(train_path)
    started = time.perf_counter()
    intently.Trainer(config).train(data)
    ours = time.perf_counter() - started
    examples = [m for m in data.training_examples if m.intent]
    texts = [m.text for m in examples]
    started = time.perf_counter()
    TfidfLogisticRegression(chinese=mostly_chinese(texts)).fit(texts, [m.intent for m in examples])
    reference = time.perf_counter() - started
    return {"examples": len(data.training_examples), "intently_seconds": ours, "reference_seconds": reference,
            "ratio": ours / reference}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    parser.add_argument("--config", default=None, help="config to time (default: the default pipeline)")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads for both systems (default 1)")
    parser.add_argument("--name", default="train_time", help="output file stem (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.test is None and args.train is not None:
        args.test = args.train  # only the training file is read
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("intently").setLevel(logging.WARNING)
    import sklearn.feature_extraction.text  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    from threadpoolctl import threadpool_limits

    results = {}
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        for name, (train_path, _) in chosen_datasets(parser, args).items():
            results[name] = time_dataset(train_path, args.config)
            logging.info("%s: %s", name, results[name])
    data = {"environment": environment(), "blas_threads": args.blas_threads, "config": args.config,
            "results": results}
    publish(args.out, args.name, data, to_markdown(data))
    return 0


def to_markdown(data: dict[str, Any]) -> str:
    """The table of a ``train_time.json``."""
    rows = [[f"{name} ({r['examples']})", f"{r['intently_seconds']:.1f}", f"{r['reference_seconds']:.1f}",
             f"{r['ratio']:.2f}"] for name, r in data["results"].items()]
    system = data.get("config") or "default pipeline"
    return markdown_table(["data (train examples)", f"intently ({system}) s", "TF-IDF + LogReg (reference) s",
                           "intently / reference"], rows) + f"\n\nBLAS threads: {data['blas_threads']} for both."


if __name__ == "__main__":
    sys.exit(main())
