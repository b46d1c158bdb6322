"""Rasa 3.6's view of YAML training-data files, as JSON (run with Rasa's Python, not intently's).

    /tmp/rasa-venv/bin/python benchmarks/rasa_compat_peer.py OUT.json FILE_OR_FOLDER...

Used by ``benchmarks/rasa_compat.py``, which runs it in a subprocess and
compares its output with intently's reading of the same files. For every
YAML file: the NLU data as Rasa's ``RasaYAMLReader`` reads it (examples after
Rasa's de-duplication, synonyms, regexes, lookups, responses), the stories
and rules as ``YAMLStoryReader`` reads them, a domain's responses, or the
error Rasa raises. For every folder argument: the number of examples after
Rasa merges all its NLU files (which drops duplicates across files).

It imports only ``rasa.shared`` (no TensorFlow) and writes nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

YAML_SUFFIXES = (".yml", ".yaml")


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = []
    for file in path.rglob("*"):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix.lower() in YAML_SUFFIXES and file.is_file():
            found.append(file)
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


def _entity(entity: dict[str, Any]) -> dict[str, Any]:
    return {key: entity.get(key) for key in ("start", "end", "value", "entity", "role", "group")}


def _message(message: Any) -> dict[str, Any]:
    from rasa.shared.nlu.constants import (
        ENTITIES,
        INTENT,
        INTENT_RESPONSE_KEY,
        METADATA,
        METADATA_EXAMPLE,
        METADATA_INTENT,
        TEXT,
    )

    metadata = message.get(METADATA) or {}
    merged: dict[str, Any] = {}
    if isinstance(metadata.get(METADATA_INTENT), dict):
        merged.update(metadata[METADATA_INTENT])
    if isinstance(metadata.get(METADATA_EXAMPLE), dict):
        merged.update(metadata[METADATA_EXAMPLE])
    return {
        "text": message.get(TEXT),
        "intent": message.get(INTENT),
        "intent_response_key": message.get(INTENT_RESPONSE_KEY),
        "entities": [_entity(e) for e in message.get(ENTITIES) or []],
        "metadata": merged,
    }


def _nlu(file: Path) -> dict[str, Any]:
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    data = RasaYAMLReader().read(str(file))
    lookups: dict[str, list[str]] = {}
    for table in data.lookup_tables:
        lookups.setdefault(table["name"], []).extend(table["elements"])
    return {
        "messages": [_message(m) for m in data.training_examples],
        "synonyms": dict(data.entity_synonyms),
        "regexes": [{"name": r["name"], "pattern": r["pattern"]} for r in data.regex_features],
        "lookups": lookups,
        "responses": data.responses or {},
    }


def _event(event: Any) -> list[Any] | None:
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered

    if isinstance(event, UserUttered):
        entities = sorted(
            json.dumps(
                {k: e.get(k) for k in ("entity", "value", "role", "group", "start", "end") if e.get(k) is not None},
                sort_keys=True,
            )
            for e in event.entities or []
        )
        intent = event.intent_name
        full = (event.intent or {}).get("full_retrieval_intent_name") if event.intent else None
        return ["user", full or intent, event.text, entities]
    if isinstance(event, ActionExecuted):
        if event.action_name in ("...", "action_listen"):
            return None
        return ["action", event.action_name or None, event.action_text or None]
    if isinstance(event, SlotSet):
        return ["slot", event.key, event.value]
    if isinstance(event, ActiveLoop):
        return ["active_loop", event.name]
    return None


def _stories(file: Path) -> dict[str, Any]:
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    steps = YAMLStoryReader().read_from_file(str(file))
    stories: dict[str, dict[str, Any]] = {}
    for step in steps:
        name = step.block_name
        story = stories.setdefault(name, {"events": set(), "checkpoints": set()})
        for event in step.events:
            value = _event(event)
            if value is not None:
                story["events"].add(json.dumps(value, sort_keys=True, default=str))
        for checkpoint in step.start_checkpoints + step.end_checkpoints:
            if checkpoint.name not in ("STORY_START",) and not checkpoint.name.startswith("GENR_"):
                story["checkpoints"].add(checkpoint.name)
    return {
        name: {"events": sorted(s["events"]), "checkpoints": sorted(s["checkpoints"])}
        for name, s in stories.items()
    }


def _domain_responses(file: Path) -> dict[str, Any]:
    from rasa.shared.core.domain import Domain

    return {"responses": Domain.from_file(str(file)).responses}


def read_file(file: Path) -> dict[str, Any]:
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.data import is_config_file
    from rasa.shared.core.domain import Domain
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
    from rasa.shared.utils.io import read_yaml_file

    result: dict[str, Any] = {"kinds": []}
    try:
        content = read_yaml_file(str(file))
    except Exception as error:  # noqa: BLE001 - reported, not handled
        return {"kinds": ["unreadable"], "error": f"{type(error).__name__}: {error}"}
    if not isinstance(content, dict):
        return {"kinds": ["other"]}
    try:
        if Domain.is_domain_file(str(file)) and not ({"nlu", "stories", "rules"} & content.keys()):
            result["kinds"].append("domain")
            result.update(_domain_responses(file))
            return result
        if is_config_file(str(file)) or not ({"nlu", "responses", "stories", "rules"} & content.keys()):
            result["kinds"].append("other")
            return result
        if RasaYAMLReader.is_yaml_nlu_file(str(file)):
            result["kinds"].append("nlu")
            result.update(_nlu(file))
        if YAMLStoryReader.is_stories_file(str(file)):
            result["kinds"].append("stories")
            result["stories"] = _stories(file)
    except Exception as error:  # noqa: BLE001 - reported, not handled
        result["error"] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return result


def merged_count(folder: Path, files: list[Path]) -> int | str:
    """Examples after Rasa merges the NLU files of ``folder`` (duplicates across files dropped)."""
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
    from rasa.shared.nlu.training_data.training_data import TrainingData

    parts = []
    for file in files:
        try:
            if RasaYAMLReader.is_yaml_nlu_file(str(file)):
                parts.append(RasaYAMLReader().read(str(file)))
        except Exception as error:  # noqa: BLE001 - as Rasa's training would, the folder fails
            return f"error: {type(error).__name__} in {file.name}"
    if not parts:
        return 0
    return len(TrainingData().merge(*parts).training_examples)


def main(argv: list[str]) -> int:
    out, *paths = argv
    files: dict[str, Any] = {}
    folders: dict[str, Any] = {}
    for path in map(Path, paths):
        found = _files(path)
        for file in found:
            files[str(file)] = read_file(file)
        if path.is_dir():
            folders[str(path)] = merged_count(path, found)
    Path(out).write_text(json.dumps({"files": files, "folders": folders}, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
