"""Using intently from Python: train, save, load and parse.

Run from the repository root:

    python examples/programmatic.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import intently

PROJECT = Path(__file__).resolve().parent / "assistant"


def train_and_save(output: Path) -> Path:
    """The two-call API: train from files into an archive, then load it."""
    return intently.train(PROJECT / "config.yml", PROJECT / "data", output, fixed_model_name="assistant")


def train_in_memory() -> intently.Interpreter:
    """The Trainer API: build training data in code and keep the model in memory."""
    data = intently.load_data(PROJECT / "data")
    trainer = intently.Trainer(
        {
            "language": "en",
            "pipeline": [
                {"name": "WhitespaceTokenizer"},
                {"name": "CountVectorsFeaturizer"},
                {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
                {"name": "LogisticRegressionClassifier", "max_iter": 200},
            ],
        }
    )
    return trainer.train(data)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = train_and_save(Path(tmp))
        print(f"model written to {archive.name}")
        interpreter = intently.load_model(archive)
        print(json.dumps(interpreter.parse("book a table for two tonight"), indent=2))

    interpreter = train_in_memory()
    for result in interpreter.parse_batch(["hello there", "where is my order A12345?"]):
        print(f"{result['text']!r:35} -> {result['intent']['name']} ({result['intent']['confidence']:.2f})")


if __name__ == "__main__":
    main()
