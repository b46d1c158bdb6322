"""Mutated model archives: building them and loading them (part 2 of the robustness benchmark).

Three small real models are trained once with ``intently train`` on the
example project's data (the default pipeline; the example's config, with
LogisticRegressionClassifier and CRFEntityExtractor; a DIET pipeline with few
epochs). Each case is one of them, damaged:

* a byte mutation of one member file (bit flips, inserted, deleted, zeroed or
  repeated bytes, truncation), the member picked by kind (``metadata.json``,
  other JSON, ``.npz``, the CRF's file, anything else) so each kind gets its
  share; for crfsuite files most flips leave the header alone;
* a structural mutation: a JSON value replaced (wrong type, huge number,
  deep nesting, key removed), an array in an ``.npz`` rewritten (a header
  claiming a huge shape, object dtype, wrong shape, cut data) with valid
  checksums;
* a tar-level attack: absolute and ``..`` names, links, devices, a FIFO,
  duplicate and unnamed members, missing ``metadata.json``, a gzip bomb,
  a member unpacking to 200 MiB, 20,000 members, a pickle in an ``.npz``
  that would write a file if it were ever unpickled, a cut or non-gzip file,
  deeply nested JSON, a newer format version.

Each case is loaded with ``intently.load_model`` in a forked child with its
own folder: ``TMPDIR`` is ``tmp/`` in it, the working folder ``cwd/``, and
``outside/`` holds a file that links point at. The child parses a few
messages (English and Chinese), closes the interpreter where it can, and
exits. A case is *ok* when every parse gave a well-formed result, *clean*
when an ``IntentlyError`` stopped it; a traceback is any other exception, a
crash a death by signal, a hang no end within the time limit, a resource
blow-up the memory or file-size cap reached. Afterwards the case folder
outside ``tmp/`` must be as it was (and nothing named after the case may
appear in the system temp folder), and ``tmp/`` must be empty (leftovers).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import math
import os
import pickle
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robustness_procs import MB, Child, Limits, fork_child, read_result, reap, short_traceback, write_result

logger = logging.getLogger("robustness.archives")

MESSAGES = ["book a table for two tonight in Berlin", "我想订明天晚上两个人的桌子", "hi", "", "a " * 300]
CLASSES = ("ok", "clean", "traceback", "memory", "crash", "hang", "wrong")
DIET_CONFIG = """language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 3
  - name: DIETClassifier
    epochs: {epochs}
    random_seed: 1
  - name: EntitySynonymMapper
"""

Members = list[tuple[tarfile.TarInfo, bytes | None]]


# --- the models --------------------------------------------------------------------------------------


def train_models(work_dir: Path, data: Path, crf_config: Path, diet_epochs: int, names: list[str]) -> dict[str, Path]:
    """Train the base models called ``names`` with the CLI; name -> archive."""
    (work_dir / "diet.yml").write_text(DIET_CONFIG.format(epochs=diet_epochs), encoding="utf-8")
    configs = {"default": None, "crf": crf_config, "diet": work_dir / "diet.yml"}
    archives = {}
    for name, config in configs.items():
        if name not in names:
            continue
        command = [sys.executable, "-m", "intently", "train", "--data", str(data), "--out", str(work_dir / "models"),
                   "--fixed-model-name", name, "--force"] + (["--config", str(config)] if config else [])
        started = time.monotonic()
        completed = subprocess.run(command, capture_output=True, text=True, cwd=work_dir, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"training the {name} model failed:\n{completed.stderr}")
        archives[name] = work_dir / "models" / f"{name}.tar.gz"
        logger.info("trained the %s model in %.1f s", name, time.monotonic() - started)
    return archives


def read_members(archive: Path) -> Members:
    with tarfile.open(archive, "r:gz") as tar:
        return [(info, tar.extractfile(info).read() if info.isfile() else None) for info in tar.getmembers()]


def member_kind(name: str) -> str:
    if name == "metadata.json":
        return "metadata.json"
    for suffix, kind in ((".json", "json"), (".npz", "npz"), (".crfsuite", "crfsuite"), (".safetensors", "safetensors")):
        if name.endswith(suffix):
            return kind
    return "other"


def write_archive(path: Path, members: Members, *, compress: bool = True) -> None:
    """A tar(.gz) of ``members`` exactly as given (names, types and duplicates included)."""
    with tarfile.open(path, "w:gz" if compress else "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info = _copy(info)
            if data is not None and info.isreg():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.size = 0
                tar.addfile(info)


def _copy(info: tarfile.TarInfo, **changes: Any) -> tarfile.TarInfo:
    new = tarfile.TarInfo(changes.pop("name", info.name))
    for key in ("mode", "uid", "gid", "mtime", "type", "linkname", "uname", "gname", "devmajor", "devminor"):
        setattr(new, key, changes.pop(key, getattr(info, key)))
    return new


def file_info(name: str, type_: bytes = tarfile.REGTYPE, **changes: Any) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = type_, 0o644, 0
    for key, value in changes.items():
        setattr(info, key, value)
    return info


# --- byte and structure mutations --------------------------------------------------------------------


def mutate_bytes(rng: random.Random, data: bytes, kind: str) -> tuple[str, bytes]:
    """One random byte-level damage: ``(description, new bytes)``."""
    data = bytearray(data)
    n = max(1, len(data))
    op = rng.choice(["flip", "flip", "flip", "insert", "delete", "truncate", "zero", "repeat"])
    low = 48 if kind == "crfsuite" and rng.random() < 0.7 and n > 96 else 0  # crfsuite: header left valid
    if op == "flip":
        positions = [rng.randrange(low, n) for _ in range(rng.randint(1, 8))] if data else []
        for at in positions:
            data[at] ^= rng.randint(1, 255)
        return f"flip {len(positions)} byte(s) at {sorted(positions)[:8]}", bytes(data)
    at = rng.randrange(low, n) if n > low else 0
    length = rng.choice([1, 2, 4, 8, 64, 1024])
    if op == "insert":
        return f"insert {length} random bytes at {at}", bytes(data[:at] + rng.randbytes(length) + data[at:])
    if op == "delete":
        return f"delete {length} bytes at {at}", bytes(data[:at] + data[at + length :])
    if op == "truncate":
        return f"truncate to {at} of {len(data)} bytes", bytes(data[:at])
    if op == "zero":
        return f"zero {length} bytes at {at}", bytes(data[:at] + bytes(len(data[at : at + length])) + data[at + length :])
    return f"repeat {length} bytes at {at}", bytes(data[:at] + data[at : at + length] * 2 + data[at + length :])


def mutate_json(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Replace, remove or add one value somewhere in a JSON document."""
    try:
        document = json.loads(data)
    except ValueError:
        return mutate_bytes(rng, data, "json")
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            paths.append((node, key))
            if len(paths) < 5000:
                walk(value)

    walk(document)
    if not paths:
        return mutate_bytes(rng, data, "json")
    parent, key = rng.choice(paths)
    replacement = rng.choice([None, True, -1, 0, 10**40, 1e308, "", "../../outside", "x" * 10_000, [], {},
                              ["a"] * 3, {"format": 99}, "DEEP"])
    if rng.random() < 0.15 and isinstance(parent, dict):
        del parent[key]
        what = f"remove key {key!r}"
    else:
        parent[key] = replacement
        what = f"set {key!r} to {str(replacement)[:20]!r}"
    text = json.dumps(document, ensure_ascii=False)
    if replacement == "DEEP":
        depth = rng.choice([1000, 100_000])
        text = text.replace('"DEEP"', "[" * depth + "]" * depth)
        what = f"set {key!r} to a list nested {depth} deep"
    return what, text.encode()


def npy_bytes(header: dict[str, Any], body: bytes) -> bytes:
    """An ``.npy`` file with this header dict and body (version 1.0)."""
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + body


def mutate_npz(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Rewrite one array of an ``.npz`` (valid zip, damaged array)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            entries = [(info.filename, source.read(info)) for info in source.infolist()]
    except (zipfile.BadZipFile, ValueError):
        return mutate_bytes(rng, data, "npz")
    if not entries:
        return mutate_bytes(rng, data, "npz")
    at = rng.randrange(len(entries))
    name, content = entries[at]
    op = rng.choice(["huge shape", "object dtype", "wrong shape", "empty", "cut data", "string dtype", "bad header"])
    body = content[10 + int.from_bytes(content[8:10], "little") :] if content[:6] == b"\x93NUMPY" else content
    if op == "huge shape":
        content = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (2**28,)}, body[:64])
    elif op == "object dtype":
        content = npy_bytes({"descr": "|O", "fortran_order": False, "shape": (1,)}, pickle.dumps([1]))
    elif op == "wrong shape":
        shape = rng.choice([(1,), (3, 3), (0,), (7, 2, 1)])
        content = npy_bytes({"descr": "<f8", "fortran_order": False, "shape": shape}, bytes(8 * math.prod(shape)))
    elif op == "empty":
        content = npy_bytes({"descr": "<f4", "fortran_order": False, "shape": (0, 0)}, b"")
    elif op == "cut data":
        content = content[: max(0, len(content) - rng.randint(1, 64))]
    elif op == "string dtype":
        content = npy_bytes({"descr": "<U1000000", "fortran_order": False, "shape": (1000,)}, b"")
    else:
        content = content[:10] + b"{'descr': 5, " + content[23:]
    entries[at] = (name, content)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for entry_name, entry in entries:
            target.writestr(entry_name, entry)
    return f"{op} in {name}", out.getvalue()


def member_cases(rng: random.Random, model: str, members: Members) -> tuple[str, Members]:
    """One member-level mutation of ``model``'s archive: ``(description, members)``."""
    files = [i for i, (info, data) in enumerate(members) if data is not None]
    by_kind: dict[str, list[int]] = {}
    for i in files:
        by_kind.setdefault(member_kind(members[i][0].name), []).append(i)
    kind = rng.choice(sorted(by_kind))
    at = rng.choice(by_kind[kind])
    info, data = members[at]
    assert data is not None
    if kind in ("json", "metadata.json") and rng.random() < 0.5:
        what, new = mutate_json(rng, data)
    elif kind == "npz" and rng.random() < 0.5:
        what, new = mutate_npz(rng, data)
    else:
        what, new = mutate_bytes(rng, data, kind)
    changed = list(members)
    changed[at] = (info, new)
    return f"{kind} {info.name}: {what}", changed


# --- tar-level attacks -------------------------------------------------------------------------------


class _Pwn:
    """Unpickling this writes a file: proof that a pickle was loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def attacks(members: Members, root: Path, token: str, sizes: dict[str, int]) -> dict[str, Callable[[], Members | bytes]]:
    """Tar-level attacks on one model's members; each gives new members (or raw archive bytes)."""
    outside = root / "outside"
    component_files = [(i, info) for i, (info, data) in enumerate(members) if data is not None and "/" in info.name]
    first_file = component_files[0][1].name if component_files else "x/y.json"
    folder = first_file.split("/")[0]
    npz = next((info.name for info, _ in members if info.name.endswith(".npz")), None)
    meta_at = next(i for i, (info, _) in enumerate(members) if info.name == "metadata.json")
    metadata = json.loads(members[meta_at][1] or b"{}")

    def plus(*extra: tuple[tarfile.TarInfo, bytes | None]) -> Members:
        return list(members) + list(extra)

    def with_metadata(change: Callable[[dict[str, Any]], Any]) -> Members:
        meta = json.loads(members[meta_at][1] or b"{}")
        change(meta)
        changed = list(members)
        changed[meta_at] = (members[meta_at][0], json.dumps(meta).encode())
        return changed

    def replaced(name: str, info: tarfile.TarInfo, data: bytes | None) -> Members:
        return [(info, data) if old.name == name else (old, old_data) for old, old_data in members]

    def pickled_npz() -> Members:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as target:
            array = pickle.dumps(_Pwn(str(outside / "unpickled")), protocol=2)
            target.writestr("W.npy", npy_bytes({"descr": "|O", "fortran_order": False, "shape": (1,)}, array))
        return replaced(npz, file_info(npz), buffer.getvalue()) if npz else plus((file_info("x.npz"), buffer.getvalue()))

    def deep_metadata() -> Members:
        changed = list(members)
        depth = 100_000
        changed[meta_at] = (members[meta_at][0], b'{"components": ' + b"[" * depth + b"]" * depth + b"}")
        return changed

    def many_members() -> Members:
        return plus(*[(file_info(f"{folder}/many-{i}.txt"), b"x") for i in range(sizes["members"])])

    def cut(keep: Callable[[int], int]) -> Callable[[], bytes]:
        def make() -> bytes:
            buffer = root / "whole.tar.gz"
            write_archive(buffer, members)
            data = buffer.read_bytes()
            buffer.unlink()
            return data[: keep(len(data))]
        return make

    table: dict[str, Callable[[], Members | bytes]] = {
        "absolute member name (into the case folder)": lambda: plus((file_info(str(outside / "absolute")), b"pwned")),
        "absolute member name (into the system temp folder)":
            lambda: plus((file_info(f"{tempfile.gettempdir()}/{token}-absolute"), b"pwned")),
        "'..' member name": lambda: plus((file_info("../../outside/dotdot"), b"pwned")),
        "'..' inside a member name": lambda: plus((file_info(f"{folder}/../../../outside/dotdot2"), b"pwned")),
        "symlink to a folder outside, then a file through it": lambda: plus(
            (file_info("evil", tarfile.SYMTYPE, linkname=str(outside)), None), (file_info("evil/through-link"), b"pwned")),
        "component file replaced by a symlink to a file outside":
            lambda: replaced(first_file, file_info(first_file, tarfile.SYMTYPE, linkname=str(outside / "victim.txt")), None),
        "hard link to a file outside, then written": lambda: plus(
            (file_info("hard", tarfile.LNKTYPE, linkname="../../outside/victim.txt"), None), (file_info("hard"), b"pwned")),
        "character device": lambda: plus((file_info("dev-null", tarfile.CHRTYPE, devmajor=1, devminor=3), None)),
        "block device": lambda: plus((file_info("dev-block", tarfile.BLKTYPE, devmajor=7, devminor=0), None)),
        "FIFO": lambda: plus((file_info(f"{folder}/fifo", tarfile.FIFOTYPE), None)),
        "metadata.json twice (second one with no components)":
            lambda: plus((file_info("metadata.json"), json.dumps({**metadata, "components": []}).encode())),
        "a component file twice": lambda: plus(next((info, data) for info, data in members if info.name == first_file)),
        "no metadata.json": lambda: [m for m in members if m[0].name != "metadata.json"],
        "a component's folder missing": lambda: [m for m in members if not m[0].name.startswith(folder + "/")
                                                   and m[0].name != folder],
        "component folder '../outside' in metadata.json": lambda: with_metadata(
            lambda meta: meta["components"][0].update(folder="../outside")),
        "newer archive format": lambda: with_metadata(lambda meta: meta.update(format_version=99, intently_version="99.0")),
        "metadata.json is a list": lambda: replaced("metadata.json", members[meta_at][0], b"[]"),
        "member not named by metadata.json": lambda: plus((file_info("extra/unnamed.bin"), os.urandom(1024))),
        "a component file is a folder": lambda: replaced(first_file, file_info(first_file, tarfile.DIRTYPE, mode=0o755), None),
        "metadata.json nested 100,000 deep": deep_metadata,
        f"{sizes['members']:,} members": many_members,
        "object-dtype array holding a pickle that writes a file": pickled_npz,
        "archive cut in half": cut(lambda size: size // 2),
        "archive cut to 100 bytes": cut(lambda size: 100),
        "archive less its last 10 bytes (gzip trailer)": cut(lambda size: size - 10),
        "not gzip": lambda: os.urandom(4096),
        "empty file": lambda: b"",
        "gzip of something that is not tar": lambda: _gzip(b"not a tar file" * 100),
        "member name of 300 characters (GNU/pax long name)": lambda: plus((file_info(f"{folder}/{'n' * 300}"), b"x")),
    }
    if npz:
        table["huge array shape in an .npz header (2 GiB claimed)"] = lambda: replaced(
            npz, file_info(npz), _npz({"W.npy": npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (2**28,)}, b"")}))
    return table


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


def _npz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name, data in entries.items():
            target.writestr(name, data)
    return buffer.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def zeros_archive(path: Path, members: Members, name: str, size_mb: int) -> None:
    """``members`` plus one member of ``size_mb`` MiB of zeros (a gzip bomb when large), streamed."""
    import gzip

    with gzip.open(path, "wb", compresslevel=9) as out, tarfile.open(fileobj=out, mode="w|") as tar:
        for info, data in members:
            info = _copy(info)
            info.size = len(data) if data is not None and info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.size else None)
        info = file_info(name)
        info.size = size_mb * MB
        tar.addfile(info, io.BufferedReader(_Zeros(info.size), 1 << 20))


# --- loading one case --------------------------------------------------------------------------------


def load_and_parse(job: dict[str, Any], result_file: Path) -> None:
    """In the child: load, parse :data:`MESSAGES`, check the results, close; write the outcome."""
    import intently
    from intently.errors import IntentlyError

    phase = "load"
    try:
        interpreter = intently.load_model(job["archive"])
        unpacked_mb = folder_size(Path(tempfile.gettempdir())) / MB
        phase = "parse"
        wrong = [problem for text in MESSAGES for problem in check_parse(text, interpreter.parse(text))]
        phase = "close"
        close = getattr(interpreter, "close", None)
        if callable(close):
            close()
        del interpreter
        gc.collect()
        outcome: dict[str, Any] = {"class": "wrong", "error": "; ".join(wrong[:3])} if wrong else {"class": "ok"}
        outcome["unpacked_mb"] = round(unpacked_mb, 1)
    except IntentlyError as error:
        outcome = {"class": "clean", "error": str(error).splitlines()[0][:200]}
    except MemoryError:
        outcome = {"class": "memory", "error": "MemoryError"}
    except Exception as error:  # noqa: BLE001 - what the benchmark counts
        outcome = {"class": "traceback", "error": f"{type(error).__name__}: {str(error)[:200]}",
                   "where": short_traceback(error)}
    write_result(result_file, {"phase": phase, **outcome})


def check_parse(text: str, result: Any) -> list[str]:
    """What is wrong with a parse result (nothing when it is well-formed)."""
    problems = []
    if not isinstance(result, dict) or result.get("text") != text:
        return [f"no result dict for {text[:20]!r}"]
    try:
        json.dumps(result, allow_nan=False)
    except (TypeError, ValueError) as error:
        problems.append(f"not JSON: {error}")
    intent = result.get("intent")
    if intent is not None:
        confidence = intent.get("confidence") if isinstance(intent, dict) else None
        if not isinstance(intent, dict) or not (confidence is None or 0.0 <= confidence <= 1.0):
            problems.append(f"bad intent {str(intent)[:60]}")
    for entity in result.get("entities", []):
        start, end = entity.get("start"), entity.get("end")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text)):
            problems.append(f"bad entity span {start}-{end}")
        elif not isinstance(entity.get("entity"), str):
            problems.append(f"bad entity {str(entity)[:60]}")
    return problems


def folder_size(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def snapshot(root: Path, skip: set[str]) -> dict[str, tuple[int, int, bool]]:
    """Every path under ``root`` (but the ``skip`` names at the top) with size, mtime and link flag."""
    state = {}
    for dirpath, dirs, files in os.walk(root):
        if Path(dirpath) == root:
            dirs[:] = [d for d in dirs if d not in skip]
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if Path(dirpath) == root and name in skip:
                continue
            stat = os.lstat(path)
            state[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns, os.path.islink(path))
    return state


# --- the run -----------------------------------------------------------------------------------------


RESULT_NAMES = {"result.json", "result.json.part", "result.json.crash"}


def prepare_case(root: Path) -> None:
    for name in ("outside", "tmp", "cwd"):
        (root / name).mkdir(parents=True)
    (root / "outside" / "victim.txt").write_text("untouched\n")


def run_archives(count: int, seed: int, archives: dict[str, Path], workers: int, limits: Limits, work_dir: Path,
                 sizes: dict[str, int], examples: int = 10) -> dict[str, Any]:
    """Build and load ``count`` damaged archives (every tar-level attack at least once when count allows)."""
    rng = random.Random(seed)
    members = {name: read_members(path) for name, path in archives.items()}
    cases_dir = work_dir / "cases"
    token = f"intently-robustness-{os.getpid()}-{seed}"
    plans: list[tuple[str, str, Any]] = []  # (model, description, attack name or rng seed)
    attack_names = {model: list(attacks(m, cases_dir / "x", token, sizes)) for model, m in members.items()}
    for model, names in attack_names.items():
        plans += [(model, name, name) for name in names]
    first = sorted(members)[0]
    plans.append((first, f"gzip bomb: a member of {sizes['bomb_mb']:,} MiB of zeros", "bomb"))
    plans.append((first, f"a member unpacking to {sizes['big_mb']} MiB", "big"))
    if count < len(plans):
        plans = rng.sample(plans, count)
    models = sorted(members)
    while len(plans) < count:
        plans.append((models[len(plans) % len(models)], "member mutation", rng.randrange(2**32)))
    bomb = work_dir / "bomb.tar.gz"
    counts = dict.fromkeys(CLASSES, 0)
    outside_count = leftovers = 0
    failures: dict[str, list[dict[str, Any]]] = {name: [] for name in CLASSES if name not in ("ok", "clean")}
    failures.update(outside=[], leftovers=[])
    by_kind: dict[str, dict[str, int]] = {}
    seen: set[tuple[str, str]] = set()
    largest_unpacked = (0.0, "")
    running: dict[int, Child] = {}
    started = time.monotonic()

    def start(number: int, plan: tuple[str, str, Any]) -> None:
        model, description, how = plan
        root = cases_dir / f"case-{number}"
        prepare_case(root)
        archive = root / "model.tar.gz"
        if how == "bomb":
            if not bomb.exists():
                zeros_archive(bomb, members[model], "bomb/zeros.bin", sizes["bomb_mb"])
            archive = bomb
        elif how == "big":
            zeros_archive(archive, members[model], f"{members[model][1][0].name.split('/')[0]}/big.bin", sizes["big_mb"])
        elif isinstance(how, str):
            built = attacks(members[model], root, token, sizes)[how]()
            if isinstance(built, bytes):
                archive.write_bytes(built)
            else:
                write_archive(archive, built)
        else:
            description, changed = member_cases(random.Random(how), model, members[model])
            write_archive(archive, changed)
        job = {"number": number, "model": model, "description": description, "archive": str(archive),
               "kind": "tar" if isinstance(how, str) else description.split(" ")[0],
               "archive_kb": round(archive.stat().st_size / 1024, 1), "root": root,
               "before": snapshot(root, {"tmp"} | RESULT_NAMES)}
        child = fork_child(load_and_parse, job, root / "result.json", limits, temp_dir=root / "tmp", cwd=root / "cwd")
        running[child.pid] = child

    def finish(child: Child, exit_: dict[str, Any]) -> None:
        nonlocal outside_count, leftovers, largest_unpacked
        job = child.job
        root: Path = job["root"]
        result = read_result(root / "result.json")
        if exit_["status"] == "timeout":
            outcome = {"class": "hang", "error": f"no end after {limits.seconds:g} s"}
        elif exit_["status"] == "signal":
            name = exit_["signal"]
            outcome = {"class": "memory" if name in ("SIGXFSZ", "SIGKILL") else "crash",
                       "error": f"killed by {name}" + (" (file-size cap)" if name == "SIGXFSZ" else "")}
        elif result is None:
            crash = root / "result.json.crash"
            outcome = {"class": "crash", "error": f"exit {exit_['code']}: "
                       + (crash.read_text()[-300:] if crash.exists() else "no result")}
        else:
            outcome = result
        name = outcome["class"]
        counts[name] += 1
        by_kind.setdefault(job["kind"], dict.fromkeys(CLASSES, 0))[name] += 1
        if outcome.get("unpacked_mb", 0) > largest_unpacked[0]:
            largest_unpacked = (outcome["unpacked_mb"], f"{job['description']} ({job['archive_kb']} KB archive)")
        example = {"case": job["number"], "model": job["model"], "attack": job["description"],
                   "archive_kb": job["archive_kb"], **{k: v for k, v in outcome.items() if k != "class"}}
        if name in failures:
            where = outcome.get("where", [outcome.get("error", "")[:30]])[-1:]
            key = (name, job["description"] if job["kind"] == "tar" else f"{job['kind']} {where}")
            if key not in seen and len(failures[name]) < examples:
                seen.add(key)
                failures[name].append(example)
        after = snapshot(root, {"tmp"} | RESULT_NAMES)
        changed = sorted(set(after) ^ set(job["before"]) | {p for p in after if job["before"].get(p, after[p]) != after[p]})
        escaped = sorted(str(p) for p in Path(tempfile.gettempdir()).glob(f"{token}*"))
        if changed or escaped:
            outside_count += 1
            if len(failures["outside"]) < examples:
                failures["outside"].append({**example, "written": (changed + escaped)[:10]})
            for path in escaped:
                Path(path).unlink(missing_ok=True)
        if exit_["status"] == "exited":
            left = sorted(os.listdir(root / "tmp"))
            if left:
                leftovers += 1
                if len(failures["leftovers"]) < examples:
                    failures["leftovers"].append({**example, "left": left[:5]})
        shutil.rmtree(root, ignore_errors=True)

    for number, plan in enumerate(plans):
        while len(running) >= workers:
            for child, exit_ in reap(running, limits.seconds):
                finish(child, exit_)
        start(number, plan)
    while running:
        for child, exit_ in reap(running, limits.seconds):
            finish(child, exit_)
    bomb.unlink(missing_ok=True)
    return {"archives": len(plans), "seed": seed, "seconds": round(time.monotonic() - started, 1),
            "counts": counts, "outside": outside_count, "leftovers": leftovers, "by_kind": by_kind,
            "largest_unpacked_while_loaded_mb": {"mb": largest_unpacked[0], "case": largest_unpacked[1]},
            "examples": failures}
