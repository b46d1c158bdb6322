"""MkDocs hooks of the documentation site (``mkdocs.yml`` names this file; it is not a page).

The API reference (``docs/api.md``) is read from the source by mkdocstrings' Python handler,
which looks for the package ``intently`` along ``sys.path``. When MkDocs runs as the ``mkdocs``
script, the script's own folder comes first on ``sys.path``, and in a virtual environment that
folder also holds the ``intently`` console script, which the handler would take for the package.
Leave such folders out, so the handler finds the installed package (``core/``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def on_startup(**kwargs: Any) -> None:
    sys.path[:] = [entry for entry in sys.path if not Path(entry or ".", "intently").is_file()]
