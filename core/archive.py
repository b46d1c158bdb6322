"""Model archives: ``.tar.gz`` files written atomically and read safely.

An archive holds ``metadata.json`` and one folder per component. Writing goes
to a temporary file beside the target that is renamed into place only when it
is complete, so an interrupted training never leaves a half-written archive
under the final name. Reading refuses members that are absolute, contain
``..``, are links or special files, and never calls ``tarfile.extract``: every
member is written by hand below the target folder. Nothing in an archive is
ever executed or unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

from intently.errors import InvalidArchiveError, ModelNotFoundError, UnsafeArchiveError
from intently.fileio import atomic_write_path

METADATA_FILE = "metadata.json"
ARCHIVE_SUFFIX = ".tar.gz"


def create_archive(model_dir: str | PathLike[str], archive_path: str | PathLike[str]) -> Path:
    """Pack the files under ``model_dir`` into ``archive_path``, atomically."""
    model_dir = Path(model_dir)
    archive_path = Path(archive_path)
    if not (model_dir / METADATA_FILE).is_file():
        raise InvalidArchiveError(f"{model_dir} has no {METADATA_FILE}; it is not a model folder")
    with atomic_write_path(archive_path) as tmp, tarfile.open(tmp, "w:gz") as tar:
        # metadata.json first: read_archive_metadata stops as soon as it has it.
        for path in sorted(model_dir.rglob("*"), key=lambda p: (p != model_dir / METADATA_FILE, p)):
            if path.is_symlink():
                raise InvalidArchiveError(f"model folder contains a link: {path}")
            arcname = path.relative_to(model_dir).as_posix()
            info = tar.gettarinfo(str(path), arcname=arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_file():
                info.mode = 0o644
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            elif path.is_dir():
                info.mode = 0o755
                tar.addfile(info)
    return archive_path


def _check_member(member: tarfile.TarInfo, archive: Path) -> PurePosixPath:
    name = member.name
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"archive member {name!r} is a link; model archives never contain links", file=archive)
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"archive member {name!r} is not a regular file or folder", file=archive)
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path", file=archive)
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise UnsafeArchiveError(f"archive member {name!r} points outside the archive ('..')", file=archive)
    return path


def extract_archive(archive_path: str | PathLike[str], target_dir: str | PathLike[str]) -> Path:
    """Unpack a model archive into ``target_dir`` after checking every member.

    Raises:
        ModelNotFoundError: no such file.
        InvalidArchiveError: not a gzip'd tar file, or no ``metadata.json``.
        UnsafeArchiveError: an absolute path, ``..``, a link or a special file.
    """
    archive = Path(archive_path)
    if not archive.is_file():
        raise ModelNotFoundError(f"no model archive at {archive}")
    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    # One streaming pass into a staging folder, moved into place only once every
    # member has passed: listing the members first and then extracting them would
    # decompress the archive twice (a backward seek in gzip starts over).
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target))
    try:
        has_metadata = False
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                relative = _check_member(member, archive)
                has_metadata = has_metadata or relative.as_posix() == METADATA_FILE
                destination = (staging / relative).resolve()
                if destination != staging and staging not in destination.parents:
                    raise UnsafeArchiveError(f"archive member {member.name!r} points outside the archive", file=archive)
                if member.isdir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    raise InvalidArchiveError(f"archive member {member.name!r} has no data", file=archive)
                with source, open(destination, "xb") as out:
                    shutil.copyfileobj(source, out)
        if not has_metadata:
            raise InvalidArchiveError(f"{archive} has no {METADATA_FILE}; it is not an intently model", file=archive)
        for entry in staging.iterdir():
            os.replace(entry, target / entry.name)
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        if isinstance(error, FileExistsError):
            raise UnsafeArchiveError(f"archive {archive} holds the same member twice", file=archive) from error
        raise InvalidArchiveError(f"{archive} is not a readable model archive: {error}", file=archive) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def read_metadata_file(model_dir: str | PathLike[str]) -> dict[str, Any]:
    """Read ``metadata.json`` from an unpacked model folder."""
    path = Path(model_dir) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidArchiveError(f"cannot read the model's {METADATA_FILE}: {error}") from error
    if not isinstance(metadata, dict):
        raise InvalidArchiveError(f"the model's {METADATA_FILE} is not a JSON object")
    return metadata


def read_archive_metadata(archive_path: str | PathLike[str]) -> dict[str, Any]:
    """``metadata.json`` of an archive, read without unpacking the rest.

    Raises:
        ModelNotFoundError: no such file.
        InvalidArchiveError: not a gzip'd tar file, or no readable ``metadata.json``.
    """
    archive = Path(archive_path)
    if not archive.is_file():
        raise ModelNotFoundError(f"no model archive at {archive}")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name == METADATA_FILE and member.isfile():
                    source = tar.extractfile(member)
                    if source is None:  # pragma: no cover - isfile() members always have data
                        break
                    with source:
                        metadata = json.loads(source.read().decode("utf-8"))
                    if not isinstance(metadata, dict):
                        raise InvalidArchiveError(f"the model's {METADATA_FILE} is not a JSON object", file=archive)
                    return metadata
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise InvalidArchiveError(f"{archive} is not a readable model archive: {error}", file=archive) from error
    raise InvalidArchiveError(f"{archive} has no {METADATA_FILE}; it is not an intently model", file=archive)


def find_latest_model(path: str | PathLike[str] = "models") -> Path:
    """``path`` itself if it is a file, else the newest ``*.tar.gz`` in the folder ``path``."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ModelNotFoundError(f"no model at {path}: no such file or folder")
    archives = [p for p in path.glob(f"*{ARCHIVE_SUFFIX}") if p.is_file() and not p.name.startswith(".")]
    if not archives:
        raise ModelNotFoundError(f"no model archive ({ARCHIVE_SUFFIX}) in {path}")
    return max(archives, key=lambda p: (p.stat().st_mtime, p.name))
