"""Differential test of intently's training-data reader against Rasa 3.6's, file by file.

    ../shared/peers/rasa/install.sh /tmp/rasa-venv        # once: Rasa 3.6 in its own venv
    python benchmarks/rasa_compat.py FOLDER_OR_FILE...     # e.g. folders of Rasa projects
    python benchmarks/rasa_compat.py --rasa-venv /path/to/venv --stem my_compat FOLDER...

Every ``.yml``/``.yaml`` file under the arguments is read twice: by intently
(``intently.training_data``) in this process, and by Rasa 3.6
(``RasaYAMLReader``, ``YAMLStoryReader``, ``Domain``) in a subprocess that runs
``rasa_compat_peer.py`` with Rasa's Python and returns JSON. Compared per file:

* every NLU example, in order: text, intent, full retrieval intent, entities
  (start, end, value, entity, role, group) and metadata (Rasa keeps intent- and
  example-level metadata apart; both are merged, the example's keys winning,
  as intently stores them);
* synonyms, regexes, lookup tables (elements by table name), responses;
* stories and rules: per story name, the set of user turns (intent or full
  retrieval intent, text, entities), actions and bot texts, slots set, active
  loops, and checkpoint names;
* whether the file reads at all (an error on one side only is a difference).

For each folder argument, the number of examples after all its files are
merged is compared too (both drop exact duplicates across files).

Prints a table of files x differences and writes ``rasa_compat.json`` and
``rasa_compat.md`` (``--stem``) into ``--out``; the JSON lists every
difference. Exits with status 2 and says how to install Rasa when the venv has
no Rasa.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DEFAULT_OUT, REPO, environment, markdown_table, publish  # noqa: E402

PEER_SCRIPT = Path(__file__).resolve().parent / "rasa_compat_peer.py"
DEFAULT_VENV = Path("/tmp/rasa-venv")
INSTALL = REPO.parent / "shared" / "peers" / "rasa" / "install.sh"
CATEGORIES = ("read", "examples", "synonyms", "regexes", "lookups", "responses", "stories")
#: At most this many differences of one category and file are kept in the JSON.
KEEP = 20


# --- Rasa's side ---------------------------------------------------------------------------


def rasa_python(venv: Path) -> Path | None:
    """Rasa's Python in ``venv``, or None when Rasa is not installed there."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", "import rasa.shared.nlu.training_data.entities_parser, rasa.version as v; print(v.__version__)"],
        capture_output=True,
        text=True,
    )
    return python if probe.returncode == 0 else None


def rasa_view(python: Path, paths: list[Path]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rasa.json"
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}
        completed = subprocess.run(
            [str(python), str(PEER_SCRIPT), str(out), *map(str, paths)],
            capture_output=True,
            text=True,
            env=env,
        )
        if completed.returncode != 0:
            raise SystemExit(f"Rasa's reader failed:\n{completed.stderr[-3000:]}")
        return json.loads(out.read_text(encoding="utf-8"))


def rasa_version(python: Path) -> str:
    return subprocess.run(
        [str(python), "-c", "import rasa.version as v; print(v.__version__)"], capture_output=True, text=True
    ).stdout.strip()


# --- intently's side ---------------------------------------------------------------------------


def _entity(entity: Any) -> dict[str, Any]:
    return {
        "start": entity.start,
        "end": entity.end,
        "value": entity.value,
        "entity": entity.entity,
        "role": entity.role,
        "group": entity.group,
    }


def _message(message: Any) -> dict[str, Any]:
    return {
        "text": message.text,
        "intent": message.intent,
        "intent_response_key": message.intent_response_key,
        "entities": [_entity(e) for e in message.entities],
        "metadata": dict(message.metadata),
    }


def _event_key(value: list[Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _step_events(step: Any, events: set[str], checkpoints: set[str]) -> None:
    if step.kind == "or":
        for alternative in step.alternatives:
            _step_events(alternative, events, checkpoints)
        return
    if step.kind in ("intent", "user"):
        message = step.message
        if message is not None:
            intent = (step.extra.get("intent") if step.extra else None)
            entities = [
                {k: v for k, v in _entity(e).items() if v is not None} for e in message.entities
            ]
            text = message.text
        else:
            intent = step.value
            entities = [{k: v for k, v in e.items() if v is not None} for e in step.entities]
            text = None
        if message is not None and step.entities:
            entities += [{k: v for k, v in e.items() if v is not None} for e in step.entities]
        events.add(_event_key(["user", intent, text, sorted(json.dumps(e, sort_keys=True) for e in entities)]))
    elif step.kind == "action":
        if step.value not in ("...", "action_listen"):
            events.add(_event_key(["action", step.value, None]))
    elif step.kind == "bot":
        events.add(_event_key(["action", None, step.value]))
    elif step.kind == "slot_was_set":
        for item in step.value or []:
            if isinstance(item, dict):
                for key, value in item.items():
                    events.add(_event_key(["slot", key, value]))
            else:
                events.add(_event_key(["slot", item, None]))
    elif step.kind == "active_loop":
        events.add(_event_key(["active_loop", step.value]))
    elif step.kind == "checkpoint":
        checkpoints.add(step.value)


def _stories(stories: list[Any]) -> dict[str, Any]:
    result: dict[str, dict[str, set[str]]] = {}
    for story in stories:
        entry = result.setdefault(story.name, {"events": set(), "checkpoints": set()})
        for step in list(story.condition) + list(story.steps):
            _step_events(step, entry["events"], entry["checkpoints"])
    return {name: {k: sorted(v) for k, v in entry.items()} for name, entry in result.items()}


def intently_file(path: Path) -> dict[str, Any]:
    """One file as intently reads it (as ``load_data`` does for a file inside a folder)."""
    from intently.errors import IntentlyError
    from intently.training_data.reader import document_kind, read_document
    from intently.yaml_utils import compose_yaml, read_text

    try:
        text = read_text(path)
        root = compose_yaml(text, str(path))
        kind = document_kind(root, str(path))
        if kind in ("config", "endpoints", "credentials", "empty"):
            return {"kinds": ["other"]}
        data = read_document(root, text, str(path))
    except IntentlyError as error:
        return {"kinds": ["error"], "error": str(error).splitlines()[0][:300]}
    lookups: dict[str, list[str]] = {}
    for table in data.lookup_tables:
        if table.elements:
            lookups.setdefault(table.name, []).extend(table.elements)
    return {
        "kinds": [kind],
        "messages": [_message(m) for m in data.training_examples],
        "synonyms": dict(data.entity_synonyms),
        "regexes": [{"name": r.name, "pattern": r.pattern} for r in data.regex_features],
        "lookups": lookups,
        "responses": data.responses,
        "stories": _stories(data.stories),
        "warnings": len(data.warnings),
    }


def intently_folder(path: Path) -> int | str:
    from intently.errors import IntentlyError
    from intently.training_data import load_data

    try:
        return len(load_data(path).training_examples)
    except IntentlyError as error:
        return f"error: {str(error).splitlines()[0][:200]}"


# --- comparing ---------------------------------------------------------------------------------


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def compare_messages(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> list[str]:
    if ours == theirs:
        return []
    mine = Counter(_show(m) for m in ours)
    rasa = Counter(_show(m) for m in theirs)
    differences = [f"only Rasa has {m}" + (f" (x{n})" if n > 1 else "") for m, n in (rasa - mine).items()]
    differences += [f"only intently has {m}" + (f" (x{n})" if n > 1 else "") for m, n in (mine - rasa).items()]
    if not differences:
        differences.append("same examples in another order")
    return differences


def compare_mapping(kind: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    differences = []
    for key in sorted(set(ours) | set(theirs)):
        if key not in ours:
            differences.append(f"{kind} {key!r}: only Rasa has it: {_show(theirs[key])}")
        elif key not in theirs:
            differences.append(f"{kind} {key!r}: only intently has it: {_show(ours[key])}")
        elif ours[key] != theirs[key]:
            differences.append(f"{kind} {key!r}: Rasa {_show(theirs[key])}, intently {_show(ours[key])}")
    return differences


def compare_stories(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    differences = []
    for name in sorted(set(ours) | set(theirs)):
        if name not in ours or name not in theirs:
            differences.append(f"story {name!r} only in {'Rasa' if name in theirs else 'intently'}")
            continue
        for part in ("events", "checkpoints"):
            a, b = set(ours[name][part]), set(theirs[name][part])
            for item in sorted(b - a):
                differences.append(f"story {name!r}: only Rasa has {part[:-1]} {item}")
            for item in sorted(a - b):
                differences.append(f"story {name!r}: only intently has {part[:-1]} {item}")
    return differences


def compare_file(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, list[str]]:
    """Differences by category (see :data:`CATEGORIES`)."""
    result: dict[str, list[str]] = {category: [] for category in CATEGORIES}
    our_error, rasa_error = ours.get("error"), theirs.get("error")
    if our_error or rasa_error:
        if bool(our_error) != bool(rasa_error):
            side = "intently" if our_error else "Rasa"
            result["read"].append(f"only {side} fails: {our_error or rasa_error}")
        return result
    if "other" in theirs.get("kinds", []) and "other" in ours.get("kinds", []):
        return result
    result["examples"] = compare_messages(ours.get("messages", []), theirs.get("messages", []))
    result["synonyms"] = compare_mapping("synonym", ours.get("synonyms", {}), theirs.get("synonyms", {}))
    if ours.get("regexes", []) != theirs.get("regexes", []):
        result["regexes"].append(f"Rasa {_show(theirs.get('regexes'))}, intently {_show(ours.get('regexes'))}")
    result["lookups"] = compare_mapping("lookup", ours.get("lookups", {}), theirs.get("lookups", {}))
    result["responses"] = compare_mapping("response", ours.get("responses", {}), theirs.get("responses", {}))
    result["stories"] = compare_stories(ours.get("stories", {}), theirs.get("stories", {}))
    return result


def _yaml_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = []
    for file in path.rglob("*"):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if file.suffix.lower() in (".yml", ".yaml") and file.is_file():
            files.append(file)
    return sorted(files, key=lambda p: p.relative_to(path).as_posix())


def _display(file: str, roots: list[Path]) -> str:
    for root in roots:
        base = root.parent if root.is_dir() else root.parent
        try:
            return Path(file).relative_to(base).as_posix()
        except ValueError:
            continue
    return file


def run(paths: list[Path], python: Path) -> dict[str, Any]:
    theirs = rasa_view(python, paths)
    files: dict[str, Any] = {}
    for path in paths:
        for file in _yaml_files(path):
            key = str(file)
            ours = intently_file(file)
            rasa = theirs["files"].get(key, {"kinds": ["missing"]})
            differences = compare_file(ours, rasa)
            files[_display(key, paths)] = {
                "rasa_examples": len(rasa.get("messages", [])),
                "intently_examples": len(ours.get("messages", [])),
                "stories": len(rasa.get("stories", {})),
                "rasa_error": rasa.get("error"),
                "intently_error": ours.get("error"),
                "intently_warnings": ours.get("warnings", 0),
                "differences": {k: v[:KEEP] for k, v in differences.items() if v},
                "counts": {k: len(v) for k, v in differences.items()},
            }
    folders = {}
    for path in paths:
        if path.is_dir():
            folders[_display(str(path), paths)] = {
                "rasa_examples": theirs["folders"].get(str(path)),
                "intently_examples": intently_folder(path),
            }
    return {"files": files, "folders": folders}


def render(result: dict[str, Any]) -> str:
    header = ["file", "examples (Rasa / intently)", *CATEGORIES, "total"]
    rows = []
    totals = Counter()
    for file, entry in result["files"].items():
        counts = entry["counts"]
        total = sum(counts.values())
        totals.update(counts)
        examples = f"{entry['rasa_examples']} / {entry['intently_examples']}"
        rows.append([f"`{file}`", examples, *[str(counts.get(c, 0)) for c in CATEGORIES], str(total)])
    rows.append(["**all files**", "", *[str(totals.get(c, 0)) for c in CATEGORIES], str(sum(totals.values()))])
    lines = [
        f"Rasa {result['rasa_version']} vs intently {result['environment'].get('intently', '?')}: "
        f"{len(result['files'])} files, {sum(1 for e in result['files'].values() if any(e['counts'].values()))} "
        "with differences.",
        "",
        markdown_table(header, rows),
    ]
    if result["folders"]:
        folder_rows = []
        for folder, entry in result["folders"].items():
            rasa, ours = entry["rasa_examples"], entry["intently_examples"]
            both_fail = str(rasa).startswith("error") and str(ours).startswith("error")
            same = "yes" if rasa == ours or both_fail else "**no**"
            folder_rows.append([f"`{folder}`", str(entry["rasa_examples"]), str(entry["intently_examples"]), same])
        lines += ["", "Examples after merging each folder's files (duplicates across files dropped):", ""]
        lines.append(markdown_table(["folder", "Rasa", "intently", "same"], folder_rows))
    examples = [
        f"- `{file}` ({category}): {items[0]}"
        for file, entry in result["files"].items()
        for category, items in entry["differences"].items()
    ]
    if examples:
        lines += ["", "First difference of each kind and file:", "", *examples]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="Rasa project folders or YAML files")
    parser.add_argument("--rasa-venv", type=Path, default=DEFAULT_VENV, help=f"Rasa 3.6's venv (default {DEFAULT_VENV})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the result files go")
    parser.add_argument("--stem", default="rasa_compat", help="result file names (default rasa_compat)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"not found: {', '.join(missing)}")
    python = rasa_python(args.rasa_venv)
    if python is None:
        print(
            f"Rasa is not installed in {args.rasa_venv} (no {args.rasa_venv / 'bin' / 'python'} that imports rasa).\n"
            f"Install Rasa 3.6 there first:  {INSTALL} {args.rasa_venv}\n"
            "or name another venv with --rasa-venv.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    paths = [p.resolve() for p in args.paths]
    result = run(paths, python)
    result["rasa_version"] = rasa_version(python)
    result["environment"] = environment()
    result["inputs"] = [str(p) for p in args.paths]
    publish(args.out, args.stem, result, render(result))


if __name__ == "__main__":
    main()
