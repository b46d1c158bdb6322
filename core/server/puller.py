"""Rasa's model server: poll a URL for a newer archive and swap it in.

``endpoints.yml``::

    models:
      url: http://models.example.com/nlu/current.tar.gz
      wait_time_between_pulls: 10   # seconds; null pulls once at start (Rasa's default is 100)
      token: SECRET                 # optional, sent as ?token= (token_name: changes the parameter's name)

Each poll sends ``If-None-Match`` with the ETag of the archive last loaded;
``304 Not Modified`` changes nothing. A ``200`` is streamed into a ``.part``
file (bounded by the archive limits), renamed into place, loaded through the
same safe loader as ``intently parse`` (a broken or unsafe archive is logged
and the old model keeps serving) and swapped in as the default model. Every
replica polls on its own, so replicas behind a load balancer converge on the
same model within one ``wait_time_between_pulls``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import attrs

from intently.errors import ConfigError
from intently.server.models import cancel_and_wait

logger = logging.getLogger(__name__)

DEFAULT_WAIT_TIME = 100.0
CHUNK = 1 << 16
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@attrs.define
class ModelServerConfig:
    """The ``models:`` section of ``endpoints.yml``."""

    url: str
    wait_time_between_pulls: float | None = DEFAULT_WAIT_TIME
    token: str | None = None
    token_name: str = "token"
    headers: dict[str, str] = attrs.field(factory=dict)
    timeout: float = 60.0


def read_endpoints(path: str) -> ModelServerConfig | None:
    """The model server of an ``endpoints.yml`` (None when it has no ``models:`` section)."""
    from intently.yaml_utils import read_yaml_file

    document = read_yaml_file(path, ConfigError) or {}
    if not isinstance(document, dict):
        raise ConfigError("endpoints.yml must be a mapping of sections (models:, ...)", file=path)
    section = document.get("models")
    if section is None:
        logger.info("%s has no models: section; not polling a model server", path)
        return None
    if not isinstance(section, dict) or not isinstance(section.get("url"), str) or not section["url"].strip():
        raise ConfigError("the models: section needs url: the address of the model archive", file=path,
                          hint="models:\n    url: http://host/model.tar.gz\n    wait_time_between_pulls: 10")
    url = section["url"].strip()
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"models: url {url!r} is not an http(s) address", file=path)
    wait = section.get("wait_time_between_pulls", DEFAULT_WAIT_TIME)
    if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait <= 0):
        raise ConfigError(f"wait_time_between_pulls must be a positive number of seconds or null, got {wait!r}",
                          file=path)
    headers = section.get("headers") or {}
    if not isinstance(headers, dict):
        raise ConfigError("models: headers must be a mapping", file=path)
    return ModelServerConfig(
        url=url,
        wait_time_between_pulls=None if wait is None else float(wait),
        token=None if section.get("token") is None else str(section["token"]),
        token_name=str(section.get("token_name") or "token"),
        headers={str(k): str(v) for k, v in headers.items()},
    )


class ModelPuller:
    """Polls the model server and swaps newer archives in (one per server process)."""

    def __init__(self, config: ModelServerConfig, state: Any) -> None:
        self.config = config
        self.state = state
        self.etag: str | None = None
        self.folder = Path(tempfile.mkdtemp(prefix="intently-pulled-"))
        self.current: Path | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_endpoints(cls, path: str, state: Any) -> ModelPuller | None:
        config = read_endpoints(path)
        return None if config is None else cls(config, state)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="intently-model-puller")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        shutil.rmtree(self.folder, ignore_errors=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.pull_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # one failed poll must not stop the polling
                logger.exception("pulling a model from %s failed", self.config.url)
                self.state.metrics.model_pulls.labels("error").inc()
            if self.config.wait_time_between_pulls is None:
                return
            await asyncio.sleep(self.config.wait_time_between_pulls)

    async def pull_once(self) -> bool:
        """One poll; True when a new model was swapped in."""
        downloaded = await asyncio.to_thread(self._download)
        if downloaded is None:
            self.state.metrics.model_pulls.labels("not_modified").inc()
            return False
        path, etag = downloaded
        from intently.server.errors import HTTPError

        try:
            async with self.state.swap_lock:
                model = await self.state.load(path)
                self.state.store.put(model, replace_default=True)
                self.state.swapped()
        except HTTPError as error:
            logger.error("the model server's archive %s does not load; keeping the current model: %s",
                         path.name, error.message)
            self.state.metrics.model_pulls.labels("invalid").inc()
            path.unlink(missing_ok=True)
            self.etag = etag  # do not download the same broken archive again and again
            return False
        previous, self.current, self.etag = self.current, path, etag
        if previous is not None and previous != path:
            previous.unlink(missing_ok=True)
        self.state.metrics.model_pulls.labels("updated").inc()
        logger.info("pulled model %s (ETag %s) from %s", model.name, etag, self.config.url)
        return True

    def _request(self) -> urllib.request.Request:
        url = self.config.url
        if self.config.token:
            parts = urllib.parse.urlsplit(url)
            query = urllib.parse.parse_qsl(parts.query) + [(self.config.token_name, self.config.token)]
            url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        headers = dict(self.config.headers)
        if self.etag:
            headers["If-None-Match"] = self.etag
        return urllib.request.Request(url, headers=headers)

    def _download(self) -> tuple[Path, str | None] | None:
        """Stream a newer archive into the pull folder atomically; None for 304 Not Modified."""
        from intently.limits import ArchiveLimits

        limit = ArchiveLimits.from_env().max_unpacked_bytes
        try:
            response = urllib.request.urlopen(self._request(), timeout=self.config.timeout)  # noqa: S310 - http(s) only
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return None
            raise
        with response:
            etag = response.headers.get("ETag")
            if etag is not None and etag == self.etag:
                return None
            name = _archive_name(response.headers.get("Content-Disposition"), self.config.url, etag)
            target = self.folder / name
            part = self.folder / f".{name}.part"
            written = 0
            with open(part, "wb") as out:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > limit:
                        out.close()
                        part.unlink(missing_ok=True)
                        raise ValueError(f"the model server's archive is larger than {limit} bytes")
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, target)
        return target, etag


def _archive_name(disposition: str | None, url: str, etag: str | None) -> str:
    """A safe file name for a pulled archive: the server's filename, else the URL's, made unique by the ETag."""
    name = ""
    if disposition:
        match = re.search(r'filename="?([^";]+)"?', disposition)
        if match:
            name = match.group(1)
    if not name:
        name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    name = _SAFE_NAME.sub("-", os.path.basename(name)).strip(".-") or "model"
    if name.endswith(".tar.gz"):
        name = name[: -len(".tar.gz")]
    suffix = hashlib.sha256((etag or os.urandom(8).hex()).encode()).hexdigest()[:8]
    return f"{name[:80]}-{suffix}.tar.gz"
