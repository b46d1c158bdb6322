"""Hostile and damaged archives: each must end in a clean IntentlyError or a correct parse.

Never a crash, a hang, a raw Python exception, a file outside the target or
more bytes unpacked or allocated than the limits allow.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from intently import __version__
from intently.archive import extract_archive, read_archive_metadata
from intently.errors import (
    ArchiveLimitError,
    ComponentError,
    IncompatibleModelError,
    IntentlyError,
    InvalidArchiveError,
    UnsafeArchiveError,
)
from intently.interpreter import Interpreter
from intently.limits import ArchiveLimits, json_depth
from intently.plugins.featurizers.language_model.safetensors import SafetensorsError, read_safetensors
from intently.trainer import Trainer
from intently.training_data.loading import load_data

REPO = Path(__file__).resolve().parents[1]
TINY_BERT = REPO / "tests" / "data" / "tiny_bert" / "model.safetensors"

NLU = """\
version: "3.1"
nlu:
- intent: 问候
  examples: |
    - 你好
    - 早上好
    - 你好啊朋友
    - 晚上好
- intent: 天气
  examples: |
    - [北京](city)今天天气怎么样
    - [上海](city)会下雨吗
    - 明天[广州](city)冷不冷
    - [北京市](city:北京)热吗
- intent: 订餐
  examples: |
    - 帮我订一张两个人的桌子
    - 我想订四人桌
    - 今晚订个位子
    - 订一个包间
- regex: phone
  examples: |
    - \\d{11}
"""
TEXTS = ["北京今天天气怎么样", "你好", "帮我订桌子 13812345678"]

LR_PIPELINE = [
    {"name": "JiebaTokenizer"},
    {"name": "RegexFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 2},
    {"name": "LogisticRegressionClassifier"},
]
DIET_PIPELINE = [
    {"name": "JiebaTokenizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "DIETClassifier", "epochs": 2, "transformer_size": 16, "number_of_transformer_layers": 1,
     "number_of_attention_heads": 2, "dense_dimension": {"text": 16, "label": 8}, "random_seed": 1},
    {"name": "EntitySynonymMapper"},
]


def train_model(folder: Path, pipeline: list[dict], name: str) -> Path:
    data = folder / "nlu.yml"
    data.write_text(NLU, encoding="utf-8")
    interpreter = Trainer({"language": "zh", "pipeline": pipeline}).train(load_data(data))
    return interpreter.persist(folder / "models", fixed_model_name=name)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("attack-models")
    return {"lr": train_model(folder, LR_PIPELINE, "lr"), "diet": train_model(folder, DIET_PIPELINE, "diet")}


# --- building archives -------------------------------------------------------------------------------


def metadata(components: list[dict] | None = None, **changes) -> bytes:
    data = {"format_version": 1, "intently_version": __version__, "config": {}, "components": components or []}
    data.update(changes)
    return json.dumps(data).encode()


def member(name: str, data: bytes = b"{}", kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, (data if kind == tarfile.REGTYPE else None)


def write_tar(path: Path, members: list[tuple]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def archive_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def repack(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    """``source`` with the files named in ``replace`` swapped (same order, same folders)."""
    with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
        for info in old:
            if info.isfile():
                data = replace.get(info.name, old.extractfile(info).read())
                info.size = len(data)
                new.addfile(info, io.BytesIO(data))
            else:
                new.addfile(info)
    return target


def bomb(path: Path, size: int, *, name: str = "0_X/big.npz", pax: bool = False) -> Path:
    """A gzip'd tar whose one member holds ``size`` zero bytes (or a PAX header record that long), streamed."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9) as out:
        meta = metadata([{"folder": "0_X", "files": ["big.npz"]}])
        head = tarfile.TarInfo("metadata.json")
        head.size = len(meta)
        out.write(head.tobuf(format=tarfile.USTAR_FORMAT) + meta + b"\0" * (-len(meta) % 512))
        info = tarfile.TarInfo(name)
        info.size = size
        if pax:
            info.type = tarfile.XHDTYPE
        out.write(info.tobuf(format=tarfile.USTAR_FORMAT))
        block = b"\0" * (1 << 20)
        left = size
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
        out.write(b"\0" * (-size % 512) + b"\0" * 1024)
    return path


def assert_nothing_written(folder: Path) -> None:
    leftover = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert leftover == []


# --- classic attacks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        member("/tmp/evil"),
        member("../evil"),
        member("0_X/../../evil"),
        member("0_X/link", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
        member("0_X/link", kind=tarfile.SYMTYPE, linkname="../../evil"),
        member("0_X/inside", kind=tarfile.SYMTYPE, linkname="file.json"),
        member("0_X/hard", kind=tarfile.LNKTYPE, linkname="metadata.json"),
        member("0_X/fifo", kind=tarfile.FIFOTYPE),
        member("0_X/chr", kind=tarfile.CHRTYPE),
        member("0_X/blk", kind=tarfile.BLKTYPE),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "symlink-abs", "symlink-out", "symlink-in", "hardlink",
         "fifo", "char-device", "block-device"],
)
def test_unsafe_members_are_refused_and_nothing_is_written(tmp_path, bad):
    archive = write_tar(tmp_path / "bad.tar.gz", [member("metadata.json", metadata()), bad])
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_duplicate_members_are_refused(tmp_path):
    comps = [{"folder": "0_X", "files": ["a.json"]}]
    archive = write_tar(tmp_path / "dup.tar.gz", [
        member("metadata.json", metadata(comps)), member("0_X/a.json", b"1"), member("0_X/./a.json", b"2"),
    ])
    with pytest.raises(UnsafeArchiveError, match="same member twice"):
        extract_archive(archive, tmp_path / "out")


def test_members_metadata_does_not_name_are_refused(tmp_path):
    comps = [{"folder": "0_X", "files": ["a.json"]}]
    archive = write_tar(tmp_path / "extra.tar.gz", [
        member("metadata.json", metadata(comps)), member("0_X/a.json"), member("0_X/payload.so", b"\x7fELF"),
    ])
    with pytest.raises(UnsafeArchiveError, match="'0_X/payload.so' is not named in metadata.json"):
        extract_archive(archive, tmp_path / "out")
    assert_nothing_written(tmp_path / "out")
    named = write_tar(tmp_path / "ok.tar.gz", [member("metadata.json", metadata(comps)), member("0_X/a.json")])
    assert (extract_archive(named, tmp_path / "ok") / "0_X" / "a.json").read_bytes() == b"{}"


def test_newer_version_missing_metadata_truncated_and_not_gzip(tmp_path, models):
    newer = write_tar(tmp_path / "new.tar.gz", [member("metadata.json", metadata(intently_version="99.0"))])
    with pytest.raises(IncompatibleModelError, match="newer intently"):
        Interpreter.load(newer)
    missing = write_tar(tmp_path / "none.tar.gz", [member("0_X/a.json")])
    with pytest.raises(InvalidArchiveError, match="no metadata.json"):
        Interpreter.load(missing)
    data = models["lr"].read_bytes()
    for cut in (10, len(data) // 2, len(data) - 9):
        truncated = tmp_path / f"cut{cut}.tar.gz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(InvalidArchiveError):
            Interpreter.load(truncated)
    (tmp_path / "junk.tar.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)))
    with pytest.raises(InvalidArchiveError):
        Interpreter.load(tmp_path / "junk.tar.gz")


# --- resource limits ----------------------------------------------------------------------------------


def test_gzip_bomb_stops_at_the_member_limit_at_once(tmp_path):
    archive = bomb(tmp_path / "bomb.tar.gz", 64 << 20)  # 64 MiB of zeros, about 64 KB of gzip
    assert archive.stat().st_size < 200_000
    limits = ArchiveLimits(max_member_bytes=1 << 20)
    with pytest.raises(ArchiveLimitError, match="'0_X/big.npz' is 67108864 bytes; the limit max_member_bytes"):
        Interpreter.load(archive, limits=limits)
    with pytest.raises(ArchiveLimitError, match="max_unpacked_bytes"):
        extract_archive(archive, tmp_path / "out", limits=ArchiveLimits(max_unpacked_bytes=1 << 20))
    assert_nothing_written(tmp_path / "out")


def test_huge_header_records_are_bounded_too(tmp_path):
    # A PAX header record is read whole into memory by tarfile: the stream budget stops it.
    archive = bomb(tmp_path / "pax.tar.gz", 32 << 20, pax=True)
    with pytest.raises(ArchiveLimitError):
        extract_archive(archive, tmp_path / "out")


def test_limits_from_the_environment(tmp_path, monkeypatch, models):
    monkeypatch.setenv("INTENTLY_MAX_ARCHIVE_BYTES", "1K")
    with pytest.raises(ArchiveLimitError, match="INTENTLY_MAX_ARCHIVE_BYTES") as error:
        Interpreter.load(models["lr"])
    assert error.value.code == "E405" and "lr.tar.gz" in str(error.value)
    monkeypatch.setenv("INTENTLY_MAX_ARCHIVE_BYTES", "lots")
    with pytest.raises(IntentlyError, match="INTENTLY_MAX_ARCHIVE_BYTES='lots' is not a number"):
        Interpreter.load(models["lr"])
    monkeypatch.setenv("INTENTLY_MAX_ARCHIVE_BYTES", "2G")
    assert ArchiveLimits.from_env().max_unpacked_bytes == 2 * 1024**3
    assert Interpreter.load(models["lr"]).parse("你好")["intent"]["name"] == "问候"


def test_too_many_members(tmp_path):
    files = [f"{i}.json" for i in range(20)]
    members = [member("metadata.json", metadata([{"folder": "0_X", "files": files}]))]
    members += [member(f"0_X/{name}") for name in files]
    archive = write_tar(tmp_path / "many.tar.gz", members)
    with pytest.raises(ArchiveLimitError, match="max_members"):
        extract_archive(archive, tmp_path / "out", limits=ArchiveLimits(max_members=10))
    assert len(list((extract_archive(archive, tmp_path / "ok") / "0_X").iterdir())) == 20


def test_deeply_nested_json_is_a_clean_error(tmp_path, models):
    deep = b'{"format_version": 1, "intently_version": "0.1.0", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    archive = write_tar(tmp_path / "deep.tar.gz", [member("metadata.json", deep)])
    for read in (lambda: Interpreter.load(archive), lambda: read_archive_metadata(archive)):
        with pytest.raises(ArchiveLimitError, match="metadata.json is nested 100001 levels deep"):
            read()
    # The same in a component's state file.
    files = archive_members(models["lr"])
    state = next(name for name in files if name.startswith("2_") and name.endswith(".json"))
    nested = repack(models["lr"], tmp_path / "deep-state.tar.gz", {state: b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"})
    with pytest.raises(ArchiveLimitError, match="nested 5001 levels"):
        Interpreter.load(nested)
    assert json_depth('{"a": "[[[[", "b": [1, {"c": []}]}') == 4


def npy_with_header(header: dict, data: bytes) -> bytes:
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue() + data


def npz(arrays: dict[str, bytes]) -> bytes:
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in arrays.items():
            out.writestr(f"{name}.npy", data)
    return stream.getvalue()


def lr_arrays_member(models) -> str:
    return next(name for name in archive_members(models["lr"]) if name.endswith(".npz"))


def test_npz_header_claiming_a_huge_shape_fails_before_allocating(tmp_path, models):
    huge = npy_with_header({"descr": "<f8", "fortran_order": False, "shape": (1 << 20, 1 << 14)}, b"\0" * 4096)
    payload = npz({"coef": huge, "intercept": huge})
    assert len(payload) < 25_000
    archive = repack(models["lr"], tmp_path / "huge.tar.gz", {lr_arrays_member(models): payload})
    tracemalloc.start()
    try:
        with pytest.raises(ComponentError, match=r"claims shape \(1048576, 16384\)"):
            Interpreter.load(archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 << 20


def test_packed_array_shapes_cannot_ask_for_more_than_their_bitmap(tmp_path, models):
    from intently.persistence import load_arrays

    stream = io.BytesIO()
    np.savez(stream, **{"w.bits": np.zeros(16, np.uint8), "w.values": np.zeros(0, np.float32),
                        "w.shape": np.array([1 << 30, 1 << 10])})
    (tmp_path / "p.npz").write_bytes(stream.getvalue())
    with pytest.raises(ValueError, match="does not fit its 16-byte bitmap"):
        load_arrays(tmp_path, "p.npz")


@pytest.mark.parametrize("descr", ["|O", [("a", "<f4")], "<M8[s]", "|V8"])
def test_object_and_odd_dtypes_are_refused(tmp_path, models, descr):
    data = npy_with_header({"descr": descr, "fortran_order": False, "shape": (2,)}, b"\0" * 16)
    archive = repack(models["lr"], tmp_path / "odd.tar.gz", {lr_arrays_member(models): npz({"coef": data})})
    with pytest.raises(ComponentError, match="dtype"):
        Interpreter.load(archive)


def test_pickled_object_array_is_never_unpickled(tmp_path, models, monkeypatch):
    import pickle

    stream = io.BytesIO()
    np.savez(stream, coef=np.array([{"x": 1}, None], dtype=object), intercept=np.zeros(3))
    archive = repack(models["lr"], tmp_path / "pickle.tar.gz", {lr_arrays_member(models): stream.getvalue()})

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    with pytest.raises(ComponentError, match="dtype '\\|O'"):
        Interpreter.load(archive)


# --- byte mutations of every component file --------------------------------------------------------


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """Truncate, or xor 1 to 4 random bytes."""
    data = bytearray(data)
    if rng.random() < 0.15 and len(data) > 1:
        return bytes(data[: rng.randrange(1, len(data))])
    for _ in range(rng.randint(1, 4)):
        if data:
            data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
    return bytes(data)


def mutate(name: str, data: bytes, rng: random.Random) -> bytes:
    """Raw damage half the time; else damage that passes the outer checks:
    JSON punctuation and digits swapped, or .npy bytes (header or values) changed inside a valid zip."""
    if rng.random() < 0.5:
        return flip_bytes(data, rng)
    if name.endswith(".npz"):
        with zipfile.ZipFile(io.BytesIO(data)) as old:
            members = {info.filename: old.read(info) for info in old.infolist()}
        victim = rng.choice(sorted(members))
        raw = bytearray(members[victim])
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(min(len(raw), 128) if rng.random() < 0.5 else len(raw))] ^= rng.randrange(1, 256)
        members[victim] = bytes(raw)
        return npz({key[:-4]: value for key, value in members.items()})
    text = bytearray(data)
    ascii_positions = [i for i, byte in enumerate(text) if byte < 128]
    for _ in range(rng.randint(1, 3)):
        text[rng.choice(ascii_positions)] = ord(rng.choice('0123456789[]{}",:-.aez '))
    return bytes(text)


@pytest.mark.parametrize("model", ["lr", "diet"])
def test_byte_mutations_end_in_a_clean_error_or_a_parse(tmp_path, models, model):
    rng = random.Random(20)
    files = archive_members(models[model])
    kinds = {Path(name).suffix for name in files}
    assert {".json", ".npz"} <= kinds
    outcomes = {"error": 0, "parsed": 0}
    for name, data in files.items():
        for trial in range(10):
            archive = repack(models[model], tmp_path / f"m{trial}.tar.gz", {name: mutate(name, data, rng)})
            try:
                with Interpreter.load(archive) as interpreter:
                    for text in TEXTS:
                        result = interpreter.parse(text)
                        assert result["text"] == text and isinstance(result["entities"], list)
                    interpreter.parse_batch(TEXTS)
            except IntentlyError as error:
                assert str(error).startswith("[E")
                outcomes["error"] += 1
            else:
                outcomes["parsed"] += 1
    assert outcomes["error"] > 0 and outcomes["parsed"] > 0, outcomes


def test_safetensors_mutations_end_in_a_clean_error_or_arrays(tmp_path):
    rng = random.Random(5)
    data = TINY_BERT.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    for trial in range(60):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            mutated[rng.randrange(header_end if trial % 2 else 8)] ^= rng.randrange(1, 256)
        path = tmp_path / "m.safetensors"
        path.write_bytes(bytes(mutated))
        try:
            read_safetensors(path)
        except (SafetensorsError, ValueError, IntentlyError):
            pass
    deep = b"[" * 50_000 + b"]" * 50_000
    path.write_bytes(len(deep).to_bytes(8, "little") + deep)
    with pytest.raises(IntentlyError, match="nested"):
        read_safetensors(path)


# --- from the command line -------------------------------------------------------------------------------


def test_cli_reports_a_bad_archive_without_a_traceback(tmp_path):
    bad = bomb(tmp_path / "bad.tar.gz", 8 << 20)
    result = subprocess.run(
        [sys.executable, "-m", "intently", "parse", "-m", str(bad), "你好"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "INTENTLY_MAX_MEMBER_BYTES": "1M"},
    )
    assert result.returncode == 1, result.stderr
    assert "[E405]" in result.stderr and "INTENTLY_MAX_MEMBER_BYTES" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _saved_npz(**arrays) -> bytes:
    stream = io.BytesIO()
    np.savez(stream, **arrays)
    return stream.getvalue()


@pytest.mark.parametrize(
    "damage",
    [
        {"intercept": np.zeros((0, 0))},  # emptied: broadcast error at parse before
        {"coef": np.zeros(5)},  # one-dimensional: IndexError at parse before
        {"coef": np.full((3, 4), np.nan)},
    ],
    ids=["empty-intercept", "flat-coef", "nan-coef"],
)
def test_logistic_regression_arrays_that_do_not_fit_are_refused_at_load(tmp_path, models, damage):
    name = lr_arrays_member(models)
    with np.load(io.BytesIO(archive_members(models["lr"])[name]), allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    arrays.update(damage)
    archive = repack(models["lr"], tmp_path / "lr.tar.gz", {name: _saved_npz(**arrays)})
    with pytest.raises(ComponentError, match="cannot read its model files"):
        Interpreter.load(archive)


def test_logistic_regression_intents_that_do_not_fit_the_weights_are_refused_at_load(tmp_path, models):
    members = archive_members(models["lr"])
    name = next(n for n in members if n.endswith("LogisticRegressionClassifier.json"))
    labels = json.loads(members[name])
    labels["classes"] = labels["classes"][:-1]  # IndexError at parse before
    archive = repack(models["lr"], tmp_path / "lr.tar.gz", {name: json.dumps(labels).encode()})
    with pytest.raises(ComponentError, match="cannot read its model files"):
        Interpreter.load(archive)


def test_lexical_syntactic_vocabulary_items_that_do_not_parse_are_refused_at_load(tmp_path):
    pipeline = [
        {"name": "JiebaTokenizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "LogisticRegressionClassifier"},
    ]
    model = train_model(tmp_path, pipeline, "lexical")
    members = archive_members(model)
    name = next(n for n in members if n.endswith(".lexical.json"))
    state = json.loads(members[name])
    state["vocabulary"]["items"][0] = "broken"  # not "position:feature:value": ValueError at parse before
    archive = repack(model, tmp_path / "lexical-bad.tar.gz", {name: json.dumps(state).encode()})
    with pytest.raises(ComponentError, match="cannot read .*not enough values"):
        Interpreter.load(archive)
