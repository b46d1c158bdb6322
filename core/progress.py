"""A small progress bar for long training loops.

It draws on standard error only when that is a terminal (and ``CI`` is not
set), at most ten times a second, so logs, pipes and CI output stay clean;
elsewhere it is silent. Components use it for loops that take more than a few
seconds::

    with ProgressBar(total=epochs, description="DIETClassifier") as bar:
        for epoch in range(epochs):
            ...
            bar.update(loss=f"{loss:.3f}", acc=f"{accuracy:.2f}")
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any

BAR_WIDTH = 24
MIN_INTERVAL = 0.1


def progress_enabled(stream: IO[str]) -> bool:
    """Bars are drawn on interactive terminals, never in CI or when piped."""
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


class ProgressBar:
    """``description  12/50 [=====>          ] 24% 3.1s loss=0.412``"""

    def __init__(
        self, total: int, description: str, *, stream: IO[str] | None = None, enabled: bool | None = None
    ) -> None:
        self.total = max(int(total), 1)
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = progress_enabled(self.stream) if enabled is None else enabled
        self.count = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self.postfix: dict[str, Any] = {}

    def update(self, steps: int = 1, **postfix: Any) -> None:
        """Advance by ``steps`` and show ``postfix`` values (e.g. ``loss=...``)."""
        self.count = min(self.count + steps, self.total)
        self.postfix.update(postfix)
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= MIN_INTERVAL or self.count == self.total):
            self._last_draw = now
            self._draw()

    def render(self) -> str:
        """The bar as text (what is drawn)."""
        fraction = self.count / self.total
        filled = int(BAR_WIDTH * fraction)
        arrow = ">" if filled < BAR_WIDTH else ""
        bar = "=" * filled + arrow + " " * (BAR_WIDTH - filled - len(arrow))
        extra = " ".join(f"{key}={value}" for key, value in self.postfix.items())
        elapsed = time.monotonic() - self.started
        return f"{self.description}  {self.count}/{self.total} [{bar}] {fraction:4.0%} {elapsed:.1f}s {extra}".rstrip()

    def _draw(self) -> None:
        self.stream.write("\r" + self.render() + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
