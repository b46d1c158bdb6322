"""Training time of a config beside the TF-IDF + logistic-regression reference, BLAS threads alike.

    python benchmarks/train_time.py                              # every shared data set, default pipeline
    python benchmarks/train_time.py --dataset snips-100 banking77 --blas-threads 1
    python benchmarks/train_time.py --config default benchmarks/configs/default-lbfgs.yml --rounds 2

``accuracy.py`` times both systems as a user gets them: intently's
logistic regression runs BLAS on one thread during its fits, scikit-learn's
reference on as many as BLAS starts, which on a busy machine makes the
reference slower. This script limits BLAS to ``--blas-threads`` threads for
both (threadpoolctl), so the ratio compares the work each does. Only
training is timed (no test file is read); scikit-learn is imported before
the clocks start. With several ``--config`` (``default``: the default
pipeline) and ``--rounds N``, each data set's systems are trained one after
the other, N rounds in turn, so a change in the machine's load touches every
system alike; the table shows each system's median seconds. The training
cache is off. Writes ``train_time.json`` and ``train_time.md``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import TfidfLogisticRegression, mostly_chinese  # noqa: E402
from common import DEFAULT_OUT, add_data_arguments, chosen_datasets, environment, markdown_table, publish  # noqa: E402

import intently  # noqa: E402

REFERENCE = "TF-IDF + LogReg (reference)"


def time_dataset(train_path: Path, configs: list[str], rounds: int) -> dict[str, Any]:
    """Median training seconds (wall clock and this process's CPU) of each config and of the reference.

    The systems train one after the other, ``rounds`` times in turn. CPU seconds count only this
    process's work, so on a shared machine they move less with the other processes' load than the
    wall clock does (with BLAS on one thread both systems run on one core).
    """
    data = intently.load_data(train_path)
    examples = [m for m in data.training_examples if m.intent]
    texts = [m.text for m in examples]
    wall: dict[str, list[float]] = {name: [] for name in [*configs, REFERENCE]}
    cpu: dict[str, list[float]] = {name: [] for name in [*configs, REFERENCE]}
    for _ in range(rounds):
        for name in [*configs, REFERENCE]:
            started, started_cpu = time.perf_counter(), time.process_time()
            if name == REFERENCE:
                TfidfLogisticRegression(chinese=mostly_chinese(texts)).fit(texts, [m.intent for m in examples])
            else:
                intently.Trainer(None if name == "default" else name).train(data, use_cache=False)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    reference, reference_cpu = statistics.median(wall[REFERENCE]), statistics.median(cpu[REFERENCE])
    systems = {name: {"seconds": statistics.median(wall[name]), "rounds": wall[name],
                      "ratio": statistics.median(wall[name]) / reference,
                      "cpu_seconds": statistics.median(cpu[name]), "cpu_rounds": cpu[name],
                      "cpu_ratio": statistics.median(cpu[name]) / reference_cpu}
               for name in configs}
    return {"examples": len(data.training_examples), "reference_seconds": reference,
            "reference_rounds": wall[REFERENCE], "reference_cpu_seconds": reference_cpu,
            "reference_cpu_rounds": cpu[REFERENCE], "systems": systems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser)
    parser.add_argument("--config", nargs="+", default=["default"],
                        help="configs to time ('default': the default pipeline; the default)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds; the median is shown (default 1)")
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
    load_before = os.getloadavg()
    with threadpool_limits(limits=args.blas_threads, user_api="blas"):
        for name, (train_path, _) in chosen_datasets(parser, args).items():
            results[name] = time_dataset(train_path, args.config, args.rounds)
            logging.info("%s: %s", name, results[name])
    data = {"environment": environment(), "blas_threads": args.blas_threads, "configs": args.config,
            "rounds": args.rounds, "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "results": results}
    publish(args.out, args.name, data, to_markdown(data))
    return 0


def to_markdown(data: dict[str, Any]) -> str:
    """The table of a ``train_time.json`` (also the single-config files written before ``--rounds``)."""
    results = {name: _systems(figures, data.get("config")) for name, figures in data["results"].items()}
    labels = list(next(iter(results.values()))) if results else []
    with_cpu = all("reference_cpu_seconds" in figures for figures in data["results"].values())
    header = ["data (train examples)"] + [f"intently ({label}) s" for label in labels] + [f"{REFERENCE} s"]
    header += [f"{label} / reference" for label in labels]
    if with_cpu:
        header += [f"{label} / reference, CPU s" for label in labels]
    rows = []
    for name, systems in results.items():
        figures = data["results"][name]
        row = [f"{name} ({figures['examples']})"] + [f"{systems[label]['seconds']:.1f}" for label in labels]
        row += [f"{figures['reference_seconds']:.1f}"] + [f"{systems[label]['ratio']:.2f}" for label in labels]
        if with_cpu:
            row += [f"{systems[label]['cpu_ratio']:.2f}" for label in labels]
        rows.append(row)
    rounds = data.get("rounds", 1)
    note = f"BLAS threads: {data['blas_threads']} for both."
    if rounds > 1:
        note += f" {rounds} rounds, each system in turn; the median of each."
    if "load_average_before" in data:
        loads = [", ".join(f"{value:.1f}" for value in data[key]) for key in ("load_average_before", "load_average_after")]
        note += f" Load average before: {loads[0]}; after: {loads[1]}."
    if with_cpu:
        note += (" Seconds are wall clock; the CPU ratios compare this process's CPU seconds, which the"
                 " machine's other load moves less.")
    return markdown_table(header, rows) + f"\n\n{note}"


def _systems(figures: dict[str, Any], config: str | None) -> dict[str, dict[str, float]]:
    """``{label: {seconds, ratio, ...}}`` of one data set; a file of one config (before ``--rounds``) has one."""
    if "systems" not in figures:
        return {config or "default pipeline": {"seconds": figures["intently_seconds"], "ratio": figures["ratio"]}}
    return {("default pipeline" if name == "default" else Path(name).name): values
            for name, values in figures["systems"].items()}


if __name__ == "__main__":
    sys.exit(main())
