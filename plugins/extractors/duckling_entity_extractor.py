"""``DucklingEntityExtractor``: dates, times, numbers, amounts, e-mails... from Duckling.

Rasa 3.6's component, with its config keys and defaults:

``url`` (None)
    a Duckling server, e.g. ``http://localhost:8000``; the environment
    variable ``RASA_DUCKLING_HTTP_URL`` overrides it, as in Rasa.
``dimensions`` (None: all)
    the dimensions to keep (``time``, ``number``, ``amount-of-money``, ...).
``locale`` (None)
    Duckling's locale, ``en_US``, ``de_DE``, ``zh_CN``.
``timezone`` (None: Duckling's default, ``America/Los_Angeles``)
    e.g. ``Europe/Berlin``.
``timeout`` (3)
    seconds to wait for the server.

Each match becomes an entity ``{"entity": <dimension>, "start", "end",
"text", "value", "confidence_entity": 1.0, "confidence": 1.0,
"additional_info": <Duckling's value object>, "extractor":
"DucklingEntityExtractor"}``. ``value`` is Duckling's value (a number, an
ISO-8601 time string, ...), or ``{"from": ..., "to": ...}`` for an interval.
Rasa 3.6 writes the confidence as ``confidence``; it is written under both
names here (``confidence_entity`` is what every other extractor writes).

Relative expressions (``tomorrow``) are resolved against the message's
reference time: ``metadata["time"]`` or ``metadata["timestamp"]`` (seconds
since the epoch, or milliseconds when larger than 10¹¹, or an ISO-8601
string), else now. Rasa reads its ``Message.time`` the same way (seconds);
a value that cannot be read is a warning and the current time is used.

Where it differs from Rasa, on purpose:

* Without ``url`` (and without the environment variable) Duckling runs
  in-process when ``intently[duckling]`` is installed (the
  ``pyduckling-native-phihos`` wheel): no server to run. Rasa extracts
  nothing then, with a warning; here, without either, training stops with
  an error that says what to install.
* A server that cannot be reached, times out or answers an error costs one
  warning per batch of messages, and the rest of that batch is not sent
  (Rasa logs an error per message and waits for each timeout). Parsing goes
  on without Duckling's entities.
* When ``locale`` is not set, the model's ``language`` is sent as
  Duckling's ``lang`` (Rasa 3.6 sends neither, so a server parses every
  language as English).
* A dimension Duckling does not know is an error when Duckling runs
  in-process and a warning with a server (which may define its own).
  An unknown ``timezone`` is an error in-process (Duckling would silently
  use UTC).
* Training does not run Duckling over the training examples (Rasa's
  component is not part of training either).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from intently.component import ENTITIES, Component
from intently.errors import ComponentConfigError
from intently.message import Entity, Message
from intently.params import Either, ListOf, Param, Real, Str, invalid_value
from intently.plugins.extractors.duckling_engines import (
    DIMENSIONS,
    DucklingHttpClient,
    DucklingUnavailable,
    EmbeddedDuckling,
    embedded_available,
)

if TYPE_CHECKING:
    from intently.config import ModelConfig
    from intently.training_data import TrainingData

logger = logging.getLogger(__name__)

#: The environment variable that overrides ``url`` (Rasa's name).
URL_ENVIRONMENT_VARIABLE = "RASA_DUCKLING_HTTP_URL"
#: Metadata keys read, in order, for a message's reference time.
REFERENCE_TIME_KEYS = ("time", "timestamp")
#: A reference time above this is taken to be in milliseconds.
MILLISECONDS_ABOVE = 10**11


class DucklingEntityExtractor(Component):
    """Entities from Duckling (a server at ``url``, or in-process); see the module docstring."""

    params: ClassVar[dict[str, Param]] = {
        "dimensions": Param(None, Either(ListOf(Str()), None),
                            "the dimensions to keep (time, number, amount-of-money, ...; null: all)",
                            hint=f"for example [time, number]; Duckling knows {', '.join(DIMENSIONS)}"),
        "url": Param(None, Either(Str(), None),
                     "a Duckling server, e.g. http://localhost:8000 (RASA_DUCKLING_HTTP_URL overrides it; "
                     "null: in-process)"),
        "locale": Param(None, Either(Str(), None), "Duckling's locale: en_US, de_DE, zh_CN, ..."),
        "timezone": Param(None, Either(Str(), None),
                          "e.g. Europe/Berlin (null: Duckling's default, America/Los_Angeles)"),
        "timeout": Param(3, Real(0, None, closed="neither"), "seconds to wait for the server"),
    }
    requires = ()
    provides = (ENTITIES,)
    learns_entity_tags = False  # Duckling's rules, not tags learnt from tokens
    reads_features = frozenset()

    def __init__(self, config: dict[str, Any] | None = None, *, unique_name: str | None = None) -> None:
        super().__init__(config, unique_name=unique_name)
        #: The pipeline's language (set by training, restored by loading).
        self.language: str | None = None
        self._clients: dict[str, DucklingHttpClient] = {}
        self._clients_lock = threading.Lock()
        self._warned_unknown_dimensions = False

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if config["url"] is not None:
            try:
                DucklingHttpClient(config["url"], config["timeout"])
            except ValueError as error:
                raise invalid_value(
                    cls.component_name(), "url", config["url"], f"a usable server address ({error})",
                    hint="for example http://localhost:8000",
                ) from None

    # --- where Duckling is -------------------------------------------------------------------------------

    def server_url(self) -> str | None:
        """The server to ask: ``RASA_DUCKLING_HTTP_URL`` if set, else ``url`` (None: in-process)."""
        return os.environ.get(URL_ENVIRONMENT_VARIABLE) or self.config["url"]

    def _client(self, url: str) -> DucklingHttpClient:
        with self._clients_lock:
            client = self._clients.get(url)
            if client is None:
                client = self._clients[url] = DucklingHttpClient(url, self.config["timeout"])
            return client

    def _check_embedded(self) -> None:
        """Fail early (at training or loading) when neither a server nor the in-process engine is there."""
        engine = EmbeddedDuckling.get()  # MissingDependencyError without the extra
        unknown = [d for d in self.config["dimensions"] or () if d not in DIMENSIONS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], DIMENSIONS, n=1)
            raise ComponentConfigError(
                f"{self.unique_name}: Duckling has no dimension {unknown[0]!r}",
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + f"Duckling knows {', '.join(DIMENSIONS)}",
            )
        zone = self.config["timezone"]
        if zone is not None and not engine.knows_timezone(zone):
            raise ComponentConfigError(
                f"{self.unique_name}: unknown timezone {zone!r}",
                hint="use a name of the tz database, e.g. Europe/Berlin or Asia/Shanghai",
            )

    def _prepare(self) -> None:
        url = self.server_url()
        if url is None:
            self._check_embedded()
            logger.info("%s: Duckling runs in-process", self.unique_name)
            return
        unknown = [d for d in self.config["dimensions"] or () if d not in DIMENSIONS]
        if unknown and not self._warned_unknown_dimensions:
            self._warned_unknown_dimensions = True
            logger.warning(
                "%s: %s not among Duckling's own dimensions (%s); only a server that defines them finds them",
                self.unique_name, ", ".join(map(repr, unknown)), ", ".join(DIMENSIONS),
            )
        if embedded_available():
            logger.info("%s: asks the Duckling server at %s (unset url to run Duckling in-process)",
                        self.unique_name, url)

    # --- lifecycle -----------------------------------------------------------------------------------------

    def provide_context(self) -> dict[str, Any] | None:
        """Check, before any component trains, that Duckling can run in-process when there is no server."""
        self._prepare()
        return None

    def train(self, training_data: TrainingData, config: ModelConfig | None = None, **context: Any) -> None:
        """Nothing to learn: remember the language and check that Duckling can be reached in-process if needed.

        The training examples are not annotated (their entities are labels).
        """
        self.language = getattr(config, "language", None)
        self._prepare()

    def process(self, messages: Sequence[Message], **context: Any) -> None:
        """Append Duckling's entities to every message of the batch."""
        if not messages:
            return
        url = self.server_url()
        dims = self.config["dimensions"]
        wanted = set(dims) if dims else None
        form_base = self._form_base()
        for index, message in enumerate(messages):
            if not message.text:
                continue
            form = {**form_base, "text": message.text, "reftime": self._reference_ms(message)}
            try:
                if url is None:
                    matches = EmbeddedDuckling.get().parse(
                        message.text,
                        locale=form["locale"],
                        lang=form["lang"],
                        timezone=form["tz"],
                        reference_ms=form["reftime"],
                        dimensions=dims,
                    )
                else:
                    matches = self._client(url).parse(form)
            except DucklingUnavailable as error:
                logger.warning(
                    "%s: %s; %d message(s) of this batch are parsed without Duckling's entities. "
                    "Start the server (docker run -p 8000:8000 rasa/duckling), fix `url` or %s%s",
                    self.unique_name, error, len(messages) - index, URL_ENVIRONMENT_VARIABLE,
                    ", or unset them to run Duckling in-process" if embedded_available() else "",
                )
                return
            message.entities.extend(self._entities(matches, message.text, wanted))

    def _form_base(self) -> dict[str, Any]:
        locale = self.config["locale"]
        dims = self.config["dimensions"]
        return {
            "locale": locale,
            "lang": None if locale or not self.language else self.language.split("-")[0].split("_")[0],
            "tz": self.config["timezone"],
            "dims": _json_list(dims),
        }

    def _entities(self, matches: list[Any], text: str, wanted: set[str] | None) -> list[Entity]:
        entities = []
        extractor = self.component_name()
        for match in matches:
            try:
                dim, start, end, value = match["dim"], int(match["start"]), int(match["end"]), match["value"]
            except (TypeError, KeyError, ValueError):
                logger.warning("%s: ignored a Duckling match that is not one: %.200r", self.unique_name, match)
                continue
            if wanted is not None and dim not in wanted:
                continue
            if not isinstance(value, dict):
                value = {"value": value}
            if value.get("type") == "interval":
                extracted: Any = {
                    "to": (value.get("to") or {}).get("value"),
                    "from": (value.get("from") or {}).get("value"),
                }
            else:
                extracted = value.get("value")
            entities.append(
                Entity(
                    start=start,
                    end=end,
                    value=extracted,
                    entity=str(dim),
                    confidence=1.0,
                    extractor=extractor,
                    additional_info={
                        "text": match.get("body", text[start:end]),
                        "confidence": 1.0,
                        "additional_info": value,
                    },
                )
            )
        return entities

    def _reference_ms(self, message: Message) -> int:
        """The message's reference time in milliseconds (now when its metadata has none)."""
        metadata = message.metadata if isinstance(message.metadata, dict) else {}
        for key in REFERENCE_TIME_KEYS:
            raw = metadata.get(key)
            if raw is None:
                continue
            parsed = _epoch_ms(raw)
            if parsed is not None:
                return parsed
            logger.warning(
                "%s: cannot read the reference time metadata[%r] = %.60r (seconds since the epoch or "
                "ISO 8601 expected); the current time is used",
                self.unique_name, key, raw,
            )
            break
        return int(time.time() * 1000)

    # --- persistence -----------------------------------------------------------------------------------------

    def persist(self, file_name: str, model_dir: Path) -> dict[str, Any] | None:
        """Record the pipeline's language (sent as Duckling's ``lang`` when no locale is set)."""
        return {"language": self.language}

    @classmethod
    def load(
        cls, meta: dict[str, Any], model_dir: Path, *, finetune: bool = False, **context: Any
    ) -> DucklingEntityExtractor:
        """Restore the language; check that Duckling can run in-process when there is no server."""
        instance = super().load(meta, model_dir, finetune=finetune, **context)
        assert isinstance(instance, cls)
        language = (meta.get("meta") or {}).get("language")
        instance.language = language if isinstance(language, str) else None
        instance._prepare()
        return instance


def _json_list(values: Sequence[str] | None) -> str:
    import json

    return json.dumps(list(values) if values else None)


def _epoch_ms(raw: Any) -> int | None:
    """Milliseconds since the epoch from seconds, milliseconds or an ISO-8601 string; None if unreadable."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        text = raw.strip()
        try:
            raw = float(text)
        except ValueError:
            try:
                moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.timezone.utc)
            return int(moment.timestamp() * 1000)
    if isinstance(raw, (int, float)) and math.isfinite(raw) and raw >= 0:
        return int(raw if raw > MILLISECONDS_ABOVE else raw * 1000)
    return None
