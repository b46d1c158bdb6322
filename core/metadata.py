"""``metadata.json``: what a model archive says about itself, and version checks."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import attrs

from intently.errors import IncompatibleModelError, InvalidArchiveError

#: Bumped when the archive layout changes incompatibly.
ARCHIVE_FORMAT_VERSION = 1
#: The oldest intently version whose archives this version loads.
MINIMUM_COMPATIBLE_VERSION = "0.1.0"
#: The ``labels`` entry of the entity types components added to the training examples while
#: training (a rule-based extractor's), kept apart from the ``entities`` the data annotates.
COMPONENT_ENTITIES = "component_entities"


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.2.3rc1"`` → ``(1, 2, 3)``; unparsable parts are dropped."""
    numbers = []
    for part in str(version).split(".")[:3]:
        match = re.match(r"\d+", part)
        if not match:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


@attrs.define
class ComponentEntry:
    """One component of a persisted pipeline."""

    index: int
    name: str
    unique_name: str
    class_path: str
    config: dict[str, Any]
    folder: str
    files: list[str] = attrs.field(factory=list)
    meta: dict[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "unique_name": self.unique_name,
            "class": self.class_path,
            "config": self.config,
            "folder": self.folder,
            "files": self.files,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComponentEntry:
        try:
            return cls(
                index=int(data["index"]),
                name=str(data["name"]),
                unique_name=str(data["unique_name"]),
                class_path=str(data["class"]),
                config=dict(data.get("config") or {}),
                folder=str(data["folder"]),
                files=list(data.get("files") or []),
                meta=dict(data.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidArchiveError(f"a component entry in metadata.json is malformed: {error}") from error


@attrs.define
class ModelMetadata:
    """Everything ``metadata.json`` records about a trained model."""

    intently_version: str
    config: dict[str, Any]
    components: list[ComponentEntry]
    labels: dict[str, list[str]]
    fingerprint: dict[str, str]
    training_duration_seconds: float
    training_examples: int
    language: str
    created_at: str = attrs.field(factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    model_name: str | None = None
    finetuned_from: dict[str, Any] | None = None
    format_version: int = ARCHIVE_FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "intently_version": self.intently_version,
            "created_at": self.created_at,
            "model_name": self.model_name,
            "language": self.language,
            "training_duration_seconds": round(self.training_duration_seconds, 3),
            "training_examples": self.training_examples,
            "fingerprint": dict(self.fingerprint),
            "labels": dict(self.labels),
            "config": self.config,
            "components": [entry.to_dict() for entry in self.components],
            "finetuned_from": self.finetuned_from,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        """Parse and check compatibility; raises IncompatibleModelError or InvalidArchiveError."""
        check_compatibility(data)
        try:
            return cls(
                intently_version=str(data["intently_version"]),
                config=dict(data["config"]),
                components=[ComponentEntry.from_dict(c) for c in data["components"]],
                labels=dict(data.get("labels") or {}),
                fingerprint=dict(data.get("fingerprint") or {}),
                training_duration_seconds=float(data.get("training_duration_seconds") or 0.0),
                training_examples=int(data.get("training_examples") or 0),
                language=str(data.get("language") or data["config"].get("language", "en")),
                created_at=str(data.get("created_at") or ""),
                model_name=data.get("model_name"),
                finetuned_from=data.get("finetuned_from"),
                format_version=int(data["format_version"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidArchiveError(f"metadata.json is malformed: {error!r}") from error


def check_compatibility(data: dict[str, Any]) -> None:
    """Refuse archives of another format or of an incompatible intently version."""
    from intently import __version__

    if "intently_version" not in data or "format_version" not in data:
        raise InvalidArchiveError(
            "metadata.json has no intently_version/format_version; this is not an intently model"
        )
    format_version = data["format_version"]
    version = str(data["intently_version"])
    if format_version != ARCHIVE_FORMAT_VERSION:
        raise IncompatibleModelError(
            f"the model has archive format {format_version!r} (intently {version}); "
            f"intently {__version__} reads format {ARCHIVE_FORMAT_VERSION}",
            hint="train the model again with this version, or install the version it was trained with",
        )
    if version_tuple(version) < version_tuple(MINIMUM_COMPATIBLE_VERSION):
        raise IncompatibleModelError(
            f"the model was trained with intently {version}; intently {__version__} loads "
            f"models from version {MINIMUM_COMPATIBLE_VERSION} on",
            hint="train the model again with `intently train`",
        )
    if version_tuple(version)[:2] > version_tuple(__version__)[:2]:
        raise IncompatibleModelError(
            f"the model was trained with a newer intently ({version}) than this one ({__version__})",
            hint=f"upgrade: pip install 'intently>={version}'",
        )
