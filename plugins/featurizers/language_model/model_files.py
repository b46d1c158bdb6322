"""Finding and reading a pre-trained checkpoint's files, without the network and without pickle.

``model_weights`` names either a local directory or a Hugging Face model id
(``sentence-transformers/all-MiniLM-L6-v2``) already in the local Hugging Face
cache (``cache_dir``, else ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
``~/.cache/huggingface/hub``). Nothing is downloaded: a checkpoint that is not
on disk is an error that says how to get it.

The directory must hold ``config.json``, ``vocab.txt`` and
``model.safetensors``. PyTorch's ``pytorch_model.bin`` is a pickle, which can
run code when read, and is refused. The tokenizer's settings
(``do_lower_case``, ``strip_accents``, ``tokenize_chinese_chars``) come from
``tokenizer_config.json``, else from the ``BertNormalizer`` of
``tokenizer.json`` (fast-tokenizer-only checkpoints), else from
``config.json``, else ``BertTokenizer``'s defaults (True, None, True). A
sentence-transformers layout (``1_Pooling/config.json``, a ``Normalize``
module in ``modules.json``) are read when present.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import attrs
from intently.errors import ComponentError
from intently.limits import loads_json

CONFIG_FILE = "config.json"
VOCABULARY_FILE = "vocab.txt"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
FAST_TOKENIZER_FILE = "tokenizer.json"
#: ``BertTokenizer``'s settings this implementation honours, with their defaults.
TOKENIZER_DEFAULTS: dict[str, bool | None] = {
    "do_lower_case": True,
    "strip_accents": None,
    "tokenize_chinese_chars": True,
}
#: The same settings in a fast tokenizer's ``BertNormalizer`` (``tokenizer.json``).
NORMALIZER_KEYS = {"do_lower_case": "lowercase", "strip_accents": "strip_accents",
                   "tokenize_chinese_chars": "handle_chinese_chars"}
POOLING_CONFIG_FILE = Path("1_Pooling") / "config.json"
MODULES_FILE = "modules.json"
#: Weight files of other formats, named in the error when no safetensors file is there.
PICKLED_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")


@attrs.frozen
class ModelFiles:
    """A checkpoint directory and what its small files say.

    Attributes:
        directory: the resolved directory.
        config: ``config.json`` as read.
        lowercase: whether the tokenizer lower-cases (``do_lower_case``, default True).
        strip_accents: whether it strips accents (``strip_accents``; None: when it lower-cases).
        chinese_chars: whether CJK ideographs are split one per piece (``tokenize_chinese_chars``).
        pooling: the sentence pooling the checkpoint was trained with (``"mean"`` or
            ``"cls"``, from ``1_Pooling/config.json``), or None when it does not say.
        normalize: whether its sentence embeddings are L2-normalised (a ``Normalize`` module).
    """

    directory: Path
    config: dict[str, Any]
    lowercase: bool
    pooling: str | None
    normalize: bool
    strip_accents: bool | None = None
    chinese_chars: bool = True

    @property
    def tokenizer_settings(self) -> dict[str, bool | None]:
        """The settings under ``BertTokenizer``'s names (what ``tokenizer_config.json`` holds)."""
        return {"do_lower_case": self.lowercase, "strip_accents": self.strip_accents,
                "tokenize_chinese_chars": self.chinese_chars}

    @property
    def weights(self) -> Path:
        return self.directory / WEIGHTS_FILE

    @property
    def vocabulary(self) -> Path:
        return self.directory / VOCABULARY_FILE


def hub_cache_directory(cache_dir: str | None) -> Path:
    """Where Hugging Face keeps downloaded models on this machine."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = Path(os.environ.get("HF_HOME", "~/.cache/huggingface")).expanduser()
    return home / "hub"


def resolve_model_directory(model_weights: str, cache_dir: str | None, *, component: str) -> Path:
    """The directory ``model_weights`` names: a local path, or a model id in the Hugging Face cache.

    Raises:
        ComponentError: neither exists; the hint says how to get the files.
    """
    local = Path(model_weights).expanduser()
    if local.is_dir():
        return local.resolve()
    cache = hub_cache_directory(cache_dir)
    if "/" in model_weights and not local.is_absolute():
        repository = cache / ("models--" + model_weights.replace("/", "--"))
        snapshot = _cached_snapshot(repository)
        if snapshot is not None:
            return snapshot.resolve()
    raise ComponentError(
        f"{component}: model_weights {model_weights!r} is neither a directory nor a model in the "
        f"Hugging Face cache ({cache})",
        hint=(
            "set model_weights to a directory holding config.json, vocab.txt and model.safetensors, "
            f"or download the model first (e.g. `huggingface-cli download {model_weights}`); "
            "intently never downloads models itself"
        ),
    )


def _cached_snapshot(repository: Path) -> Path | None:
    snapshots = repository / "snapshots"
    reference = repository / "refs" / "main"
    if reference.is_file():
        candidate = snapshots / reference.read_text(encoding="utf-8").strip()
        if candidate.is_dir():
            return candidate
    if snapshots.is_dir():
        found = sorted(path for path in snapshots.iterdir() if path.is_dir())
        if len(found) == 1:
            return found[0]
    return None


def read_model_files(directory: Path, *, component: str) -> ModelFiles:
    """Check that ``directory`` holds a usable checkpoint and read its small files.

    Raises:
        ComponentError: a file is missing or unreadable; names the file and what to do.
    """
    for name in (CONFIG_FILE, VOCABULARY_FILE):
        if not (directory / name).is_file():
            raise ComponentError(
                f"{component}: {directory} has no {name}",
                hint="model_weights must name a Hugging Face BERT checkpoint directory "
                "(config.json, vocab.txt, model.safetensors)",
            )
    if not (directory / WEIGHTS_FILE).is_file():
        others = [name for name in PICKLED_WEIGHTS if (directory / name).is_file()]
        found = f" (it has {', '.join(others)})" if others else ""
        raise ComponentError(
            f"{component}: {directory} has no {WEIGHTS_FILE}{found}",
            hint="intently reads weights only from safetensors files, which cannot run code when read; "
            "convert a PyTorch checkpoint once with transformers: "
            "`AutoModel.from_pretrained(path).save_pretrained(path, safe_serialization=True)`",
        )
    config = _read_json(directory / CONFIG_FILE, component)
    tokenizer = tokenizer_settings(directory, config, component=component)
    pooling_config = _read_json(directory / POOLING_CONFIG_FILE, component, missing={})
    modules = _read_json(directory / MODULES_FILE, component, missing=[])
    pooling = None
    if pooling_config.get("pooling_mode_mean_tokens"):
        pooling = "mean"
    elif pooling_config.get("pooling_mode_cls_token"):
        pooling = "cls"
    normalize = isinstance(modules, list) and any(
        isinstance(module, dict) and str(module.get("type", "")).endswith(".Normalize") for module in modules
    )
    return ModelFiles(
        directory=directory,
        config=config,
        lowercase=bool(tokenizer["do_lower_case"]),
        pooling=pooling,
        normalize=normalize,
        strip_accents=tokenizer["strip_accents"],
        chinese_chars=bool(tokenizer["tokenize_chinese_chars"]),
    )


def tokenizer_settings(directory: Path, config: dict[str, Any], *, component: str) -> dict[str, bool | None]:
    """``do_lower_case``, ``strip_accents`` and ``tokenize_chinese_chars`` of the checkpoint in ``directory``.

    Raises:
        ComponentError: a setting that is not a boolean (or null, for ``strip_accents``).
    """
    sources: list[tuple[str, dict[str, Any]]] = []
    slow = _read_json(directory / TOKENIZER_CONFIG_FILE, component, missing={})
    if isinstance(slow, dict):
        sources.append((TOKENIZER_CONFIG_FILE, slow))
    if (directory / FAST_TOKENIZER_FILE).is_file():
        fast = _read_json(directory / FAST_TOKENIZER_FILE, component)
        normalizer = fast.get("normalizer") if isinstance(fast, dict) else None
        if isinstance(normalizer, dict) and normalizer.get("type") == "BertNormalizer":
            sources.append((FAST_TOKENIZER_FILE, {
                key: normalizer[name] for key, name in NORMALIZER_KEYS.items() if name in normalizer
            }))
    if isinstance(config, dict):
        sources.append((CONFIG_FILE, config))
    settings: dict[str, bool | None] = {}
    for key, default in TOKENIZER_DEFAULTS.items():
        value, where = default, None
        for name, source in sources:
            if key in source:
                value, where = source[key], name
                break
        allowed = (bool, type(None)) if key == "strip_accents" else (bool,)
        if not isinstance(value, allowed):
            raise ComponentError(
                f"{component}: {directory / str(where)} sets {key} to {value!r}, not "
                + ("true, false or null" if key == "strip_accents" else "true or false"),
                hint="fix the checkpoint's tokenizer settings",
            )
        settings[key] = value
    return settings


def _read_json(path: Path, component: str, *, missing: Any = None) -> Any:
    if missing is not None and not path.is_file():
        return missing
    try:
        return loads_json(path.read_bytes(), path.name)
    except (OSError, ValueError) as error:
        raise ComponentError(f"{component}: cannot read {path}: {error}") from None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
