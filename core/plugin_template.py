"""``intently plugin new``: a pip-installable plugin package to start from.

:func:`write_plugin` writes::

    NAME/
      pyproject.toml            the distribution, its `intently` entry point, a `test` extra
      README.md
      src/MODULE/__init__.py
      src/MODULE/extractor.py   one component: an entity extractor that finds again the entity
                                values annotated in the training data (every lifecycle hook)
      src/MODULE/plugin.py      the entry point's module: register_components(register)
      tests/test_extractor.py   the conformance kit (one test per check) and a behaviour test

The package installs with ``pip install ./NAME`` and passes its own tests as written
(``tests/test_plugin_new.py`` installs and tests a generated one); ``examples/third_party_plugin``
shares its ``pyproject.toml`` and ``plugin.py`` (a test keeps them in step).
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path

import attrs

from intently.errors import UsageError

_DISTRIBUTION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


@attrs.frozen
class PluginNames:
    """The names a new plugin package uses, derived from its distribution name."""

    distribution: str
    module: str
    entry_point: str
    component: str

    @classmethod
    def from_name(cls, name: str, component: str | None = None) -> PluginNames:
        """``intently-drinks`` -> module ``intently_drinks``, entry point ``drinks``, ``DrinksEntityExtractor``."""
        if not _DISTRIBUTION.match(name):
            raise UsageError(
                f"{name!r} is not a valid distribution name",
                hint="use letters, digits, '-', '_' and '.', starting and ending with a letter or digit "
                "(for example intently-drinks)",
            )
        module = re.sub(r"[-_.]+", "_", name).lower()
        if not module.isidentifier() or keyword.iskeyword(module):
            raise UsageError(
                f"{name!r} does not make a Python module name ({module!r})",
                hint="start the name with a letter (for example intently-drinks)",
            )
        short = re.sub(r"^intently_", "", module) or module
        if component is None:
            component = "".join(part.capitalize() for part in short.split("_")) + "EntityExtractor"
        if not component.isidentifier() or keyword.iskeyword(component) or not component[0].isupper():
            raise UsageError(
                f"{component!r} is not a component class name",
                hint="use a Python class name in CamelCase (for example DrinkEntityExtractor)",
            )
        return cls(distribution=name, module=module, entry_point=short, component=component)


def render(names: PluginNames) -> dict[str, str]:
    """Relative path -> text of every file of the package."""
    values = {
        "distribution": names.distribution,
        "module": names.module,
        "entry_point": names.entry_point,
        "component": names.component,
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{names.module}/__init__.py": INIT,
        f"src/{names.module}/extractor.py": EXTRACTOR,
        f"src/{names.module}/plugin.py": PLUGIN,
        "tests/test_extractor.py": TESTS,
    }
    return {path: text.format(**values) for path, text in files.items()}


def write_plugin(name: str, directory: str | os.PathLike[str] = ".", *, component: str | None = None) -> Path:
    """Write the package ``name`` into ``directory/name``; returns its folder.

    The files are written into a temporary folder beside the target, which is then renamed
    into place, so an interrupted run leaves no half-written package.

    Raises:
        UsageError: an invalid name, or the target exists.
    """
    names = PluginNames.from_name(name, component)
    parent = Path(directory)
    target = parent / name
    if target.exists():
        raise UsageError(f"{target} already exists", hint="choose another name or --dir, or remove it first")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent))
    try:
        for relative, text in render(names).items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.chmod(staging, 0o755)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


# --- the templates (str.format: literal braces are doubled) ---------------------------------------

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "An intently plugin: {component}."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["intently"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# This one table is all it takes to plug a component into intently.
[project.entry-points.intently]
{entry_point} = "{module}.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# {distribution}

An intently plugin with one component, `{component}`: an entity extractor that finds again,
in new messages, the entity values annotated in the training data (longest match first,
whole words in scripts that have them, any text in Chinese or Japanese).

    pip install -e ".[test]"
    python -m pytest              # the conformance kit, one test per check, and its own tests
    intently components           # lists {component} ({distribution} 0.1.0)

Use it in `config.yml` like any built-in component:

    pipeline:
      - name: WhitespaceTokenizer
      - name: CountVectorsFeaturizer
      - name: LogisticRegressionClassifier
      - name: {component}
        case_sensitive: false   # match regardless of case (default)
        min_length: 2           # ignore annotated values shorter than this (default 2)

How it plugs in: `pyproject.toml` names the module `{module}.plugin` under the
entry-point group `intently`; that module implements the hook
`register_components(register)`. The component is in `src/{module}/extractor.py`:
change it, and the tests in `tests/` tell you whether it still keeps the component contract.
"""

INIT = """\
\"\"\"{distribution}: an intently plugin.\"\"\"

from {module}.extractor import {component}

__all__ = ["{component}"]
__version__ = "0.1.0"
"""

PLUGIN = """\
\"\"\"The plugin module named by the ``intently`` entry point.\"\"\"

from intently import hookimpl

from {module}.extractor import {component}


@hookimpl
def register_components(register):
    \"\"\"Register {component} with intently.\"\"\"
    register({component})
"""

EXTRACTOR = """\
\"\"\"{component}: finds the entity values annotated in the training data again.\"\"\"

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from intently import Component, Entity, Message
from intently.component import ENTITIES
from intently.params import Bool, Int, Param
from intently.persistence import load_json_state, reading_state, save_json_state

FORMAT_VERSION = 1


def _is_word_char(char: str) -> bool:
    \"\"\"Letters and digits of scripts written with spaces (a word boundary is checked next to them).\"\"\"
    return char.isascii() and char.isalnum()


class {component}(Component):
    \"\"\"Finds the entity values annotated in the training data again in new messages.\"\"\"

    # Every config key, once: its default, what it allows and what it does (intently.params).
    # An unknown key or a value it does not allow is refused before training; `intently
    # components {component}` shows them, and the conformance kit checks them.
    params = {{
        "case_sensitive": Param(False, Bool(), "match values with their case"),
        "min_length": Param(2, Int(1), "values shorter than this are not learned"),
    }}
    requires = ()
    provides = (ENTITIES,)

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        #: value as matched (lower-cased unless case_sensitive) -> (entity type, value as annotated)
        self.values: dict[str, tuple[str, str]] = {{}}

    def _key(self, text: str) -> str:
        return text if self.config["case_sensitive"] else text.lower()

    def train(self, training_data: Any, config: Any, **context: Any) -> None:
        # When finetuning, self.values holds what the base model learned: new values are added.
        for example in training_data.training_examples:
            for entity in example.entities:
                surface = example.text[entity.start : entity.end]
                if len(surface) >= self.config["min_length"]:
                    self.values[self._key(surface)] = (entity.entity, surface)

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        longest_first = sorted(self.values, key=lambda value: (-len(value), value))
        for message in messages:
            text = self._key(message.text)
            taken = [False] * len(text)
            found = []
            for value in longest_first:
                start = text.find(value)
                while start != -1:
                    end = start + len(value)
                    if not any(taken[start:end]) and self._whole_word(text, start, end):
                        taken[start:end] = [True] * (end - start)
                        entity_type, _ = self.values[value]
                        found.append(Entity(start=start, end=end, value=message.text[start:end], entity=entity_type,
                                            confidence=1.0, extractor=self.component_name()))
                    start = text.find(value, start + 1)
            message.entities.extend(sorted(found, key=lambda entity: entity.start))

    @staticmethod
    def _whole_word(text: str, start: int, end: int) -> bool:
        before = start == 0 or not (_is_word_char(text[start - 1]) and _is_word_char(text[start]))
        after = end == len(text) or not (_is_word_char(text[end - 1]) and _is_word_char(text[end]))
        return before and after

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any]:
        # JSON only: a model archive must never hold a pickle.
        state = {{"values": [[value, entity_type, surface] for value, (entity_type, surface) in self.values.items()]}}
        return {{"values_file": save_json_state(model_dir, f"{{file_name}}.json", state, FORMAT_VERSION)}}

    @classmethod
    def load(cls, meta: Any, model_dir: Path, *, finetune: bool = False, **context: Any) -> {component}:
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        file_name = (meta.get("meta") or {{}}).get("values_file")
        with reading_state(instance, file_name):
            state = load_json_state(model_dir, file_name, FORMAT_VERSION)
            instance.values = {{str(value): (str(entity_type), str(surface))
                               for value, entity_type, surface in state["values"]}}
        return instance
"""

TESTS = """\
\"\"\"{component} keeps the component contract and finds what it learned.\"\"\"

import intently
from intently import Entity, Message
from intently.testing import ComponentCase, parametrize_with_checks

from {module} import {component}


def training_data() -> intently.TrainingData:
    def example(text, intent, *values):
        entities = [Entity(start=text.index(v), end=text.index(v) + len(v), value=v, entity=e) for v, e in values]
        return Message(text, intent=intent, entities=entities)

    return intently.TrainingData(training_examples=[
        example("a flat white please", "order", ("flat white", "drink")),
        example("one green tea to go", "order", ("green tea", "drink")),
        example("我想喝咖啡", "order", ("咖啡", "drink")),
        example("来一杯绿茶", "order", ("绿茶", "drink")),
        example("where is the shop", "ask_location"),
        example("你们店在哪里", "ask_location"),
    ])


CASE = ComponentCase(
    {component},
    training_data(),
    texts=["Two Flat Whites and a green tea", "咖啡和绿茶各一杯", "where are you", "", "tea"],
)


# One test per conformance check. A check your component does not pass yet can be marked
# with the reason: parametrize_with_checks([CASE], expected_failures={{"check_finetune": "why"}}).
@parametrize_with_checks([CASE])
def test_conformance(case, check):
    check(case)


def test_it_finds_the_values_it_was_trained_on():
    interpreter = CASE.trained()
    found = [(e["value"], e["entity"], e["start"]) for e in interpreter.parse("咖啡和绿茶各一杯")["entities"]]
    assert found == [("咖啡", "drink", 0), ("绿茶", "drink", 3)]
    english = interpreter.parse("Two Flat Whites and a green tea")["entities"]
    assert [e["value"] for e in english] == ["green tea"]  # "Flat Whites" is not the word "flat white"
"""
