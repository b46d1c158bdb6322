"""Reading YAML safely, with errors that name the file, line and column.

Every YAML file intently reads (training data, ``config.yml``) goes through
:func:`compose_yaml`, which composes the node tree with libyaml and then
checks it before anything else looks at it:

* **Scalars follow the YAML 1.2 core schema** (as Rasa's reader does):
  ``true``/``false`` are booleans, ``null``/``~``/empty is null, ``12``,
  ``0o14``, ``0xC`` are integers, ``1.5``, ``1e3``, ``.inf`` are numbers;
  everything else is text — ``yes``, ``no``, ``on``, ``2001-12-14`` (dates
  are text, not dates), ``1_000``, ``012``. Mapping keys are always read as
  the text written (``1: x`` has the key ``"1"``), so every mapping can be
  written as JSON.
* **Tags**: only the core tags ``!!str``, ``!!int``, ``!!float``, ``!!bool``,
  ``!!null``, ``!!map``, ``!!seq`` are allowed, and a tagged value must be of
  its type (``!!float abc`` is an error). Any other tag (``!!timestamp``,
  ``!!binary``, ``!!set``, ``!!python/...``, ``!custom``) is an error: no
  tag ever builds an object or runs code.
* **Merge keys** (``<<: *base``) are supported; their value must be a mapping
  or a list of mappings.
* **Aliases** are bounded: a value may not contain itself (``&m {k: *m}``),
  and aliases may add at most :data:`ALIAS_EXTRA_NODES` values to a document
  (or as many as the document itself has, if that is more) — a "billion
  laughs" document is refused instead of expanding to gigabytes. Nesting,
  counted through aliases, is limited to :data:`MAX_DEPTH` levels.

Every problem is raised as the caller's :class:`~intently.errors.IntentlyError`
subclass (:class:`~intently.errors.YamlSyntaxError` by default).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from intently.errors import IntentlyError, YamlSyntaxError

ALIAS_EXTRA_NODES = 100_000
"""The values aliases may add to a document (or the document's own size, if larger)."""

MAX_DEPTH = 100
"""The deepest nesting of lists and mappings allowed (counted through aliases)."""

STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), plus "<<".
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_NULL = re.compile(r"~|null|Null|NULL|")
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_MERGE = re.compile(r"<<")
_SCALAR_FORMS = {BOOL_TAG: _BOOL, NULL_TAG: _NULL, INT_TAG: _INT, FLOAT_TAG: _FLOAT}
_SCALAR_WORDS = {BOOL_TAG: "true or false", NULL_TAG: "null", INT_TAG: "an integer", FLOAT_TAG: "a number"}
_SCALAR_TAGS = frozenset({STR_TAG, NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG, MERGE_TAG})
_SURROGATE = re.compile("[\ud800-\udfff]")
_INT_DIGITS = 4000  # Python refuses to convert longer decimal strings

_TAG_HINT = (
    "remove the tag; only the core tags !!str, !!int, !!float, !!bool, !!null, !!map "
    "and !!seq are allowed (write a date or any other value as text)"
)
_ALIAS_HINT = "write the values out instead of repeating them through aliases (*name)"

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _add_core_resolvers(cls: Any) -> None:
    cls.add_implicit_resolver(BOOL_TAG, re.compile(f"^(?:{_BOOL.pattern})$"), list("tTfF"))
    cls.add_implicit_resolver(INT_TAG, re.compile(f"^(?:{_INT.pattern})$"), list("-+0123456789"))
    cls.add_implicit_resolver(FLOAT_TAG, re.compile(f"^(?:{_FLOAT.pattern})$"), list("-+0123456789."))
    cls.add_implicit_resolver(MERGE_TAG, re.compile(r"^(?:<<)$"), ["<"])
    cls.add_implicit_resolver(NULL_TAG, re.compile(f"^(?:{_NULL.pattern})$"), ["~", "n", "N", ""])


class CoreLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """libyaml's safe loader with the YAML 1.2 core schema's implicit types (no dates, no ``yes``)."""

    yaml_implicit_resolvers: dict = {}


_add_core_resolvers(CoreLoader)


class SafeDumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """libyaml's safe dumper that quotes every string a YAML 1.1 *or* 1.2 reader would not read as text.

    So ``"1e3"``, ``"yes"`` and ``"2001-12-14"`` are quoted, and what is
    written reads back the same here, in Rasa and in YAML 1.1 tools.
    """

    yaml_implicit_resolvers = {key: list(value) for key, value in _BaseDumper.yaml_implicit_resolvers.items()}


_add_core_resolvers(SafeDumper)

# Kept for callers of the old name.
SafeLoader = CoreLoader


# --- reading -------------------------------------------------------------------------------


def read_text(path: str | PathLike[str], error_class: type[IntentlyError] = YamlSyntaxError) -> str:
    """A file's text as UTF-8 (a BOM is dropped), with a clear error if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise error_class(
            f"file is not valid UTF-8 (byte {error.start})",
            file=path,
            hint="save the file with UTF-8 encoding",
        ) from error
    except OSError as error:
        raise error_class(f"cannot read file: {error.strerror or error}", file=path) from error


def _syntax_error(error: yaml.YAMLError, text: str, file: str, error_class: type[IntentlyError]) -> IntentlyError:
    if isinstance(error, yaml.reader.ReaderError):
        # libyaml counts the position in UTF-8 bytes.
        before = text.encode("utf-8", "surrogatepass")[: error.position].decode("utf-8", "ignore")
        line = before.count("\n") + 1
        column = len(before) - before.rfind("\n")
        return error_class(
            f"invalid YAML: {error.reason} (character {error.character!r})"
            if isinstance(error.character, str)
            else f"invalid YAML: {error.reason}",
            file=file,
            line=line,
            column=column,
            hint="remove the control character, or write it as an escape (\\x01) inside double quotes",
        )
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    return error_class(
        message,
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
        hint=YamlSyntaxError.default_hint,
    )


def compose_yaml(
    text: str, file: str = "<string>", error_class: type[IntentlyError] = YamlSyntaxError
) -> yaml.Node | None:
    """Parse YAML text into a checked node tree that keeps line and column marks.

    Raises ``error_class`` for a syntax error, a tag that is not allowed, a
    recursive alias, an alias expansion beyond the budget or too deep nesting.
    """
    try:
        root = yaml.compose(text, Loader=CoreLoader)
    except yaml.YAMLError as error:
        raise _syntax_error(error, text, file, error_class) from error
    except UnicodeEncodeError as error:
        raise error_class(
            f"the text has an invalid character {text[error.start]!r} (a lone surrogate)",
            file=file,
            hint="the text must be valid Unicode",
        ) from error
    except RecursionError as error:  # the pure-Python composer on deep nesting
        raise error_class(f"the YAML is nested too deeply (more than {MAX_DEPTH} levels)", file=file) from error
    if root is not None:
        check_nodes(root, file, error_class)
    return root


def load_yaml(text: str, file: str = "<string>", error_class: type[IntentlyError] = YamlSyntaxError) -> Any:
    """Parse YAML text into Python objects (see the module docstring for the rules)."""
    root = compose_yaml(text, file, error_class)
    return None if root is None else construct(root, file, error_class)


def read_yaml_file(path: str | PathLike[str], error_class: type[IntentlyError] = YamlSyntaxError) -> Any:
    """Read a YAML file into Python objects."""
    return load_yaml(read_text(path, error_class), str(path), error_class)


# --- checks ------------------------------------------------------------------------------------


def _node_error(
    node: yaml.Node, file: str, error_class: type[IntentlyError], message: str, hint: str | None = None
) -> IntentlyError:
    mark = node.start_mark
    return error_class(message, file=file, line=mark.line + 1, column=mark.column + 1, hint=hint)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    return []


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def _check_node(node: yaml.Node, file: str, error_class: type[IntentlyError]) -> None:
    """One node's tag and, for tagged scalars, that the value fits the tag."""
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag not in _SCALAR_TAGS:
            raise _node_error(node, file, error_class, f"the tag {_short_tag(tag)} is not allowed", _TAG_HINT)
        form = _SCALAR_FORMS.get(tag)
        if form is not None and not form.fullmatch(node.value):
            raise _node_error(
                node, file, error_class,
                f"{node.value!r} is not {_SCALAR_WORDS[tag]} (it is tagged {_short_tag(tag)})",
                "remove the tag, or write a value of its type",
            )
        if tag == INT_TAG and len(node.value) > _INT_DIGITS:
            raise _node_error(node, file, error_class, f"an integer of {len(node.value)} digits is too long")
        if node.style == '"' and _SURROGATE.search(node.value):
            raise _node_error(node, file, error_class, "a string has an invalid \\u escape (a lone surrogate)")
        return
    if isinstance(node, yaml.SequenceNode) and tag != SEQ_TAG:
        raise _node_error(node, file, error_class, f"the tag {_short_tag(tag)} is not allowed on a list", _TAG_HINT)
    if isinstance(node, yaml.MappingNode):
        if tag != MAP_TAG:
            raise _node_error(
                node, file, error_class, f"the tag {_short_tag(tag)} is not allowed on a mapping", _TAG_HINT
            )
        for key, value in node.value:
            if key.tag == MERGE_TAG:
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise _node_error(
                            source, file, error_class,
                            "the merge key '<<' needs a mapping or a list of mappings (usually an alias such as *base)",
                            "write '<<: *name' where '&name' marks a mapping, or quote '<<' if it is meant as a key",
                        )


def check_nodes(root: yaml.Node, file: str, error_class: type[IntentlyError] = YamlSyntaxError) -> None:
    """Check a composed tree: tags, merge keys, recursive aliases, alias expansion, nesting depth.

    One pass over the distinct nodes (aliases share nodes, so a node reached
    again was reached through an alias); the size and height of every subtree
    are kept, so the cost of an alias is known without expanding it.
    """
    sizes: dict[int, int] = {}
    heights: dict[int, int] = {}
    on_path: set[int] = set()
    alias_extra = 0
    largest: tuple[int, yaml.Node | None] = (0, None)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, leaving = stack.pop()
        key = id(node)
        if leaving:
            on_path.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            heights[key] = 1 + max((heights[id(child)] for child in children), default=0)
            continue
        if key in sizes:  # reached again: an alias
            size = sizes[key]
            alias_extra += size
            if size > largest[0]:
                largest = (size, node)
            if depth - 1 + heights[key] > MAX_DEPTH:
                raise _node_error(
                    node, file, error_class,
                    f"through aliases, the value anchored here is nested more than {MAX_DEPTH} levels deep",
                    _ALIAS_HINT,
                )
            continue
        if key in on_path:
            raise _node_error(
                node, file, error_class,
                "a recursive alias: the value anchored here contains an alias to itself",
                "an alias (*name) cannot be used inside the value its anchor (&name) marks",
            )
        if depth > MAX_DEPTH:
            raise _node_error(
                node, file, error_class, f"the YAML is nested more than {MAX_DEPTH} levels deep",
                "flatten the structure",
            )
        _check_node(node, file, error_class)
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1
            heights[key] = 0
            continue
        on_path.add(key)
        stack.append((node, depth, True))
        for child in reversed(_children(node)):
            stack.append((child, depth + 1, False))
    budget = max(ALIAS_EXTRA_NODES, len(sizes))
    if alias_extra > budget:
        node = largest[1] or root
        raise _node_error(
            node, file, error_class,
            f"aliases expand the document by {alias_extra:,} values, more than the {budget:,} allowed "
            f"(the value anchored here alone has {largest[0]:,})",
            _ALIAS_HINT,
        )


# --- building Python values -------------------------------------------------------------------


def mapping_pairs(
    node: yaml.MappingNode, error: Callable[[yaml.Node, str, str | None], IntentlyError]
) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's ``(key, value)`` nodes with merge keys (``<<``) resolved.

    The mapping's own keys win over merged ones, and an earlier merged
    mapping over a later one (the YAML merge-key rules); a duplicate among the
    mapping's own keys is an error raised through ``error(node, message, hint)``.
    The node tree is not changed.
    """
    own: list[tuple[yaml.Node, yaml.Node]] = []
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    seen: set[str] = set()
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    raise error(source, "the merge key '<<' needs a mapping or a list of mappings", None)
                merged.extend(mapping_pairs(source, error))
            continue
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                raise error(key, f"duplicate key '{key.value}'", "each key may appear only once; merge the two entries")
            seen.add(key.value)
        own.append((key, value))
    if not merged:
        return own
    result: list[tuple[yaml.Node, yaml.Node]] = []
    for key, value in merged:
        if isinstance(key, yaml.ScalarNode):
            if key.value in seen:
                continue
            seen.add(key.value)
        result.append((key, value))
    return result + own


def scalar_value(node: yaml.ScalarNode) -> Any:
    """The Python value of a checked scalar node (see :func:`check_nodes`)."""
    tag = node.tag
    value = node.value
    if tag == NULL_TAG:
        return None
    if tag == BOOL_TAG:
        return value.lower() == "true"
    if tag == INT_TAG:
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)
    if tag == FLOAT_TAG:
        lowered = value.lower()
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        if lowered == ".nan":
            return float("nan")
        return float(value)
    return value


def construct(node: yaml.Node, file: str = "<string>", error_class: type[IntentlyError] = YamlSyntaxError) -> Any:
    """The Python value of a node checked by :func:`check_nodes`: dicts with text keys, lists, scalars."""

    def error(at: yaml.Node, message: str, hint: str | None) -> IntentlyError:
        return _node_error(at, file, error_class, message, hint)

    def build(current: yaml.Node) -> Any:
        if isinstance(current, yaml.ScalarNode):
            try:
                return scalar_value(current)
            except ValueError as problem:
                raise error(current, f"invalid value {current.value!r}: {problem}", None) from problem
        if isinstance(current, yaml.SequenceNode):
            return [build(item) for item in current.value]
        result: dict[str, Any] = {}
        for key, value in mapping_pairs(current, error):
            if not isinstance(key, yaml.ScalarNode):
                raise error(key, "a key must be a plain name, not a list or mapping", None)
            result[key.value] = build(value)
        return result

    return build(node)


class _PlainDumper(yaml.SafeDumper):
    """Writes every value in full: no ``&anchor``/``*alias``, even for values used twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    """``data`` as block-style YAML (keys in their order, Unicode as is, no anchors)."""
    return yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
