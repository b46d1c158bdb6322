"""Start and stop `intently run` on 127.0.0.1 for the server tests, and talk HTTP to it."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


def request(
    method: str,
    url: str,
    body: Any = None,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    context: ssl.SSLContext | None = None,
) -> Reply:
    """One HTTP request (a JSON ``body``, or raw ``data``); any status comes back as a Reply."""
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


class Server:
    """``intently run ARGS`` on a free loopback port; a context manager that always stops it."""

    def __init__(self, args: list[str], cwd: Path, *, scheme: str = "http", env: dict[str, str] | None = None,
                 ready_path: str = "/health/live", context: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.cwd = cwd
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "intently", "run", "--interface", "127.0.0.1", "--port", str(self.port), *args]
        self.env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
        self.ready_path = ready_path
        self.context = context
        self.process: subprocess.Popen[bytes] | None = None
        self.log = cwd / f"server-{self.port}.log"

    def start(self) -> Server:
        self._log_file = open(self.log, "wb")
        self.process = subprocess.Popen(self.args, cwd=self.cwd, env=self.env, stdout=self._log_file,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if request("GET", self.url + self.ready_path, timeout=2, context=self.context).status == 200:
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"server did not start in {START_TIMEOUT} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log_file.close()
        return self.process.returncode

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return request("GET", self.url + path, context=self.context, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return request("POST", self.url + path, body, context=self.context, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return request("PUT", self.url + path, body, context=self.context, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return request("DELETE", self.url + path, context=self.context, **kwargs)
