"""CRFEntityExtractor's numpy decoding beside crfsuite's own tagger, on every test message.

    python benchmarks/crf_parity.py                        # snips, cais (Chinese), banking77
    python benchmarks/crf_parity.py --dataset snips
    python benchmarks/crf_parity.py --train my/train.yml --test my/test.yml --config my_config.yml

Trains the CRF entity pipeline (``configs/crf_entities.yml``; for CAIS
``configs/crf_entities_zh.yml``, jieba words) on the training file, keeps the
crfsuite model files that training wrote, and for every message of the test
file compares the extractor's numpy decoding with python-crfsuite's Tagger on
the same features, for each CRF (entity, and role/group when trained): tags
(must be identical) and confidences (largest absolute and relative
difference). Times both decoders per message (features given; p50 over the
test file) and the extractor's whole per-message ``extract`` (features and
decoding). Writes ``crf_parity.json`` and ``crf_parity.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    BENCHMARKS,
    DATASETS,
    DEFAULT_OUT,
    SHARED_DATA,
    add_data_arguments,
    chosen_datasets,
    environment,
    markdown_table,
    percentile,
    publish,
)

import intently  # noqa: E402
from intently.message import Message  # noqa: E402
from intently.plugins.extractors.crf_entity_extractor import CRFEntityExtractor  # noqa: E402
from intently.plugins.extractors.crfsuite_reference import CrfsuiteTagger, recording_crfsuite_models  # noqa: E402
from intently.training_data import load_data  # noqa: E402

CONFIGS = {"cais": BENCHMARKS / "configs" / "crf_entities_zh.yml"}
DEFAULT_CONFIG = BENCHMARKS / "configs" / "crf_entities.yml"
EXTRA_DATASETS = {"cais": ("cais/train.yml", "cais/test.yml")}


def compare(name: str, train_path: Path, test_path: Path, config: Path) -> dict[str, Any]:
    train, test = load_data(train_path), load_data(test_path)
    started = time.perf_counter()
    with recording_crfsuite_models() as recorded:
        interpreter = intently.Trainer(str(config)).train(train)
    train_seconds = time.perf_counter() - started
    extractor = next(c for c in interpreter.pipeline if isinstance(c, CRFEntityExtractor))
    row: dict[str, Any] = {"dataset": name, "messages": len(test.training_examples), "train_seconds": train_seconds,
                           "crfs": list(extractor.taggers)}
    if not extractor.taggers:
        row["note"] = "no entities in the training data: no CRF trained, nothing to compare"
        return row
    models = [model for owner, model in recorded if owner is extractor]
    references = {crf_name: CrfsuiteTagger(model) for crf_name, model in zip(extractor.taggers, models)}
    messages = [Message(text=m.text) for m in test.training_examples]
    interpreter.process(messages)
    dense = extractor._dense_rows(messages)
    mismatched_messages = tag_mismatches = tokens = 0
    max_abs = max_rel = 0.0
    numpy_ms, crfsuite_ms, extract_ms = [], [], []
    for message, rows in zip(messages, dense):
        if not message.tokens:
            continue
        sequence = extractor.sequence_features(message.tokens, rows)
        tokens += len(sequence)
        ours_time = theirs_time = 0.0
        entity_tags: list[str] = []
        mismatched = False
        for crf_name, crf in extractor.taggers.items():
            inputs = [sequence if crf_name == "entity" else extractor._with_entity_tags(sequence, entity_tags)]
            t0 = time.perf_counter()
            ((tags, confidences),) = crf.tag(inputs, bilou_flag=extractor.bilou_flag)
            t1 = time.perf_counter()
            ((expected, expected_confidences),) = references[crf_name].tag(inputs, bilou_flag=extractor.bilou_flag)
            t2 = time.perf_counter()
            ours_time, theirs_time = ours_time + t1 - t0, theirs_time + t2 - t1
            differing = sum(a != b for a, b in zip(tags, expected))
            tag_mismatches += differing
            mismatched |= differing > 0
            for ours, theirs in zip(confidences, expected_confidences):
                max_abs = max(max_abs, abs(ours - theirs))
                if theirs > 0:
                    max_rel = max(max_rel, abs(ours - theirs) / theirs)
            if crf_name == "entity":
                entity_tags = expected
        mismatched_messages += mismatched
        numpy_ms.append(1000 * ours_time)
        crfsuite_ms.append(1000 * theirs_time)
        t0 = time.perf_counter()
        extractor.extract(message, rows)
        extract_ms.append(1000 * (time.perf_counter() - t0))
    t0 = time.perf_counter()
    extractor._extract_all([m for m in messages if m.tokens], [r for m, r in zip(messages, dense) if m.tokens])
    batch_seconds = time.perf_counter() - t0
    row.update({
        "tokens": tokens,
        "labels": {crf_name: len(crf.labels) for crf_name, crf in extractor.taggers.items()},
        "attributes": {crf_name: len(crf.attributes) for crf_name, crf in extractor.taggers.items()},
        "messages_with_tag_mismatch": mismatched_messages,
        "tag_mismatches": tag_mismatches,
        "max_confidence_abs_diff": max_abs,
        "max_confidence_rel_diff": max_rel,
        "decode_p50_ms_numpy": percentile(numpy_ms, 50),
        "decode_p50_ms_crfsuite": percentile(crfsuite_ms, 50),
        "decode_p99_ms_numpy": percentile(numpy_ms, 99),
        "decode_p99_ms_crfsuite": percentile(crfsuite_ms, 99),
        "extract_p50_ms_numpy": percentile(extract_ms, 50),
        "batch_messages_per_second_numpy": len(numpy_ms) / batch_seconds,
    })
    return row


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The page of ``crf_parity.md``, from the result rows."""
    header = ["data set", "test messages", "CRFs", "messages with a tag mismatch", "max confidence diff (abs / rel)",
              "decode p50 ms numpy / crfsuite", "extract p50 ms", "batch msg/s"]
    table = []
    for row in rows:
        if "note" in row:
            table.append([row["dataset"], str(row["messages"]), "–", "–", "–", "–", "–", row["note"]])
            continue
        table.append([
            row["dataset"],
            str(row["messages"]),
            ", ".join(f"{k} ({row['labels'][k]} labels)" for k in row["crfs"]),
            f"{row['messages_with_tag_mismatch']} ({row['tag_mismatches']} tags)",
            f"{row['max_confidence_abs_diff']:.1e} / {row['max_confidence_rel_diff']:.1e}",
            f"{row['decode_p50_ms_numpy']:.3f} / {row['decode_p50_ms_crfsuite']:.3f}",
            f"{row['extract_p50_ms_numpy']:.3f}",
            f"{row['batch_messages_per_second_numpy']:,.0f}",
        ])
    return "\n".join([
        "# CRFEntityExtractor: numpy decoding against crfsuite's tagger",
        "",
        "Every test message; tags compared token by token for every CRF, confidences as",
        "CRFEntityExtractor computes them (Rasa's rule). Decode: features given, all CRFs",
        "of a message, one message at a time; extract: features and decoding.",
        "Generated by `python benchmarks/crf_parity.py`.",
        "",
        markdown_table(header, table),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_arguments(parser, default=["snips", "cais", "banking77"])
    parser.add_argument("--config", type=Path, help=f"pipeline config (default: {DEFAULT_CONFIG.name})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name, (train, test) in EXTRA_DATASETS.items():
        if name not in DATASETS and (SHARED_DATA / train).is_file():
            DATASETS[name] = (train, test)
    rows = []
    for name, (train, test) in chosen_datasets(parser, args).items():
        config = args.config or CONFIGS.get(name, DEFAULT_CONFIG)
        print(f"{name}: training {config.name} on {train} ...", flush=True)
        rows.append(compare(name, train, test, config))
        print(rows[-1], flush=True)
    markdown = to_markdown(rows)
    publish(args.out, "crf_parity", {"environment": environment(), "results": rows}, markdown)


if __name__ == "__main__":
    main()
