"""``stories:`` and ``rules:`` (Rasa 3.x YAML) into :class:`Story` and :class:`StoryStep`.

intently is an NLU library, so stories are read to be kept (for tools that
need them and for test stories, whose ``user:`` steps are labelled examples),
not to train dialogue policies. How each step is stored:

===================  ==========  ==================================================
step                 ``kind``    fields
===================  ==========  ==================================================
``intent: x``        intent      ``value`` = ``x``; ``entities`` = the listed entities
``user: text``       user        ``value`` = the text as written (annotations kept),
                                 ``message`` = the parsed :class:`Message`,
                                 ``extra["intent"]`` = the intent if given
``action: a``        action      ``value`` = ``a``
``bot: text``        bot         ``value`` = the text
``active_loop: f``   active_loop ``value`` = ``f`` (None for ``null``)
``slot_was_set:``    slot_was_set ``value`` = the list as written (``{slot: value}``
                                 mappings and bare slot names)
``checkpoint: c``    checkpoint  ``value`` = ``c``; ``extra["slot_was_set"]`` if given
``or:``              or          ``alternatives`` = the steps
===================  ==========  ==================================================

A step's ``metadata`` goes to ``extra["metadata"]``. Rules keep ``condition``
in :attr:`Story.condition` and ``conversation_start`` / ``wait_for_user_input``
in :attr:`Story.extra`. Entities listed on an intent step are stored as
``{"entity": name, "value": value, "role": ..., "group": ...}`` (a bare name
as ``{"entity": name}``).
"""

from __future__ import annotations

from typing import Any

import yaml

from intently.message import Message, SourceLocation
from intently.training_data.entities import parse_annotated_text
from intently.training_data.model import Story, StoryStep
from intently.training_data.nodes import (
    NodeContext,
    describe,
    is_null,
    split_retrieval_intent,
    unknown_key_hint,
)

STORY_KEYS = ("story", "metadata", "steps")
RULE_KEYS = ("rule", "metadata", "steps", "condition", "conversation_start", "wait_for_user_input")

# The keys allowed together in one step, by the step's kind.
STEP_KEYS: dict[str, tuple[str, ...]] = {
    "user": ("intent", "user", "entities", "metadata"),
    "action": ("action", "metadata"),
    "bot": ("bot", "metadata"),
    "active_loop": ("active_loop", "metadata"),
    "slot_was_set": ("slot_was_set", "metadata"),
    "checkpoint": ("checkpoint", "slot_was_set", "metadata"),
    "or": ("or", "metadata"),
}
_PRIMARY_KEYS = ("intent", "user", "action", "bot", "active_loop", "slot_was_set", "checkpoint", "or")

_STEP_HINT = "each step is one '- ' item, e.g. '- intent: greet' or '- action: utter_greet'"


def read_stories(ctx: NodeContext, node: yaml.Node, *, is_rule: bool) -> list[Story]:
    """The stories (or rules) of a ``stories:`` (``rules:``) node."""
    return _StoryReader(ctx, is_rule).read(node)


class _StoryReader:
    def __init__(self, ctx: NodeContext, is_rule: bool) -> None:
        self.ctx = ctx
        self.is_rule = is_rule
        self.title = "rule" if is_rule else "story"
        self.section = "rules" if is_rule else "stories"

    def read(self, node: yaml.Node) -> list[Story]:
        ctx = self.ctx
        valid = RULE_KEYS if self.is_rule else STORY_KEYS
        stories: list[Story] = []
        for item in ctx.sequence(node, self.section, f"write {self.section}: as a list of '- {self.title}: name' items"):
            items = ctx.mapping_items(item, f"a {self.title}", f"start each item with '- {self.title}: name'")
            fields: dict[str, yaml.Node] = {}
            for key, key_node, value in items:
                if key not in valid:
                    raise ctx.error(key_node, f"unknown key '{key}' in a {self.title}", unknown_key_hint(key, valid))
                fields[key] = value
            if self.title not in fields:
                raise ctx.error(
                    item,
                    f"a {self.title} has no '{self.title}:' name",
                    f"start each item with '- {self.title}: name'; its 'steps:' belong in the same item "
                    f"(indented under the name)",
                )
            name = ctx.name(fields[self.title], f"the {self.title} name")
            line = item.start_mark.line + 1
            steps_node = fields.get("steps")
            steps = self._steps(steps_node, allowed=None) if steps_node is not None else []
            if not steps:
                ctx.warn(line, f"{self.title} '{name}' has no steps and is skipped")
                continue
            story = Story(name=name, steps=steps, is_rule=self.is_rule, source=SourceLocation(ctx.file, line))
            if not is_null(fields.get("metadata")):
                metadata = ctx.to_python(fields["metadata"])
                if not isinstance(metadata, dict):
                    raise ctx.error(fields["metadata"], f"the metadata of a {self.title} must be a mapping")
                story.metadata = metadata
            if "condition" in fields:
                story.condition = self._steps(fields["condition"], allowed=("active_loop", "slot_was_set"))
            for key in ("conversation_start", "wait_for_user_input"):
                if key in fields:
                    story.extra[key] = ctx.boolean(fields[key], key)
            stories.append(story)
        return stories

    # --- steps -------------------------------------------------------------------------------

    def _steps(self, node: yaml.Node, allowed: tuple[str, ...] | None) -> list[StoryStep]:
        ctx = self.ctx
        return [self._step(step, allowed) for step in ctx.sequence(node, "steps", _STEP_HINT)]

    def _step(self, node: yaml.Node, allowed: tuple[str, ...] | None) -> StoryStep:
        ctx = self.ctx
        items = ctx.mapping_items(node, "a step", _STEP_HINT)
        keys = {key: (key_node, value) for key, key_node, value in items}
        kind = _step_kind(keys)
        if kind is None:
            key, key_node, _ = items[0] if items else ("", node, None)
            raise ctx.error(key_node, f"unknown step key '{key}'", unknown_key_hint(key, _PRIMARY_KEYS))
        if allowed is not None and kind not in allowed:
            raise ctx.error(
                node,
                f"a '{_primary_key(kind, keys)}' step is not allowed here",
                f"only {', '.join(allowed)} steps are allowed here",
            )
        valid = STEP_KEYS[kind]
        for key, key_node, _ in items:
            if key not in valid:
                if key in _PRIMARY_KEYS:
                    raise ctx.error(
                        key_node,
                        f"a step cannot have both '{_primary_key(kind, keys)}' and '{key}'",
                        "write each as its own '- ' step",
                    )
                raise ctx.error(key_node, f"unknown key '{key}' in a step", unknown_key_hint(key, valid))
        source = SourceLocation(ctx.file, node.start_mark.line + 1)
        step = getattr(self, f"_{kind}")(keys, source)
        step.source = source
        if "metadata" in keys and not is_null(keys["metadata"][1]):
            step.extra["metadata"] = ctx.to_python(keys["metadata"][1])
        return step

    def _user(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        ctx = self.ctx
        intent = None
        if "intent" in keys:
            intent_node = keys["intent"][1]
            intent = ctx.name(intent_node, "the intent of a step")
            if intent.startswith("/"):
                ctx.warn(source.line, f"the intent '{intent}' starts with '/', which is not needed")
                intent = intent[1:]
        entities = self._entities(keys["entities"][1]) if "entities" in keys else []
        if "user" not in keys:
            return StoryStep(kind="intent", value=intent, entities=entities)
        user_node = keys["user"][1]
        raw = ctx.string(user_node, "the user text").strip()
        if not raw:
            raise ctx.error(user_node, "the user text is empty")
        line, column = ctx.text_start(user_node)
        text, parsed = parse_annotated_text(raw, file=ctx.file, line=line, column=column, warnings=ctx.warnings)
        base, response_key = (None, None)
        if intent is not None:
            base, response_key = split_retrieval_intent(ctx, keys["intent"][1], intent)
        message = Message(
            text=text,
            intent=base,
            intent_response_key=response_key,
            entities=parsed,
            source=SourceLocation(ctx.file, line),
        )
        extra = {"intent": intent} if intent is not None else {}
        return StoryStep(kind="user", value=raw, message=message, entities=entities, extra=extra)

    def _entities(self, node: yaml.Node) -> list[dict[str, Any]]:
        ctx = self.ctx
        hint = "list entities as '- entity_name: value' or '- entity_name'"
        result: list[dict[str, Any]] = []
        for item in ctx.sequence(node, "entities", hint):
            if isinstance(item, yaml.ScalarNode) and not is_null(item):
                result.append({"entity": ctx.name(item, "an entity name", hint)})
                continue
            entity: dict[str, Any] = {}
            for key, key_node, value in ctx.mapping_items(item, "an entity", hint):
                if key in ("role", "group"):
                    entity[key] = ctx.string(value, f"the {key} of an entity", hint)
                elif "entity" in entity:
                    raise ctx.error(key_node, f"an entity item names two entities: '{entity['entity']}' and '{key}'", hint)
                else:
                    entity["entity"] = key
                    entity["value"] = ctx.to_python(value)
            if "entity" not in entity:
                raise ctx.error(item, "an entity item has a role or group but no entity name", hint)
            # Keep Rasa's key order: entity, value, role, group.
            result.append({k: entity[k] for k in ("entity", "value", "role", "group") if k in entity})
        return result

    def _action(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        return StoryStep(kind="action", value=self.ctx.name(keys["action"][1], "the action name"))

    def _bot(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        text = self.ctx.string(keys["bot"][1], "the bot text").strip()
        if not text:
            raise self.ctx.error(keys["bot"][1], "the bot text is empty")
        return StoryStep(kind="bot", value=text)

    def _active_loop(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        node = keys["active_loop"][1]
        value = None if is_null(node) else self.ctx.name(node, "the active loop (form) name")
        return StoryStep(kind="active_loop", value=value)

    def _slot_was_set(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        return StoryStep(kind="slot_was_set", value=self._slots(keys["slot_was_set"][1]))

    def _slots(self, node: yaml.Node) -> list[Any]:
        ctx = self.ctx
        hint = "list slots as '- slot_name: value' (or '- slot_name' when the value does not matter)"
        slots: list[Any] = []
        for item in ctx.sequence(node, "slot_was_set", hint):
            if isinstance(item, yaml.ScalarNode) and not is_null(item):
                slots.append(ctx.name(item, "a slot name", hint))
            elif isinstance(item, yaml.MappingNode):
                ctx.mapping_items(item, "a slot", hint)
                slots.append(ctx.to_python(item))
            else:
                raise ctx.error(item, f"a slot must be 'name: value' or a name, not {describe(item)}", hint)
        return slots

    def _checkpoint(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        step = StoryStep(kind="checkpoint", value=self.ctx.name(keys["checkpoint"][1], "the checkpoint name"))
        if "slot_was_set" in keys:
            step.extra["slot_was_set"] = self._slots(keys["slot_was_set"][1])
        return step

    def _or(self, keys: dict[str, tuple[yaml.Node, yaml.Node]], source: SourceLocation) -> StoryStep:
        node = keys["or"][1]
        alternatives = self._steps(node, allowed=("user", "slot_was_set"))
        if not alternatives:
            raise self.ctx.error(node, "an 'or' step has no alternatives", "list '- intent: ...' steps under 'or:'")
        return StoryStep(kind="or", alternatives=alternatives)


def _step_kind(keys: dict[str, Any]) -> str | None:
    """The kind of a step from its keys (the checkpoint may carry slot_was_set)."""
    if "checkpoint" in keys:
        return "checkpoint"
    if "intent" in keys or "user" in keys:
        return "user"
    for key in ("or", "action", "bot", "active_loop", "slot_was_set"):
        if key in keys:
            return key
    return None


def _primary_key(kind: str, keys: dict[str, Any]) -> str:
    if kind == "user":
        return "user" if "user" in keys else "intent"
    return kind
