"""``load_data(paths)``: read training-data files and folders and merge them.

* A file is read as training data; a Rasa ``config.yml``, ``endpoints.yml`` or
  ``credentials.yml`` passed explicitly is an error (it is not training data).
* A folder is searched recursively for ``*.yml`` / ``*.yaml`` files, in sorted
  order (hidden files and folders, whose names start with ``.``, are left
  out). Config, endpoints and credentials files found there are skipped with
  a debug message; a Rasa domain contributes its ``responses:`` only.
* Files whose ``version`` is newer than :data:`~intently.training_data.reader.LATEST_VERSION`
  are skipped with a warning, as Rasa does; empty files give a warning.
  Warnings are logged and kept in ``TrainingData.warnings``.
* A file reached twice (named and inside a named folder) is read once.
* Exact duplicate examples (same text, intent, entities and metadata) are
  dropped, within a file and across files, keeping the first, as Rasa does;
  the log says how many and ``TrainingData.duplicates`` says where.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

from intently.errors import NoTrainingDataError
from intently.training_data.model import TrainingData
from intently.training_data.reader import document_kind, read_document, report_duplicates
from intently.yaml_utils import compose_yaml, read_text

logger = logging.getLogger(__name__)

YAML_SUFFIXES = (".yml", ".yaml")
_NOT_TRAINING_DATA = ("config", "endpoints", "credentials")

PathArg = str | PathLike[str]


def load_data(paths: PathArg | Sequence[PathArg]) -> TrainingData:
    """Read and merge the training data at ``paths`` (files and folders).

    Args:
        paths: one path or a list of paths; each a YAML file or a folder that
            is searched recursively for ``.yml``/``.yaml`` files.

    Returns:
        All files merged in order (:meth:`TrainingData.merge`).

    Raises:
        NoTrainingDataError: a path does not exist.
        YamlSyntaxError, TrainingDataError: a file cannot be read (the error
            names file, line and column).
    """
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    parts: list[TrainingData] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise NoTrainingDataError(
                f"training data not found: '{path}' does not exist",
                file=path,
                hint="pass an existing YAML file or a folder of YAML files",
            )
        if path.is_dir():
            files = _yaml_files(path)
            if not files:
                message = f"{path}: the folder has no .yml or .yaml files"
                logger.warning(message)
                parts.append(TrainingData(warnings=[message]))
            for file in files:
                if _first_visit(file, seen):
                    data = _read_file(file, explicit=False)
                    if data is not None:
                        parts.append(data)
        elif _first_visit(path, seen):
            data = _read_file(path, explicit=True)
            if data is not None:
                parts.append(data)
    merged = TrainingData().merge(*parts)
    if len(parts) > 1:
        report_duplicates(merged, merged.drop_duplicates(), "across files")
    return merged


def _first_visit(path: Path, seen: set[Path]) -> bool:
    resolved = path.resolve()
    if resolved in seen:
        return False
    seen.add(resolved)
    return True


def _yaml_files(folder: Path) -> list[Path]:
    """The YAML files under ``folder``, recursively and sorted, without hidden ones."""
    files = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() in YAML_SUFFIXES and path.is_file():
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _read_file(path: Path, explicit: bool) -> TrainingData | None:
    """One file's training data, or None for a file in a folder that is not training data."""
    file = str(path)
    text = read_text(path)
    root = compose_yaml(text, file)
    kind = document_kind(root, file)
    if kind in _NOT_TRAINING_DATA and not explicit:
        logger.debug("%s: a Rasa %s file, not training data; skipped", file, kind)
        return None
    logger.debug("reading %s (%s)", file, kind)
    return read_document(root, text, file)


__all__ = ["load_data"]
