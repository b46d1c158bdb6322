"""The two ways ``DucklingEntityExtractor`` reaches Duckling: a server over HTTP, or Duckling in-process.

Both take the request of a Duckling server's ``POST /parse`` (the form fields
``text``, ``locale``, ``lang``, ``tz``, ``dims``, ``reftime``) and return
Duckling's list of matches (``{"body", "start", "end", "dim", "value",
"latent"}``), so the extractor does not care which one answers.

* :class:`DucklingHttpClient` posts to a Duckling server with a small pool
  of kept-alive connections (``http.client``, no third-party client) and the
  configured timeout. It raises :class:`DucklingUnavailable` when the server
  cannot be reached or answers something other than a JSON list; the
  extractor turns that into one warning per batch.
* :class:`EmbeddedDuckling` runs Duckling itself in this process through the
  ``pyduckling-native-phihos`` wheel (``pip install 'intently[duckling]'``),
  which embeds Duckling's Haskell library. It reads the time-zone database
  of the system (``/usr/share/zoneinfo``) once per process and answers as a
  server would: the same defaults (``en``, time zone
  ``America/Los_Angeles``), the same locale parsing, every dimension when
  none is named. The wheel reports the matched text (``body``) of non-ASCII
  texts wrongly encoded; it is rebuilt from the offsets here.

:func:`serve_parse_form` answers a ``/parse`` form through the embedded
engine, which is what a test needs to stand in for a Duckling server.
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from intently.errors import MissingDependencyError

logger = logging.getLogger(__name__)

#: The dimensions Duckling knows (its ``Duckling.Dimensions.Types`` names).
DIMENSIONS = (
    "amount-of-money",
    "credit-card-number",
    "distance",
    "duration",
    "email",
    "number",
    "ordinal",
    "phone-number",
    "quantity",
    "temperature",
    "time",
    "url",
    "volume",
)
#: A Duckling server's defaults when the request names no language, locale or time zone.
DEFAULT_LANG = "EN"
DEFAULT_TIMEZONE = "America/Los_Angeles"
#: Where the embedded engine reads the time-zone database (the system's Olson files).
ZONEINFO_DIRS = ("/usr/share/zoneinfo", "/usr/lib/zoneinfo", "/usr/share/lib/zoneinfo")
#: Kept-alive connections per server.
POOL_SIZE = 4
INSTALL_HINT = "pip install 'intently[duckling]' (Duckling in-process), or set `url` to a Duckling server"


class DucklingUnavailable(Exception):
    """A Duckling server that cannot be reached or gives no usable answer."""


# --- HTTP ----------------------------------------------------------------------------------------------


class DucklingHttpClient:
    """``POST {url}/parse`` with a pool of kept-alive connections.

    Args:
        url: the server's base URL (``http://localhost:8000``); a path is kept
            (``http://host/duckling`` posts to ``/duckling/parse``).
        timeout: seconds to connect and seconds to wait for each answer.
        pool_size: connections kept open for reuse.
    """

    def __init__(self, url: str, timeout: float, *, pool_size: int = POOL_SIZE) -> None:
        parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        self.url = url
        self.timeout = float(timeout)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._path = parsed.path.rstrip("/") + "/parse"
        self._idle: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue(maxsize=pool_size)

    def _connection(self) -> http.client.HTTPConnection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            return kind(self._host, self._port, timeout=self.timeout)

    def _release(self, connection: http.client.HTTPConnection) -> None:
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()

    def parse(self, form: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Duckling's matches for one ``/parse`` form (fields whose value is None are left out).

        Raises:
            DucklingUnavailable: no connection, a timeout, a status other than
                200, or an answer that is not a JSON list.
        """
        body = urllib.parse.urlencode({k: v for k, v in form.items() if v is not None}).encode("utf-8")
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
        # A kept-alive connection the server has closed fails on first use: one retry on a new one.
        for attempt in range(2):
            connection = self._connection()
            reused = connection.sock is not None
            try:
                connection.request("POST", self._path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                if reused and attempt == 0 and not isinstance(error, TimeoutError):
                    continue
                raise DucklingUnavailable(f"cannot reach the Duckling server at {self.url}: {error}") from None
            if response.will_close:
                connection.close()
            else:
                self._release(connection)
            if response.status != 200:
                raise DucklingUnavailable(
                    f"the Duckling server at {self.url} answered {response.status} {response.reason}: "
                    f"{payload[:200].decode('utf-8', 'replace')}"
                )
            try:
                matches = json.loads(payload)
            except ValueError:
                matches = None
            if not isinstance(matches, list):
                raise DucklingUnavailable(
                    f"the Duckling server at {self.url} answered something that is not a list of matches: "
                    f"{payload[:200].decode('utf-8', 'replace')}"
                )
            return matches
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the idle connections."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# --- in-process ------------------------------------------------------------------------------------------


def embedded_available() -> bool:
    """Whether Duckling can run in-process (the ``duckling`` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("duckling") is not None


class EmbeddedDuckling:
    """Duckling in this process (``pyduckling-native-phihos``); one per process, see :meth:`get`."""

    _instance: EmbeddedDuckling | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        try:
            import duckling
        except ImportError as error:
            raise MissingDependencyError(
                "DucklingEntityExtractor has no `url` and Duckling cannot run in-process: "
                "the package 'pyduckling-native-phihos' is not installed",
                hint=INSTALL_HINT,
            ) from error
        directory = next((d for d in ZONEINFO_DIRS if Path(d, "UTC").is_file()), None)
        if directory is None:
            raise MissingDependencyError(
                "Duckling in-process needs the system's time-zone database, and none was found in "
                + ", ".join(ZONEINFO_DIRS),
                hint="install the operating system's tzdata package (Debian/Ubuntu: apt-get install tzdata), "
                "or set `url` to a Duckling server",
            )
        self._duckling = duckling
        self._zones = duckling.load_time_zones(directory)
        self._zone_names = _zone_names(Path(directory))
        # Duckling's runtime is shared by the whole process: one parse at a time.
        self._lock = threading.Lock()

    @classmethod
    def get(cls) -> EmbeddedDuckling:
        """The process's engine (the time-zone database is read once, ~0.3 s)."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def knows_timezone(self, name: str) -> bool:
        """Whether ``name`` is in the time-zone database (Duckling silently uses UTC otherwise)."""
        return name in self._zone_names

    def parse(
        self,
        text: str,
        *,
        locale: str | None = None,
        lang: str | None = None,
        timezone: str | None = None,
        reference_ms: int | None = None,
        dimensions: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Duckling's matches, as a server would answer the same ``/parse`` form."""
        d = self._duckling
        with self._lock:
            language = d.parse_lang((lang or DEFAULT_LANG).upper())
            default_locale = d.default_locale_lang(language)
            parsed_locale = d.parse_locale(locale.upper(), default_locale) if locale else default_locale
            zone = timezone or DEFAULT_TIMEZONE
            if reference_ms is None:
                reference = d.get_current_ref_time(self._zones, zone)
            else:
                reference = d.parse_ref_time(self._zones, zone, int(reference_ms) // 1000)
            context = d.Context(reference, parsed_locale)
            dims = d.parse_dimensions([x for x in (dimensions or ()) if x in DIMENSIONS])
            matches = d.parse(text, context, dims, False)
        for match in matches:
            # The wheel hands non-ASCII bodies over mis-decoded; the offsets are code points.
            match["body"] = text[match["start"] : match["end"]]
        return matches


def _zone_names(directory: Path) -> frozenset[str]:
    names = set()
    for path in directory.rglob("*"):
        if path.is_file() and path.name[:1].isupper():
            names.add(path.relative_to(directory).as_posix())
    return frozenset(names)


def serve_parse_form(form: Mapping[str, str]) -> tuple[int, bytes]:
    """Answer a Duckling server's ``/parse`` form through :class:`EmbeddedDuckling`: ``(status, JSON body)``.

    The fields are read as Duckling's own server reads them: ``dims`` is a
    JSON list (anything else means every dimension), ``reftime`` is in
    milliseconds, a ``locale`` is ``xx_YY``.
    """
    text = form.get("text")
    if text is None:
        return 422, b"Need a 'text' parameter to parse"
    try:
        dims = json.loads(form.get("dims") or "null")
    except ValueError:
        dims = None
    reftime = form.get("reftime")
    matches = EmbeddedDuckling.get().parse(
        text,
        locale=form.get("locale"),
        lang=form.get("lang"),
        timezone=form.get("tz"),
        reference_ms=int(reftime) if reftime else None,
        dimensions=dims if isinstance(dims, list) else None,
    )
    return 200, json.dumps(matches, ensure_ascii=False).encode("utf-8")
