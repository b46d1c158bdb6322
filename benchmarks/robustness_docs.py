"""Fuzzed training-data documents: the generator and the run (part 1 of the robustness benchmark).

Every document is made from ``(seed, index)`` alone, so any one can be made
again (``python benchmarks/robustness.py --show-document INDEX``). Four kinds:

* ``mutated``: a real document (the example project's files, and windows of
  the shared data files, read where they are) with 1-4 line or character
  mutations: lines deleted, repeated, swapped or re-indented, YAML tokens,
  annotations, control characters, U+2028 or Chinese text put in;
* ``structure``: random training-data structures (right and wrong keys and
  types, annotations of every form, anchors and aliases, recursion) written
  with PyYAML;
* ``tokens``: a soup of raw YAML tokens (merge keys, tags, anchors, aliases,
  brackets, block scalars, directives, timestamps, special characters);
* ``special``: the known tricks: alias bombs, recursive aliases, deep nesting,
  merge keys, bad timestamps, explicit tags, U+2028 in quoted examples, huge
  lines.

Each document is read with :func:`intently.training_data.read_yaml_string`
and fingerprinted (``TrainingData.fingerprint``, as a training does first) in
a forked worker (memory and per-document time capped). A document read
without error is written back with :func:`intently.training_data.dump_yaml`
and read again: the two writes must be the same (the round trip).
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import warnings
from collections.abc import Callable
from multiprocessing.sharedctypes import RawArray
from pathlib import Path
from typing import Any

import yaml

from robustness_procs import Child, Limits, kill_and_wait, describe_exit, fork_child, read_result, short_traceback, write_result

logger = logging.getLogger("robustness.docs")

CHUNK = 250
#: One letter per kind, for the workers' result lines.
KINDS = {"m": "mutated", "s": "structure", "t": "tokens", "p": "special"}
LETTERS = {kind: letter for letter, kind in KINDS.items()}
CLASSES = ("ok", "clean", "traceback", "memory", "crash", "hang", "roundtrip")

WORDS = ["book", "a", "table", "for", "two", "tonight", "in", "Berlin", "hi", "play", "music", "the", "weather",
         "我想", "订", "明天", "晚上", "两个人", "的", "桌子", "北京", "天气", "怎么样", "yes", "no", "null", "~"]
NAMES = ["greet", "goodbye", "book_table", "inform", "city", "cuisine", "time", "people", "天气", "date", "x", ""]

TOKENS = [
    "nlu:", "version:", '"3.1"', "'2.0'", "- intent: ", "intent:", "examples: |", "examples: |-", "examples:", "- text: ",
    "text:", "metadata:", "synonym:", "regex:", "lookup:", "responses:", "stories:", "rules:", "steps:", "- story: ",
    "- rule: ", "- action: ", "- slot_was_set:", "- or:", "entities:", "- checkpoint: ", "domain:", "intents:",
    "- ", "-", "<<: ", "<<: *a", "<<: [*a, *b]", "&a ", "*a", "&b ", "*b", "*zz", "&a &b ", "!!float ", "!!int ",
    "!!str ", "!!binary ", "!!timestamp ", "!!bool ", "!!null ", "!!map ", "!!seq ", "!!set ", "!!omap ", "!!pairs ",
    "!!python/object:os.system ", "!!python/name:os.system", "!!python/object/apply:os.getcwd []", "!custom ",
    "!<tag:yaml.org,2002:str> ", "? ", "?", ": ", ":", "[", "]", "{", "}", ",", "|", ">", "|-", ">+", "|2", "---",
    "...", "%YAML 1.1", "%YAML 1.2", "%TAG ! tag:x,2000:", "#", "# comment", "'", '"', "\\", "\\u2028", "2001-13-45",
    "2001-12-14t21:59:43.10-05:00", "2001-12-14", "12:30:00", "0x1F", "0o17", "0b101", "1_000", "1e999", "-.inf",
    ".nan", ".inf", "~", "null", "yes", "no", "on", "off", "true", "False", "=", "[a](b)", '[a]{"entity": "b"}',
    "[a](b:c)", '[a]{"entity": "b", "value": ""}', '[a]{"entity": "b", "role": "r", "group": "1"}', "[a]",
    "](", "[", "[]()", '[a][{"entity": "b"}, {"entity": "c"}]', '{"entity": ', "\u2028", "\u2029", "\x85", "\ufeff",
    "\x00", "\x07", "\x1b", "\x7f", "\t", "\r", "\r\n", "\u200b", "\U0001f600", "我想订一张桌子", "北京", "明天",
    "book a table", "utter_greet", "𝔘𝔫𝔦", "a" * 200,
]
INSERTS = ["\u2028", "\u2029", "\x85", "\x00", "\x0b", "\x1b", "\t", "\ufeff", "\r", "我想订", "[", "]", "(", ")",
           "{", "}", "&a ", "*a", "<<: ", "!!float ", ": ", "- ", "#", "'", '"', "|", "\n", "\n  ", "\n- ",
           '[北京]{"entity": "city", "value": ""}', "[x](y:)", "](", "\\", "%"]


# --- real documents ----------------------------------------------------------------------------------


def real_documents(example_data: Path, shared_data: Path, windows_per_file: int = 6, lines: int = 40) -> list[str]:
    """The example project's files whole, and a few windows of each shared data file (read, not copied)."""
    documents = [path.read_text(encoding="utf-8") for path in sorted(example_data.glob("*.yml"))]
    rng = random.Random(0)
    for path in sorted(shared_data.glob("*/*.yml")):
        text_lines = path.read_text(encoding="utf-8").splitlines()
        starts = [i for i, line in enumerate(text_lines) if line.startswith("- intent:")] or [0]
        for start in rng.sample(starts, min(windows_per_file, len(starts))):
            documents.append('version: "3.1"\nnlu:\n' + "\n".join(text_lines[start : start + lines]) + "\n")
    return documents


# --- the generator -----------------------------------------------------------------------------------


def make_document(seed: int, index: int, sources: list[str]) -> tuple[str, str]:
    """``(kind, text)`` of document ``index``: the same for the same seed and sources."""
    rng = random.Random(seed * 1_000_003 + index)
    roll = rng.random()
    if roll < 0.40:
        return "mutated", mutate(rng, rng.choice(sources), sources)
    if roll < 0.65:
        return "structure", structure_document(rng)
    if roll < 0.90:
        return "tokens", token_soup(rng)
    return "special", special_document(rng)


def mutate(rng: random.Random, text: str, sources: list[str]) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        if not lines:
            lines = [""]
        i = rng.randrange(len(lines))
        op = rng.randrange(9)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(i, lines[rng.randrange(len(lines))])
        elif op == 2:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 3:
            stripped = lines[i].lstrip(" ")
            lines[i] = " " * rng.choice([0, 1, 2, 3, 4, 6, 8]) + stripped
        elif op == 4:
            lines.insert(i, " " * rng.choice([0, 2, 4]) + rng.choice(TOKENS) + " " + rng.choice(TOKENS))
        elif op == 5:
            line = lines[i]
            at = rng.randint(0, len(line))
            lines[i] = line[:at] + rng.choice(INSERTS + TOKENS) + line[at:]
        elif op == 6:
            line = lines[i]
            at = rng.randint(0, len(line))
            lines[i] = line[:at] + line[at + rng.randint(1, 6) :]
        elif op == 7:
            other = rng.choice(sources).splitlines()
            start = rng.randrange(max(1, len(other)))
            lines[i:i] = other[start : start + rng.randint(1, 10)]
        else:
            lines[i] = lines[i].replace("- ", "- " + annotated_text(rng) + " ", 1)
    return "\n".join(lines) + rng.choice(["\n", "", "\n\n", "\r\n"])


def annotated_text(rng: random.Random) -> str:
    """Text with inline annotations of every form, right and wrong."""
    parts = []
    for _ in range(rng.randint(0, 5)):
        word = rng.choice(WORDS)
        form = rng.randrange(12)
        entity, value = rng.choice(NAMES), rng.choice(WORDS + [""])
        if form == 0:
            parts.append(f"[{word}]({entity})")
        elif form == 1:
            parts.append(f"[{word}]({entity}:{value})")
        elif form == 2:
            parts.append(f"[{word}]" + json.dumps({"entity": entity, "value": value}, ensure_ascii=rng.random() < 0.5))
        elif form == 3:
            parts.append(f"[{word}]" + json.dumps({"entity": entity, "role": rng.choice(NAMES), "group": rng.choice(["1", 2, None])}))
        elif form == 4:
            parts.append(f"[{word}]" + json.dumps([{"entity": entity}, {"entity": rng.choice(NAMES), "value": value}]))
        elif form == 5:
            parts.append(rng.choice(["[", "](", f"[{word}](", f"[{word}]{{", f"[]({entity})", f"[{word}]{{\"entity\": 5}}",
                                     f"[{word}][]", f"[[{word}](a)](b)", f"[{word}]({entity})" * 2]))
        else:
            parts.append(word)
    return " ".join(parts)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper that writes multi-line strings as ``|`` blocks, as training files do."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not any(c in value for c in "\x85\u2028\u2029\r") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def random_scalar(rng: random.Random) -> Any:
    return rng.choice([None, True, 0, -1, 10**30, 1.5, float("nan"), "", "2001-12-14", annotated_text(rng),
                       rng.choice(NAMES), [], {}, "x" * rng.randint(1, 300)])


def examples_value(rng: random.Random) -> Any:
    roll = rng.random()
    texts = [annotated_text(rng) or rng.choice(WORDS) for _ in range(rng.randint(0, 6))]
    if roll < 0.5:
        return "".join(f"- {text}\n" for text in texts) + rng.choice(["", "# note\n", "not a dash\n", "\n"])
    if roll < 0.8:
        items: list[Any] = []
        for text in texts:
            item: dict[str, Any] = {"text": text}
            if rng.random() < 0.3:
                item["metadata"] = {rng.choice(NAMES) or "k": random_scalar(rng)}
            items.append(item)
        return items
    if roll < 0.9:
        return texts
    return random_scalar(rng)


def nlu_item(rng: random.Random) -> Any:
    kind = rng.choice(["intent", "intent", "intent", "synonym", "regex", "lookup", rng.choice(NAMES) or "other"])
    item: dict[str, Any] = {kind: rng.choice(NAMES) if rng.random() < 0.9 else random_scalar(rng)}
    if kind == "regex":
        item["examples"] = rng.choice(["- \\d+\n", "- [a-z\n", "- (\n", "- " + "(a+)+" * 3 + "\n"])
    else:
        item["examples"] = examples_value(rng)
    if kind == "intent" and rng.random() < 0.2:
        item["metadata"] = {"sentiment": random_scalar(rng)}
    if rng.random() < 0.1:
        item[rng.choice(["extra", "example", "metdata", "entities"])] = random_scalar(rng)
    if rng.random() < 0.05:
        item.pop(kind)
    return item


def structure_document(rng: random.Random) -> str:
    """Random training-data structures, written with PyYAML (shared objects become anchors and aliases)."""
    document: dict[Any, Any] = {}
    if rng.random() < 0.8:
        document["version"] = rng.choice(["3.1", "3.0", "2.0", "4.0", "x", 3.1, None])
    if rng.random() < 0.9:
        items = [nlu_item(rng) for _ in range(rng.randint(0, 5))]
        if items and rng.random() < 0.1:
            items.append(items[0])  # the same object twice: an alias
        document["nlu"] = items if rng.random() < 0.95 else random_scalar(rng)
    if rng.random() < 0.2:
        document["responses"] = {f"utter_{rng.choice(NAMES)}": [{"text": annotated_text(rng)}]}
    if rng.random() < 0.2:
        steps = [{"intent": rng.choice(NAMES)}, {"action": "utter_x"}, {"slot_was_set": [{"a": random_scalar(rng)}]},
                 {"or": [{"intent": "a"}, {"intent": "b"}]}, {"checkpoint": "c"}, {"user": annotated_text(rng)}]
        key = rng.choice(["stories", "rules"])
        document[key] = [{key[:-1]: "s", "steps": rng.sample(steps, rng.randint(0, len(steps)))}]
    if rng.random() < 0.1:
        document[rng.choice(["intents", "pipeline", "language", "nluu", 5, None])] = random_scalar(rng)
    if rng.random() < 0.05:
        loop: list[Any] = []
        loop.append(loop)  # a recursive structure: &id [*id]
        items = document["nlu"] if isinstance(document.get("nlu"), list) else []
        document["nlu"] = items + [{"intent": "x", "metadata": {"m": loop}, "examples": "- hi\n"}]
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=rng.random() < 0.7, sort_keys=False,
                     default_flow_style=rng.choice([False, False, None, True]), width=rng.choice([80, 10**6]))


def token_soup(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 40)):
        out.append(rng.choice(TOKENS))
        out.append(rng.choice([" ", " ", "", "\n", "\n  ", "\n    ", "\n- ", "\n  - "]))
    return "".join(out)


def special_document(rng: random.Random) -> str:
    """The known tricks, each with random sizes."""
    case = rng.randrange(10)
    head = 'version: "3.1"\nnlu:\n'
    if case == 0:  # alias bomb ("billion laughs") in metadata or examples
        depth, width = (rng.randint(6, 9), rng.randint(6, 10)) if rng.random() < 0.005 else (rng.randint(2, 4), rng.randint(2, 10))
        lines = [f"    l0: &l0 [{', '.join(['lol'] * width)}]"]
        lines += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth)]
        return head + "- intent: greet\n  metadata:\n" + "\n".join(lines) + "\n  examples: |\n    - hi\n"
    if case == 1:  # recursive alias
        return head + rng.choice(["- intent: greet\n  metadata: &m {k: *m}\n  examples: |\n    - hi\n",
                                  "- intent: greet\n  examples: &e [*e]\n",
                                  "- &i {intent: greet, examples: [*i]}\n",
                                  "- intent: greet\n  examples:\n  - text: hi\n    metadata: &m [*m]\n"])
    if case == 2:  # deep nesting
        depth = rng.choice([10, 100, 1000, 10_000, 100_000])
        if rng.random() < 0.5:
            return head + "- intent: greet\n  metadata: " + "[" * depth + "]" * depth + "\n  examples: |\n    - hi\n"
        return head + "- intent: greet\n  metadata:\n" + "".join(" " * (i + 4) + "a:\n" for i in range(min(depth, 3000)))
    if case == 3:  # merge keys
        return head + rng.choice(["- <<: 5\n", "- <<: {intent: greet, examples: '- hi'}\n", "<<: 5\n",
                                  "- &a {intent: greet}\n- <<: *a\n  examples: '- hi'\n", "- <<: [1, 2]\n",
                                  "- intent: greet\n  examples: |\n    - hi\n  <<: {metadata: 1}\n"])
    if case == 4:  # timestamps and tags
        value = rng.choice(["2001-13-45", "2001-12-14", "!!float abc", "!!int 1.5", "!!binary ===", "!!timestamp x",
                            "!!python/object/apply:os.system ['true']", "!!python/name:os.system", "!!set {a, b}",
                            "!custom x", "!!omap [a: 1]", "!!str 5"])
        where = rng.randrange(3)
        if where == 0:
            return head + f"- intent: greet\n  metadata: {{d: {value}}}\n  examples: |\n    - hi\n"
        if where == 1:
            return head + f"- intent: {value}\n  examples: |\n    - hi\n"
        return f"version: {value}\nnlu:\n- intent: greet\n  examples: |\n    - hi\n"
    if case == 5:  # line separators and control characters in quoted examples
        char = rng.choice(["\u2028", "\u2029", "\x85", "\\u2028", "\\x85", "\\t", "\\0", "\\e"])
        return head + f'- intent: greet\n  examples:\n  - text: "a{char}b"\n  - text: "[北京](city){char}"\n'
    if case == 6:  # an empty value in an annotation (written back as `synonym: ''`)
        return head + '- intent: inform\n  examples: |\n    - in [北京]{"entity": "city", "value": ""}\n    - [x](y:)\n'
    if case == 7:  # huge lines and many examples
        words, lines = rng.choice([(100_000, 1), (1000, 10), (1, 5000)])  # at most 300 KB
        return head + "- intent: greet\n  examples: |\n" + f"    - {'hi ' * words}\n" * lines
    if case == 8:  # duplicate keys, directive and document markers
        return rng.choice(["%YAML 1.1\n---\n" + head + "- intent: a\n  examples: '- hi'\n---\nnlu: []\n",
                           head + "- intent: a\n  intent: b\n  examples: '- hi'\n", "nlu: []\nnlu: []\n", "---\n...\n"])
    return head + token_soup(rng)


# --- reading one document ----------------------------------------------------------------------------


def read_one(text: str) -> dict[str, Any]:
    """Read ``text`` and round-trip it; ``{"class": ...}`` plus details for the failures."""
    from intently.errors import IntentlyError
    from intently.training_data import dump_yaml, read_yaml_string

    try:
        data = read_yaml_string(text, "fuzz.yml")
        data.fingerprint()  # what `intently train` and `data validate` compute next
    except IntentlyError:
        return {"class": "clean"}
    except MemoryError:
        return {"class": "memory"}
    except Exception as error:  # noqa: BLE001 - what the benchmark counts
        return {"class": "traceback", "error": f"{type(error).__name__}: {str(error)[:200]}",
                "where": short_traceback(error)}
    try:
        first = dump_yaml(data)
        second = dump_yaml(read_yaml_string(first, "written.yml"))
    except MemoryError:
        return {"class": "memory"}
    except Exception as error:  # noqa: BLE001
        return {"class": "roundtrip", "error": f"{type(error).__name__}: {str(error)[:200]}",
                "where": short_traceback(error)}
    if first != second:
        return {"class": "roundtrip", "error": "written, read and written again differs",
                "where": [_first_difference(first, second)]}
    return {"class": "ok"}


def _first_difference(first: str, second: str) -> str:
    for number, (a, b) in enumerate(zip(first.splitlines(), second.splitlines()), 1):
        if a != b:
            return f"line {number}: {a[:80]!r} became {b[:80]!r}"
    return f"{len(first.splitlines())} lines became {len(second.splitlines())}"


def signature(outcome: dict[str, Any]) -> str:
    """Failures with the same signature are one bug: the error type and where it was raised."""
    where = outcome.get("where") or [""]
    return f"{outcome.get('error', '').split(':')[0]} @ {where[-1]}"


# --- the run -----------------------------------------------------------------------------------------


def _chunk_worker(seed: int, sources: list[str], progress: Any, slot: int) -> Callable[[Any, Path], None]:
    def work(job: tuple[int, int], result_file: Path) -> None:
        warnings.simplefilter("ignore")
        start, end = job
        with open(result_file, "w", encoding="utf-8") as out:
            for index in range(start, end):
                progress[2 * slot], progress[2 * slot + 1] = index, time.monotonic()
                kind, text = make_document(seed, index, sources)
                outcome = read_one(text)
                if outcome["class"] in ("ok", "clean"):
                    out.write(outcome["class"][0] + LETTERS[kind] + "\n")
                else:
                    out.write(json.dumps({"index": index, "kind": kind, **outcome}, ensure_ascii=False) + "\n")
                out.flush()
    return work


def run_documents(count: int, seed: int, sources: list[str], workers: int, limits: Limits, work_dir: Path,
                  examples: int = 10, minimize_seconds: float = 20.0) -> dict[str, Any]:
    """Read ``count`` fuzzed documents with ``workers`` forked workers; counts and examples per class."""
    counts = dict.fromkeys(CLASSES, 0)
    kinds: dict[str, dict[str, int]] = {}
    failures: dict[str, list[dict[str, Any]]] = {name: [] for name in CLASSES if name not in ("ok", "clean")}
    seen: set[tuple[str, str]] = set()
    progress = RawArray("d", 2 * workers)
    queue = [(start, min(start + CHUNK, count)) for start in range(0, count, CHUNK)]
    running: dict[int, tuple[Child, int]] = {}
    started = time.monotonic()

    def record(index: int, outcome: dict[str, Any]) -> None:
        name, kind = outcome["class"], outcome["kind"]
        counts[name] += 1
        kinds.setdefault(kind, dict.fromkeys(CLASSES, 0))[name] += 1
        if name in failures:
            key = (name, signature(outcome))
            if key not in seen and len(failures[name]) < examples:
                seen.add(key)
                failures[name].append({"index": index, **outcome})

    while queue or running:
        while queue and len(running) < workers:
            slot = next(s for s in range(workers) if s not in {v[1] for v in running.values()})
            job = queue.pop(0)
            progress[2 * slot], progress[2 * slot + 1] = -1, time.monotonic()
            child = fork_child(_chunk_worker(seed, sources, progress, slot), job, work_dir / f"chunk-{slot}.txt", limits)
            running[child.pid] = (child, slot)
        done: list[tuple[Child, int, dict[str, Any]]] = []
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid in running:
            child, slot = running.pop(pid)
            done.append((child, slot, describe_exit(status)))
        now = time.monotonic()
        for pid, (child, slot) in list(running.items()):
            if progress[2 * slot] >= 0 and now - progress[2 * slot + 1] > limits.seconds:
                kill_and_wait(pid)
                running.pop(pid)
                done.append((child, slot, {"status": "timeout"}))
        if not done:
            time.sleep(0.005)
        for child, slot, exit_ in done:
            start, end = child.job
            processed = 0
            for line in (work_dir / f"chunk-{slot}.txt").read_text(encoding="utf-8").splitlines(keepends=True):
                if not line.endswith("\n"):
                    break
                index = start + processed
                if line[0] in "oc":
                    record(index, {"class": {"o": "ok", "c": "clean"}[line[0]], "kind": KINDS[line[1]]})
                else:
                    record(index, json.loads(line))
                processed += 1
            if start + processed < end:  # the child died on (or hung in) document start + processed
                culprit = start + processed
                if exit_["status"] == "timeout":
                    outcome = {"class": "hang", "error": f"no result after {limits.seconds:g} s"}
                elif exit_.get("signal") == "SIGXFSZ":
                    outcome = {"class": "memory", "error": "wrote a file past the cap"}
                else:
                    crash = Path(f"{work_dir / f'chunk-{slot}.txt'}.crash")
                    detail = exit_.get("signal") or f"exit {exit_.get('code')}"
                    if crash.exists():
                        detail += ": " + crash.read_text()[-300:]
                    outcome = {"class": "crash", "error": detail}
                kind, text = make_document(seed, culprit, sources)
                outcome.update(kind=kind, sample=_describe(text))
                record(culprit, outcome)
                if culprit + 1 < end:
                    queue.insert(0, (culprit + 1, end))
        done.clear()
    seconds = time.monotonic() - started
    for name in ("traceback", "roundtrip"):
        for example in failures[name]:
            text = make_document(seed, example["index"], sources)[1]
            example["sample"] = _describe(minimize(text, example, limits, work_dir, minimize_seconds))
    for name in ("memory", "crash", "hang"):
        for example in failures[name]:
            example.setdefault("sample", _describe(make_document(seed, example["index"], sources)[1]))
    return {"documents": count, "seed": seed, "seconds": round(seconds, 1), "counts": counts, "by_kind": kinds,
            "examples": failures}


def _describe(text: str, limit: int = 600) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f" ... [{len(text) - limit} characters left out] ... " + text[-limit // 2 :]


# --- minimizing a failing document -------------------------------------------------------------------


def minimize(text: str, outcome: dict[str, Any], limits: Limits, work_dir: Path, seconds: float) -> str:
    """The smallest text (lines, then characters, removed greedily) that fails the same way.

    Runs in a forked child with ``seconds`` to spend; gives back ``text`` itself if it finds nothing.
    """
    wanted = (outcome["class"], signature(outcome))

    def same(candidate: str) -> bool:
        result = read_one(candidate)
        return result["class"] == wanted[0] and signature(result) == wanted[1]

    def work(job: Any, result_file: Path) -> None:
        warnings.simplefilter("ignore")
        deadline = time.monotonic() + seconds
        best = text
        for unit in ("lines", "chars"):
            pieces = best.splitlines(keepends=True) if unit == "lines" else list(best)
            size = max(1, len(pieces) // 2)
            while size >= 1 and time.monotonic() < deadline:
                at, shrunk = 0, False
                while at < len(pieces) and time.monotonic() < deadline:
                    candidate = pieces[:at] + pieces[at + size :]
                    if candidate and same("".join(candidate)):
                        pieces, shrunk = candidate, True
                        write_result(result_file, {"text": "".join(pieces)})
                    else:
                        at += size
                if not shrunk:
                    size //= 2
            best = "".join(pieces)
        write_result(result_file, {"text": best})

    result_file = work_dir / "minimized.json"
    result_file.unlink(missing_ok=True)
    child = fork_child(work, None, result_file, Limits(limits.memory_mb, limits.file_mb, seconds + 5))
    deadline = time.monotonic() + seconds + 5
    while time.monotonic() < deadline:
        if os.waitpid(child.pid, os.WNOHANG)[0]:
            break
        time.sleep(0.01)
    else:
        kill_and_wait(child.pid)
    result = read_result(result_file)
    return result["text"] if result else text
