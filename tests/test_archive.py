"""Model archives: atomic writing, safe loading, metadata and version checks."""

import io
import json
import tarfile
from pathlib import Path

import pytest

from intently import Message
from intently.archive import create_archive, extract_archive, find_latest_model
from intently.fileio import atomic_write_path
from intently.errors import (
    ComponentNotFoundError,
    IncompatibleModelError,
    InvalidArchiveError,
    ModelNotFoundError,
    UnsafeArchiveError,
)
from intently.interpreter import Interpreter
from intently.trainer import Trainer
from intently.training_data import TrainingData

from toy_components import toy_registry

TEXTS = {
    "greet": ["hello there", "hi friend", "hey you", "hello hello"],
    "bye": ["bye now", "see you", "so long", "bye bye"],
}


def toy_data() -> TrainingData:
    return TrainingData(
        training_examples=[Message(text, intent=intent) for intent, texts in TEXTS.items() for text in texts]
    )


def toy_model(tmp_path: Path, **kwargs) -> Path:
    config = {"pipeline": [{"name": "ToyTokenizer"}, {"name": "ToyFeaturizer"}, {"name": "ToyClassifier"}]}
    interpreter = Trainer(config, registry=toy_registry()).train(toy_data())
    return interpreter.persist(tmp_path / "models", **kwargs)


def test_round_trip_gives_identical_parses_and_metadata(tmp_path):
    registry = toy_registry()
    config = {"pipeline": [{"name": "ToyTokenizer"}, {"name": "ToyFeaturizer"}, {"name": "ToyClassifier"}]}
    trained = Trainer(config, registry=registry).train(toy_data())
    path = trained.persist(tmp_path / "models", fixed_model_name="toy")
    assert path == tmp_path / "models" / "toy.tar.gz"
    loaded = Interpreter.load(path, registry=registry)
    for text in ["hello", "bye bye", "see you soon", ""]:
        assert loaded.parse(text) == trained.parse(text)
    meta = loaded.metadata.to_dict()
    assert meta["intently_version"]
    assert meta["labels"]["intents"] == ["bye", "greet"]
    assert set(meta["fingerprint"]) == {"data", "config", "combined"}
    assert meta["training_examples"] == 8
    assert meta["training_duration_seconds"] >= 0
    assert [c["folder"] for c in meta["components"]] == ["0_ToyTokenizer", "1_ToyFeaturizer", "2_ToyClassifier"]
    assert meta["components"][2]["files"] == ["2_ToyClassifier.json"]
    assert meta["config"]["pipeline"][0] == {"name": "ToyTokenizer"}


def test_default_name_is_timestamp_and_fingerprint(tmp_path):
    path = toy_model(tmp_path)
    stamp_date, stamp_time, fingerprint = path.name[: -len(".tar.gz")].split("-")
    assert len(stamp_date) == 8 and len(stamp_time) == 6 and len(fingerprint) == 8


def test_persist_rejects_names_with_folders(tmp_path):
    from intently.errors import UsageError

    with pytest.raises(UsageError, match="invalid model name"):
        toy_model(tmp_path, fixed_model_name="../evil")


def test_interrupted_write_leaves_no_file_under_the_final_name(tmp_path):
    target = tmp_path / "model.tar.gz"
    target.write_bytes(b"old model")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old model"
    assert list(tmp_path.iterdir()) == [target]


def test_interrupted_persist_keeps_previous_archive(tmp_path, monkeypatch):
    path = toy_model(tmp_path, fixed_model_name="m")
    before = path.read_bytes()
    import intently.archive as archive

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive.tarfile.TarFile, "addfile", explode)
    with pytest.raises(KeyboardInterrupt):
        toy_model(tmp_path, fixed_model_name="m")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.tar.gz"]


def write_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str, data: bytes = b"{}") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.parametrize(
    "member",
    [
        file_member("/etc/evil"),
        file_member("../evil"),
        file_member("a/../../evil"),
        file_member("C:\\evil"),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "windows"],
)
def test_unsafe_paths_are_rejected_before_anything_is_written(tmp_path, member):
    archive = write_tar(tmp_path / "bad.tar.gz", [file_member("metadata.json"), member])
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, target)
    assert not (tmp_path / "evil").exists()
    assert list(target.iterdir()) == []


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE])
def test_links_and_special_files_are_rejected(tmp_path, kind):
    info = tarfile.TarInfo("component/link")
    info.type = kind
    info.linkname = "/etc/passwd"
    archive = write_tar(tmp_path / "bad.tar.gz", [file_member("metadata.json"), (info, None)])
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, tmp_path / "out")


def test_not_an_archive_and_missing_metadata(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(InvalidArchiveError, match="not a readable model archive"):
        extract_archive(junk, tmp_path / "a")
    empty = write_tar(tmp_path / "empty.tar.gz", [file_member("other.json")])
    with pytest.raises(InvalidArchiveError, match="no metadata.json"):
        extract_archive(empty, tmp_path / "b")


def test_missing_model_paths(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such file or folder"):
        find_latest_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="no model archive"):
        find_latest_model(tmp_path / "empty")


def test_newest_archive_is_the_default(tmp_path):
    import os

    folder = tmp_path / "models"
    folder.mkdir()
    for i, name in enumerate(["b.tar.gz", "a.tar.gz", "c.tar.gz"]):
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (1000 + i, 1000 + i))
    (folder / ".c.tar.gz.123.tmp").write_bytes(b"partial")
    assert find_latest_model(folder).name == "c.tar.gz"


def repack(path: Path, tmp_path: Path, edit) -> Path:
    """Unpack an archive, let ``edit`` change its metadata, pack it again."""
    folder = extract_archive(path, tmp_path / "unpacked")
    meta = json.loads((folder / "metadata.json").read_text())
    edit(meta)
    (folder / "metadata.json").write_text(json.dumps(meta))
    return create_archive(folder, tmp_path / "edited.tar.gz")


def test_incompatible_versions_are_refused_clearly(tmp_path):
    path = toy_model(tmp_path)
    old = repack(path, tmp_path / "old", lambda m: m.update(intently_version="0.0.1"))
    with pytest.raises(IncompatibleModelError, match="trained with intently 0.0.1"):
        Interpreter.load(old, registry=toy_registry())
    new = repack(path, tmp_path / "new", lambda m: m.update(intently_version="99.0.0"))
    with pytest.raises(IncompatibleModelError, match="newer intently"):
        Interpreter.load(new, registry=toy_registry())
    fmt = repack(path, tmp_path / "fmt", lambda m: m.update(format_version=7))
    with pytest.raises(IncompatibleModelError, match="archive format 7"):
        Interpreter.load(fmt, registry=toy_registry())


def test_metadata_cannot_point_components_outside_their_folder(tmp_path):
    path = toy_model(tmp_path)

    def escape(meta):
        meta["components"][0]["folder"] = "../../etc"

    bad = repack(path, tmp_path / "x", escape)
    with pytest.raises(InvalidArchiveError, match="not a plain name"):
        Interpreter.load(bad, registry=toy_registry())


def test_archive_cannot_make_loading_import_modules(tmp_path):
    path = toy_model(tmp_path)

    def rename(meta):
        meta["components"][0]["name"] = "unregistered"
        meta["components"][0]["class"] = "some_module_that_would_run_code.Evil"

    bad = repack(path, tmp_path / "x", rename)
    with pytest.raises(ComponentNotFoundError, match="does not import modules"):
        Interpreter.load(bad, registry=toy_registry())


def test_corrupt_component_file_is_a_clear_error(tmp_path):
    path = toy_model(tmp_path)
    folder = extract_archive(path, tmp_path / "unpacked")
    (folder / "2_ToyClassifier" / "2_ToyClassifier.json").write_text("{broken")
    corrupt = create_archive(folder, tmp_path / "corrupt.tar.gz")
    with pytest.raises(InvalidArchiveError, match="ToyClassifier .* could not load its files"):
        Interpreter.load(corrupt, registry=toy_registry())


def test_archive_holds_no_pickle(tmp_path):
    path = toy_model(tmp_path)
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile():
                data = tar.extractfile(member).read()
                assert not data.startswith(b"\x80"), f"{member.name} looks like a pickle"
                assert not member.name.endswith((".pkl", ".pickle", ".joblib"))
