"""Random training-data documents: for the property tests and the robustness benchmark.

Everything is a plain function of a :class:`random.Random`, so a benchmark can
draw hundreds of thousands of documents quickly and reproducibly (a seed per
document); :func:`strategy` turns any of them into a Hypothesis strategy
(Hypothesis then drives the ``Random``, so failures shrink and replay).

Generators (each ``f(rng) -> str``):

* :func:`random_text` — text mixing ASCII, Chinese, emoji, quotes, YAML
  punctuation, backslashes, brackets and unusual line breaks (U+2028, U+2029,
  U+0085, CR, tab);
* :func:`annotated_example` — an example with inline annotations of every
  form (``[t](e)``, ``[t](e:v)``, ``[t]{json}``, ``[t][{..},{..}]``), escapes
  and, now and then, broken or unbalanced brackets and JSON;
* :func:`structure_document` — a document built as Python data following the
  Rasa schema (nlu items of every kind, responses, stories, rules; random
  deviations in types and keys), dumped with random YAML styles;
* :func:`token_document` — raw YAML put together from tokens: merge keys,
  tags, anchors and aliases, flow and block collections, odd indentation;
* :func:`injected_document` — a valid document with tokens spliced in;
* :func:`alias_bomb` — a "billion laughs" document;
* :func:`random_document` — any of the above, sometimes :func:`mutate`-d.

Checks:

* :func:`read_outcome` reads a document and returns ``"ok"`` or ``"error"``
  (an :class:`~intently.errors.IntentlyError`); any other exception
  propagates. After a successful read it also fingerprints, validates,
  writes and reads back, and asserts the round trip (:func:`assert_same_data`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import yaml

from intently.errors import IntentlyError
from intently.message import Message
from intently.training_data import TrainingData, dump_yaml, read_yaml_string, validate_training_data

WORDS = [
    "book", "a", "table", "for", "two", "tonight", "in", "Berlin", "hi", "yes", "no", "null", "true",
    "~", "2001-12-14", "2001-13-45", "1e3", "0o12", "012", "0x1F", ".nan", "-.inf", "1_000", "<<", "=",
    "你好", "北京", "订一张桌子", "明天", "😀", "👍🏽", "🇩🇪", "Ünïcödé", "ﬁ", "İstanbul", "ß",
]
PUNCTUATION = list(":-#&*!|>{}[](),%@`'\"\\?/") + [": ", " #", "- ", "\\[", "\\]", "\\\\", "''", '""']
ODD_CHARACTERS = ["\u2028", "\u2029", "\x85", "\r", "\r\n", "\t", "\xa0", "\u3000", "\ufeff", "\x01", "\x7f", "\n"]
ENTITY_NAMES = ["city", "time", "cuisine", "人数", "e:x", "a b", "", " ", "x(y)", "{z}"]

YAML_TOKENS = [
    "<<:", "<<: *a", "<<: [*a, *b]", "<< : 5", "&a", "&b", "*a", "*b", "*undefined", "!!str", "!!int",
    "!!float", "!!bool", "!!null", "!!map", "!!seq", "!!set", "!!omap", "!!binary", "!!timestamp",
    "!!python/object/apply:os.system", "!!python/name:os.system", "!custom", "!", "!<tag:x>", "|", "|-",
    "|+", ">", "|2", "[", "]", "{", "}", ",", "? ", ": ", "- ", "-", "---", "...", "%YAML 1.1", "#",
    "'quoted'", '"dq \\L \\u2028 \\x01"', "2001-13-45", "yes", "0o777", "1e400", "9" * 30, ".NaN", "~",
    "intent:", "examples:", "text:", "metadata:", "synonym:", "regex:", "lookup:", "nlu:", "responses:",
    "stories:", "rules:", "steps:", "version:", "entities:", "- intent: greet", "- text: hi",
]

VALID_DOCUMENT = """version: "3.1"
nlu:
- intent: greet
  metadata: {source: test}
  examples: |
    - hi
    - 你好 [北京](city)
- intent: book
  examples:
  - text: 'book [two]{"entity": "people", "value": "2"} tables'
    metadata: {sentiment: neutral}
- synonym: New York
  examples: |
    - NYC
- regex: zip
  examples: |
    - \\d{5}
- lookup: city
  examples: |
    - Berlin
responses:
  utter_greet:
  - text: hello
stories:
- story: s
  steps:
  - intent: greet
    entities:
    - city: Berlin
  - action: utter_greet
rules:
- rule: r
  steps:
  - intent: greet
  - action: utter_greet
"""


# --- text ----------------------------------------------------------------------------------------


def random_text(rng: random.Random, max_pieces: int = 8) -> str:
    """Text of up to ``max_pieces`` pieces: words (ASCII, Chinese, emoji), punctuation, odd characters."""
    pieces = []
    for _ in range(rng.randint(0, max_pieces)):
        roll = rng.random()
        if roll < 0.6:
            pieces.append(rng.choice(WORDS))
        elif roll < 0.85:
            pieces.append(rng.choice(PUNCTUATION))
        else:
            pieces.append(rng.choice(ODD_CHARACTERS))
        if rng.random() < 0.6:
            pieces.append(" ")
    return "".join(pieces)


def _plain_words(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS[:8] + WORDS[23:30]) for _ in range(rng.randint(1, 3)))


def _json_annotation(rng: random.Random) -> Any:
    item: dict[str, Any] = {}
    for key in ("entity", "role", "group", "value"):
        if key == "entity" and rng.random() < 0.9 or rng.random() < 0.4:
            roll = rng.random()
            if roll < 0.7:
                item[key] = rng.choice(ENTITY_NAMES[:4]) if key == "entity" else random_text(rng, 3)
            elif roll < 0.8:
                item[key] = rng.choice(ENTITY_NAMES)
            else:
                item[key] = rng.choice([None, 1, 1.5, True, [], {}, ""])
    if rng.random() < 0.05:
        item[rng.choice(["entiti", "confidence", "start"])] = "x"
    return item


def annotation(rng: random.Random) -> str:
    """One annotation of any form, sometimes broken."""
    span = _plain_words(rng) if rng.random() < 0.8 else random_text(rng, 3)
    roll = rng.random()
    if roll < 0.3:
        return f"[{span}]({rng.choice(ENTITY_NAMES[:4])})"
    if roll < 0.4:
        return f"[{span}]({rng.choice(ENTITY_NAMES)}:{random_text(rng, 2)})"
    if roll < 0.7:
        return f"[{span}]{json.dumps(_json_annotation(rng), ensure_ascii=rng.random() < 0.5)}"
    if roll < 0.8:
        items = [_json_annotation(rng) for _ in range(rng.randint(0, 3))]
        return f"[{span}]{json.dumps(items, ensure_ascii=False)}"
    broken = [
        f"[{span}", f"{span}]", f"[{span}](", f"[{span}]{{", f'[{span}]{{"entity": ', f"[[{span}](city)]",
        f"[{span}]", f"\\[{span}\\]", f"[{span}\\](city)", f"[](city)", f"[{span}]()", f"[{span}]{{'entity': 'x'}}",
        f"[{span}] (city)", f"[{span}][ {{\"entity\": \"city\"}}]", "\\", f"{span}\\",
    ]
    return rng.choice(broken)


def annotated_example(rng: random.Random) -> str:
    """An example text with annotations of every form between pieces of random text."""
    parts = []
    for _ in range(rng.randint(1, 4)):
        parts.append(annotation(rng) if rng.random() < 0.5 else random_text(rng, 4))
    return rng.choice(["", " "]).join(parts)


# --- documents from structures ----------------------------------------------------------------------


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A metadata-like value: scalars of every YAML type, lists and mappings."""
    roll = rng.random()
    if depth < 3 and roll < 0.15:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if depth < 3 and roll < 0.3:
        return {random_text(rng, 2) if rng.random() < 0.8 else rng.randint(0, 9): random_value(rng, depth + 1)
                for _ in range(rng.randint(0, 3))}
    return rng.choice([random_text(rng, 4), rng.randint(-10**6, 10**6), rng.random() * 1e6, True, False, None,
                       float("inf"), rng.choice(WORDS)])


def _examples(rng: random.Random, texts: list[str]) -> Any:
    roll = rng.random()
    if roll < 0.6:
        return "".join(f"- {text}\n" for text in texts)
    if roll < 0.8:
        return list(texts)
    if roll < 0.95:
        return [{"text": text, **({"metadata": random_value(rng)} if rng.random() < 0.4 else {})} for text in texts]
    return random_value(rng)


def _nlu_item(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["intent", "intent", "intent", "synonym", "regex", "lookup"])
    name = _plain_words(rng) if rng.random() < 0.9 else random_text(rng, 3)
    if kind == "intent" and rng.random() < 0.2:
        name = f"faq/{name}"
    count = rng.randint(0, 4)
    if kind == "intent":
        texts = [annotated_example(rng) if rng.random() < 0.7 else random_text(rng) for _ in range(count)]
    else:
        texts = [random_text(rng, 4) for _ in range(count)]
    item: dict[str, Any] = {kind: name}
    if kind == "intent" and rng.random() < 0.3:
        item["metadata"] = random_value(rng)
    if rng.random() < 0.95:
        item["examples"] = _examples(rng, texts)
    if rng.random() < 0.03:
        item[rng.choice(["exmples", "text", "intent", "synonym"])] = random_text(rng, 2)
    return item


def _step(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["intent", "user", "action", "bot", "slot_was_set", "active_loop", "checkpoint", "or"])
    if kind == "intent":
        step: dict[str, Any] = {"intent": _plain_words(rng)}
        if rng.random() < 0.3:
            step["entities"] = [rng.choice([_plain_words(rng), {"city": random_value(rng)}]) for _ in range(2)]
        return step
    if kind == "user":
        return {"user": annotated_example(rng), "intent": _plain_words(rng)}
    if kind == "slot_was_set":
        return {"slot_was_set": [{_plain_words(rng): random_value(rng)}, _plain_words(rng)]}
    if kind == "or":
        return {"or": [{"intent": _plain_words(rng)} for _ in range(rng.randint(0, 2))]}
    if kind == "active_loop":
        return {"active_loop": rng.choice([None, _plain_words(rng)])}
    return {kind: random_text(rng, 3) if rng.random() < 0.3 else _plain_words(rng)}


def random_structure(rng: random.Random) -> Any:
    """A training-data document as Python data: mostly the Rasa schema, sometimes not."""
    document: dict[Any, Any] = {}
    if rng.random() < 0.7:
        document["version"] = rng.choice(["3.1", "3.0", "2.0", "4.0", "x", 3.1])
    if rng.random() < 0.9:
        document["nlu"] = [_nlu_item(rng) for _ in range(rng.randint(0, 5))]
    if rng.random() < 0.3:
        document["responses"] = {
            f"utter_{_plain_words(rng)}": [{"text": random_text(rng), **({"custom": random_value(rng)}
                                            if rng.random() < 0.3 else {})}]
            for _ in range(rng.randint(0, 2))
        }
    for section, title in (("stories", "story"), ("rules", "rule")):
        if rng.random() < 0.2:
            document[section] = [
                {title: _plain_words(rng), "steps": [_step(rng) for _ in range(rng.randint(0, 4))]}
                for _ in range(rng.randint(0, 2))
            ]
    if rng.random() < 0.03:
        document[rng.choice(["nluu", "intents", "pipeline", 5])] = random_value(rng)
    if rng.random() < 0.03:
        return random_value(rng)
    return document


def structure_document(rng: random.Random) -> str:
    """:func:`random_structure` dumped with a random YAML style."""
    return yaml.dump(
        random_structure(rng),
        Dumper=yaml.SafeDumper,
        allow_unicode=rng.random() < 0.7,
        default_flow_style=rng.choice([False, True, None]),
        width=rng.choice([20, 80, 10**6]),
        sort_keys=False,
    )


# --- documents from tokens -----------------------------------------------------------------------


def token_document(rng: random.Random) -> str:
    """Raw YAML lines put together from tokens, keys and text at random indentation."""
    lines = []
    for _ in range(rng.randint(1, 12)):
        indent = " " * rng.choice([0, 0, 2, 4, 6, 1, 3])
        tokens = [rng.choice(YAML_TOKENS) if rng.random() < 0.7 else random_text(rng, 2)
                  for _ in range(rng.randint(1, 4))]
        lines.append(indent + " ".join(tokens))
    return "\n".join(lines) + rng.choice(["", "\n"])


def injected_document(rng: random.Random) -> str:
    """:data:`VALID_DOCUMENT` with tokens spliced in at line starts, line ends or anywhere."""
    lines = VALID_DOCUMENT.split("\n")
    for _ in range(rng.randint(1, 3)):
        index = rng.randrange(len(lines))
        token = rng.choice(YAML_TOKENS) if rng.random() < 0.8 else rng.choice(ODD_CHARACTERS + PUNCTUATION)
        line = lines[index]
        roll = rng.random()
        if roll < 0.4:
            lines[index] = line + " " + token
        elif roll < 0.6:
            stripped = line.lstrip()
            lines[index] = line[: len(line) - len(stripped)] + token + " " + stripped
        else:
            cut = rng.randint(0, len(line))
            lines[index] = line[:cut] + token + line[cut:]
    return "\n".join(lines)


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" document: ``width ** levels`` values from a few hundred bytes."""
    lines = ["version: '3.1'", "nlu:", "- intent: greet", "  metadata:",
             "    a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"    a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    lines += ["  examples: |", "    - hi", ""]
    return "\n".join(lines)


def mutate(text: str, rng: random.Random) -> str:
    """``text`` with a few random edits: deletions, duplications, swaps and insertions."""
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        if not chars:
            chars = list(rng.choice(YAML_TOKENS))
        index = rng.randrange(len(chars))
        roll = rng.random()
        if roll < 0.3:
            del chars[index : index + rng.randint(1, 5)]
        elif roll < 0.5:
            chars[index:index] = chars[index : index + rng.randint(1, 20)]
        elif roll < 0.7:
            other = rng.randrange(len(chars))
            chars[index], chars[other] = chars[other], chars[index]
        else:
            chars[index:index] = list(rng.choice(YAML_TOKENS + ODD_CHARACTERS + PUNCTUATION))
    return "".join(chars)


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "structure": structure_document,
    "tokens": token_document,
    "injected": injected_document,
}


def random_document(rng: random.Random) -> str:
    """A document from any generator; a quarter of them mutated afterwards."""
    text = rng.choice(list(GENERATORS.values()))(rng)
    return mutate(text, rng) if rng.random() < 0.25 else text


# --- checks ------------------------------------------------------------------------------------------------


def _normal(value: Any) -> str:
    """A comparable form of metadata-like values (NaN equals NaN)."""
    return json.dumps(value, sort_keys=True, default=repr, ensure_ascii=False)


def _example_key(message: Message | None) -> Any:
    if message is None:
        return None
    entities = [(e.start, e.end, e.value, e.entity, e.role, e.group) for e in message.entities]
    return (message.text, message.intent, message.intent_response_key, entities, _normal(message.metadata))


def assert_same_data(first: TrainingData, second: TrainingData) -> None:
    """Assert that two readings hold the same data (sources, warnings and file lines aside)."""
    assert [_example_key(m) for m in first.training_examples] == [_example_key(m) for m in second.training_examples]
    assert first.entity_synonyms == second.entity_synonyms
    assert first.regex_features == second.regex_features
    assert first.lookup_tables == second.lookup_tables
    assert _normal(first.responses) == _normal(second.responses)
    assert _normal(first.intent_metadata) == _normal(second.intent_metadata)
    # An intent with two empty blocks is written once.
    assert list(dict.fromkeys(n for n, _ in first.empty_intents)) == list(dict.fromkeys(n for n, _ in second.empty_intents))
    assert len(first.stories) == len(second.stories)
    for one, two in zip(first.stories, second.stories):
        assert (one.name, one.is_rule, _normal(one.metadata), _normal(one.extra)) == (
            two.name, two.is_rule, _normal(two.metadata), _normal(two.extra))
        assert _steps_key(one.condition) == _steps_key(two.condition)
        assert _steps_key(one.steps) == _steps_key(two.steps)


def _steps_key(steps: list) -> Any:
    return [
        (s.kind, _normal(s.value), _normal(s.entities), _normal(s.extra), _steps_key(s.alternatives),
         _example_key(s.message))
        for s in steps
    ]


def read_outcome(text: str, *, round_trip: bool = True) -> str:
    """``"ok"`` if ``text`` reads (and round-trips), ``"error"`` for an IntentlyError; anything else raises."""
    try:
        data = read_yaml_string(text, "fuzz.yml")
    except IntentlyError:
        return "error"
    data.fingerprint()
    validate_training_data(data)
    if round_trip:
        written = dump_yaml(data)
        again = read_yaml_string(written, "written.yml")
        assert_same_data(data, again)
        assert dump_yaml(again) == written
    return "ok"


def strategy(generator: Callable[[random.Random], Any]) -> Any:
    """A Hypothesis strategy of ``generator(rng)`` (needs Hypothesis installed)."""
    from hypothesis import strategies as st

    return st.randoms(use_true_random=False).map(generator)
