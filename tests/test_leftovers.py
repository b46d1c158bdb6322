"""Unpacked models are removed after loading; what a killed training left is removed by the next one."""

from __future__ import annotations

import gc
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from intently.fileio import atomic_write_path
from intently.interpreter import LOAD_PREFIX, PERSIST_PREFIX, Interpreter
from intently.leftovers import remove_stale_files, remove_stale_temp_dirs
from intently.message import Message
from intently.trainer import Trainer
from intently.training_data import TrainingData

from toy_components import ToyTokenizer, toy_registry

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="leftovers are found by flock locks")

CONFIG = {"pipeline": [{"name": "ToyTokenizer"}, {"name": "ToyFeaturizer"}, {"name": "ToyClassifier"}]}


def toy_data() -> TrainingData:
    texts = {"问候": ["你好", "你好 朋友", "早上 好"], "再见": ["再见", "拜拜", "明天 见"]}
    return TrainingData(training_examples=[Message(t, intent=i) for i, ts in texts.items() for t in ts])


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """A private temp dir for this test (intently's temporary folders go there)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def ours(temp_dir: Path, prefix: str) -> list[Path]:
    return sorted(temp_dir.glob(f"{prefix}*"))


def test_the_unpacked_model_is_removed_once_loaded(tmp_path, temp_dir):
    registry = toy_registry()
    archive = Trainer(CONFIG, registry=registry).train(toy_data()).persist(tmp_path / "models", fixed_model_name="m")
    assert ours(temp_dir, PERSIST_PREFIX) == []
    interpreter = Interpreter.load(archive, registry=registry)
    assert ours(temp_dir, LOAD_PREFIX) == []
    assert interpreter.parse("你好")["intent"]["name"] == "问候"


class FileKeepingTokenizer(ToyTokenizer):
    name = "FileKeepingTokenizer"
    keeps_files_after_load = True


def test_components_that_keep_files_keep_them_until_close_with_or_gc(tmp_path, temp_dir):
    registry = toy_registry()
    registry.register(FileKeepingTokenizer, plugin="tests")
    config = {"pipeline": [{"name": "FileKeepingTokenizer"}, *CONFIG["pipeline"][1:]]}
    archive = Trainer(config, registry=registry).train(toy_data()).persist(tmp_path / "models", fixed_model_name="k")
    interpreter = Interpreter.load(archive, registry=registry)
    assert len(ours(temp_dir, LOAD_PREFIX)) == 1
    interpreter.close()
    interpreter.close()
    assert ours(temp_dir, LOAD_PREFIX) == []
    with Interpreter.load(archive, registry=registry) as interpreter:
        assert len(ours(temp_dir, LOAD_PREFIX)) == 1
    assert ours(temp_dir, LOAD_PREFIX) == []
    interpreter = Interpreter.load(archive, registry=registry)
    del interpreter
    gc.collect()
    assert ours(temp_dir, LOAD_PREFIX) == []


WRITER = textwrap.dedent(
    """
    import sys, time
    from intently.fileio import atomic_write_path
    from intently.leftovers import LockedTempDir
    folder = LockedTempDir("intently-persist-")
    with atomic_write_path(sys.argv[1]) as tmp:
        tmp.write_bytes(b"half an archive")
        print(tmp, folder.root, flush=True)
        time.sleep(120)
    """
)


def test_a_killed_training_leaves_files_that_the_next_training_removes(tmp_path, temp_dir, caplog):
    models = tmp_path / "models"
    env = {**os.environ, "TMPDIR": str(temp_dir)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(models / "m.tar.gz")], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        tmp_file, folder = (Path(p) for p in writer.stdout.readline().split())
        # Alive and locked: nothing is removed, however old it looks.
        future = time.time() + 3600
        assert remove_stale_files(models, ".*.tar.gz.*.tmp", older_than=future) == []
        assert remove_stale_temp_dirs(PERSIST_PREFIX, older_than=future) == []
    finally:
        writer.kill()  # SIGKILL: no cleanup runs in the writer
        writer.wait(timeout=30)
    assert tmp_file.is_file() and folder.is_dir()
    # Written before this process started (as a leftover of an earlier run is).
    old = time.time() - 3600
    os.utime(tmp_file, (old, old))
    os.utime(folder, (old, old))
    registry = toy_registry()
    with caplog.at_level(logging.INFO, logger="intently.leftovers"):
        archive = Trainer(CONFIG, registry=registry).train(toy_data()).persist(models, fixed_model_name="m")
    assert not tmp_file.exists() and not folder.exists()
    assert sorted(p.name for p in models.iterdir()) == ["m.tar.gz"]
    assert ours(temp_dir, PERSIST_PREFIX) == []
    assert f"Removed {tmp_file}" in caplog.text and f"Removed {folder}" in caplog.text
    assert Interpreter.load(archive, registry=registry).parse("再见")["intent"]["name"] == "再见"


def test_new_or_foreign_files_are_left_alone(tmp_path, temp_dir):
    models = tmp_path / "models"
    models.mkdir()
    recent = models / ".m.tar.gz.abc.tmp"
    recent.write_bytes(b"")  # newer than this process: another process may be writing it
    other = models / "notes.tmp"
    other.write_bytes(b"")
    old = time.time() - 3600
    os.utime(other, (old, old))
    assert remove_stale_files(models, ".*.tar.gz.*.tmp") == []
    assert recent.exists() and other.exists()
    with atomic_write_path(models / "n.tar.gz") as tmp:
        # Locked by this very write, even when it looks old.
        assert remove_stale_files(models, ".*.tar.gz.*.tmp", older_than=time.time() + 3600) == [recent]
        assert tmp.exists()
    assert (models / "n.tar.gz").exists()
