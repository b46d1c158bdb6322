"""Model archives: ``.tar.gz`` files written atomically and read safely.

An archive holds ``metadata.json`` and one folder per component. Writing goes
to a temporary file beside the target that is renamed into place only when it
is complete, so an interrupted training never leaves a half-written archive
under the final name.

Reading streams the archive once and never calls ``tarfile.extract``: every
member passes ``tarfile.data_filter`` (where Python has it) and our own checks
(no absolute names, no ``..``, no links, no special files, no member twice)
and is written by hand below the target folder, counting its bytes against
:class:`~intently.limits.ArchiveLimits` (members, bytes of each and of all,
JSON nesting); the decompressed stream itself is read through a budget, so a
gzip bomb stops at the limit. Then ``metadata.json`` must name every member.
Nothing in an archive is ever executed or unpickled.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterator
from os import PathLike
from pathlib import Path, PurePosixPath
from typing import Any

from intently.errors import ArchiveLimitError, InvalidArchiveError, ModelNotFoundError, UnsafeArchiveError
from intently.fileio import atomic_write_path
from intently.limits import ArchiveLimits, current_limits, loads_json
from intently.metadata import check_compatibility

METADATA_FILE = "metadata.json"
ARCHIVE_SUFFIX = ".tar.gz"
_COPY_BLOCK = 1024 * 1024


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
            elif path.is_dir() and (path.parent == model_dir or any(p.is_file() for p in path.rglob("*"))):
                # An empty subfolder is not a file metadata.json names: leave it out.
                info.mode = 0o755
                tar.addfile(info)
    return archive_path


def _check_member(member: tarfile.TarInfo, archive: Path, staging: Path) -> PurePosixPath:
    name = member.name
    data_filter = getattr(tarfile, "data_filter", None)  # Python >= 3.10.12 / 3.11.4
    if data_filter is not None:
        try:
            data_filter(member, str(staging))
        except tarfile.FilterError as error:
            raise UnsafeArchiveError(f"archive member {name!r} is refused: {error}", file=archive) from None
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"archive member {name!r} is a link; model archives never contain links", file=archive)
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"archive member {name!r} is not a regular file or folder", file=archive)
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path", file=archive)
    path = PurePosixPath(name)
    if any(part == ".." for part in path.parts):
        raise UnsafeArchiveError(f"archive member {name!r} points outside the archive ('..')", file=archive)
    if not path.parts or "\0" in name:
        raise UnsafeArchiveError(f"archive member {name!r} has no usable name", file=archive)
    return path


class _BoundedStream:
    """The decompressed archive, read through a budget of bytes.

    tarfile reads member headers (and PAX/GNU long-name records, whole, into
    memory) between the members it yields; the budget bounds what it may read
    there, and while a member's data is copied it is granted that member's
    size, so neither a gzip bomb nor a huge header record gets further than
    the limits.
    """

    #: Bytes tarfile may read between two members: headers, long names, padding, read-ahead.
    HEADER_BUDGET = 1024 * 1024

    def __init__(self, archive: Path, limits: ArchiveLimits) -> None:
        self.archive = archive
        self.limits = limits
        self._gzip = gzip.open(archive, "rb")
        self.total = 0
        self.remaining = self.HEADER_BUDGET

    def grant(self, size: int) -> None:
        """Allow ``size`` more bytes (a member's data) on top of the header budget."""
        self.remaining = self.HEADER_BUDGET + size

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self.remaining + 1:
            size = self.remaining + 1
        data = self._gzip.read(size)
        self.remaining -= len(data)
        self.total += len(data)
        if self.remaining < 0:
            raise ArchiveLimitError(
                f"{self.archive.name} holds more than {self.HEADER_BUDGET} bytes of tar header records "
                "(or of data past a member's recorded size) between two members",
                file=self.archive,
                hint="model archives have small headers: this one is damaged or crafted; do not load it",
            )
        # Member data is checked against max_unpacked_bytes by size; this bounds the rest
        # (headers, padding) as well: a generous 2 KiB per member on top.
        if self.total > self.limits.max_unpacked_bytes + self.HEADER_BUDGET + 2048 * self.limits.max_members:
            raise self.too_large(self.total)
        return data

    def too_large(self, size: int) -> ArchiveLimitError:
        return ArchiveLimitError(
            f"{self.archive.name} unpacks to at least {size} bytes; "
            f"the limit max_unpacked_bytes is {self.limits.max_unpacked_bytes}",
            file=self.archive,
            hint=self.limits.hint("max_unpacked_bytes"),
        )

    def close(self) -> None:
        self._gzip.close()


def _copy_member(source: Any, destination: Path, size: int) -> None:
    """Copy exactly ``size`` bytes, counting them (never more than the member's header says)."""
    written = 0
    with open(destination, "xb") as out:
        while written < size:
            block = source.read(min(_COPY_BLOCK, size - written))
            if not block:
                raise EOFError(f"member {destination.name} ends after {written} of {size} bytes")
            out.write(block)
            written += len(block)


def _members(archive: Path, limits: ArchiveLimits, staging: Path) -> Iterator[tuple[PurePosixPath, tarfile.TarInfo, Any]]:
    """Each member of ``archive``, checked, with a reader of its data (None for folders).

    The caller must read a file member's data before asking for the next one.
    """
    stream = _BoundedStream(archive, limits)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
            count = total = 0
            for member in tar:
                relative = _check_member(member, archive, staging)
                count += 1
                if count > limits.max_members:
                    raise ArchiveLimitError(
                        f"{archive.name} holds more than {limits.max_members} members; "
                        f"the limit max_members is {limits.max_members}",
                        file=archive,
                        hint=limits.hint("max_members"),
                    )
                if member.isdir():
                    yield relative, member, None
                    continue
                if member.size > limits.max_member_bytes:
                    raise ArchiveLimitError(
                        f"archive member {member.name!r} is {member.size} bytes; "
                        f"the limit max_member_bytes is {limits.max_member_bytes}",
                        file=archive,
                        hint=limits.hint("max_member_bytes"),
                    )
                total += member.size
                if total > limits.max_unpacked_bytes:
                    raise stream.too_large(total)
                stream.grant(member.size)
                source = tar.extractfile(member)
                if source is None:  # pragma: no cover - isfile() members always have data
                    raise InvalidArchiveError(f"archive member {member.name!r} has no data", file=archive)
                with source:
                    yield relative, member, source
                stream.grant(0)
        # Read to the end of the gzip stream: its checksum and length are checked
        # there, so a truncated or altered archive is refused, not half-trusted.
        while stream.read(_COPY_BLOCK):
            pass
    finally:
        stream.close()


def named_members(metadata: dict[str, Any], archive: Path | None = None) -> set[PurePosixPath]:
    """Every member ``metadata.json`` accounts for: itself, each component's folder and files, their folders."""
    components = metadata.get("components")
    if not isinstance(components, list):
        raise InvalidArchiveError(f"{METADATA_FILE} has no list of components", file=archive)
    names = {PurePosixPath(METADATA_FILE)}
    for entry in components:
        folder = entry.get("folder") if isinstance(entry, dict) else None
        files = entry.get("files") or [] if isinstance(entry, dict) else None
        if not isinstance(folder, str) or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise InvalidArchiveError(f"a component entry in {METADATA_FILE} has no folder or files", file=archive)
        if "/" in folder or "\\" in folder or folder in ("", ".", ".."):
            raise InvalidArchiveError(f"component folder {folder!r} in {METADATA_FILE} is not a plain name", file=archive)
        names.add(PurePosixPath(folder))
        for file in files:
            path = PurePosixPath(folder, file)
            names.add(path)
            names.update(path.parents)
    names.discard(PurePosixPath("."))
    return names


def extract_archive(
    archive_path: str | PathLike[str],
    target_dir: str | PathLike[str],
    *,
    limits: ArchiveLimits | None = None,
) -> Path:
    """Unpack a model archive into ``target_dir`` after checking every member.

    Raises:
        ModelNotFoundError: no such file.
        InvalidArchiveError: not a gzip'd tar file, or no ``metadata.json``.
        IncompatibleModelError: written by an incompatible intently version.
        UnsafeArchiveError: an absolute path, ``..``, a link or a special file,
            a member twice, or a member that ``metadata.json`` does not name.
        ArchiveLimitError: more members, or bytes, or JSON nesting than ``limits``
            (default: :func:`~intently.limits.current_limits`) allow.
    """
    archive = Path(archive_path)
    if not archive.is_file():
        raise ModelNotFoundError(f"no model archive at {archive}")
    limits = limits or current_limits()
    target = Path(target_dir).resolve()
    target.mkdir(parents=True, exist_ok=True)
    # One streaming pass into a staging folder, moved into place only once every
    # member has passed: listing the members first and then extracting them would
    # decompress the archive twice (a backward seek in gzip starts over).
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=target))
    try:
        extracted: list[tuple[PurePosixPath, str]] = []
        for relative, member, source in _members(archive, limits, staging):
            extracted.append((relative, member.name))
            destination = (staging / relative).resolve()
            if destination != staging and staging not in destination.parents:
                raise UnsafeArchiveError(f"archive member {member.name!r} points outside the archive", file=archive)
            if source is None:
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            _copy_member(source, destination, member.size)
        if not (staging / METADATA_FILE).is_file():
            raise InvalidArchiveError(f"{archive} has no {METADATA_FILE}; it is not an intently model", file=archive)
        metadata = read_metadata_file(staging, limits=limits, archive=archive)
        check_compatibility(metadata)
        named = named_members(metadata, archive)
        for relative, name in extracted:
            if relative not in named:
                raise UnsafeArchiveError(
                    f"archive member {name!r} is not named in {METADATA_FILE}; model archives hold nothing else",
                    file=archive,
                )
        for entry in staging.iterdir():
            os.replace(entry, target / entry.name)
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as error:
        if isinstance(error, FileExistsError):
            raise UnsafeArchiveError(f"archive {archive} holds the same member twice", file=archive) from error
        raise InvalidArchiveError(f"{archive} is not a readable model archive: {error}", file=archive) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def read_metadata_file(
    model_dir: str | PathLike[str],
    *,
    limits: ArchiveLimits | None = None,
    archive: Path | None = None,
) -> dict[str, Any]:
    """Read ``metadata.json`` from an unpacked model folder (nesting depth limited)."""
    path = Path(model_dir) / METADATA_FILE
    try:
        metadata = loads_json(path.read_bytes(), METADATA_FILE, limits)
    except (OSError, ValueError) as error:
        raise InvalidArchiveError(f"cannot read the model's {METADATA_FILE}: {error}", file=archive) from error
    if not isinstance(metadata, dict):
        raise InvalidArchiveError(f"the model's {METADATA_FILE} is not a JSON object", file=archive)
    return metadata


def read_archive_metadata(
    archive_path: str | PathLike[str], *, limits: ArchiveLimits | None = None
) -> dict[str, Any]:
    """``metadata.json`` of an archive, read without unpacking the rest.

    Raises:
        ModelNotFoundError: no such file.
        InvalidArchiveError: not a gzip'd tar file, or no readable ``metadata.json``.
        ArchiveLimitError: ``metadata.json`` or what comes before it exceeds the limits.
    """
    archive = Path(archive_path)
    if not archive.is_file():
        raise ModelNotFoundError(f"no model archive at {archive}")
    limits = limits or current_limits()
    try:
        # Members are checked as if unpacked into a folder that is never created.
        nowhere = Path(tempfile.gettempdir(), ".intently-metadata-only")
        for relative, _member, source in _members(archive, limits, nowhere):
            if relative.as_posix() == METADATA_FILE and source is not None:
                metadata = loads_json(source.read(), METADATA_FILE, limits)
                if not isinstance(metadata, dict):
                    raise InvalidArchiveError(f"the model's {METADATA_FILE} is not a JSON object", file=archive)
                return metadata
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as error:
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
