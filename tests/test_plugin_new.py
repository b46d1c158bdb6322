"""`intently plugin new` writes a plugin package that installs and passes its own tests as written.

The package is generated into a temporary folder, really pip-installed (without dependencies or
build isolation, into a target folder put on PYTHONPATH, so the test environment stays clean and
no network is needed) and its tests run in a fresh process, as its author would run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intently.cli.main import main
from intently.plugin_template import PluginNames


def intently(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "intently", *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """(package folder, site folder it is installed into, the files written before installing)."""
    root = tmp_path_factory.mktemp("plugins")
    result = intently("plugin", "new", "intently-drinks", "--dir", str(root))
    assert result.returncode == 0, result.stderr
    package = root / "intently-drinks"
    assert f"Plugin package written to {package}" in result.stdout
    files = sorted(p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file())
    site = tmp_path_factory.mktemp("site")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-input",
         "--disable-pip-version-check", "--target", str(site), str(package)],
        capture_output=True, text=True, cwd=root, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert list(site.glob("intently_drinks-0.1.0.dist-info")), "pip did not install the plugin"
    return package, site, files


def test_the_package_has_the_files_a_plugin_needs(generated):
    package, _, files = generated
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/intently_drinks/__init__.py",
        "src/intently_drinks/extractor.py",
        "src/intently_drinks/plugin.py",
        "tests/test_extractor.py",
    ]
    assert '[project.entry-points.intently]\ndrinks = "intently_drinks.plugin"' in (package / "pyproject.toml").read_text()


def test_its_tests_pass_as_written_against_the_installed_package(generated):
    package, site, _ = generated
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package,
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # Every conformance check is a test of its own, plus the package's own test.
    from intently.testing import CHECKS

    assert f"{len(CHECKS) + 1} passed" in result.stdout, result.stdout[-2000:]


def test_intently_components_lists_it_with_its_distribution(generated):
    _, site, _ = generated
    result = intently("components", "--json", env={**os.environ, "PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["DrinksEntityExtractor"]["distribution"] == "intently-drinks 0.1.0"
    assert rows["DrinksEntityExtractor"]["plugin"] == "drinks"


def test_a_pipeline_with_it_trains_and_parses_chinese(generated, tmp_path):
    _, site, _ = generated
    (tmp_path / "data.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: order\n  examples: |\n    - 我想喝[咖啡](drink)\n    - 来一杯[绿茶](drink)\n'
        "- intent: greet\n  examples: |\n    - 你好\n    - 早上好\n",
        encoding="utf-8",
    )
    (tmp_path / "config.yml").write_text(
        "language: zh\npipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
        "    analyzer: char_wb\n  - name: LogisticRegressionClassifier\n  - name: DrinksEntityExtractor\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    trained = intently("train", "--config", "config.yml", "--data", "data.yml", "--out", "models", env=env, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    parsed = intently("parse", "绿茶和咖啡", env=env, cwd=tmp_path)
    assert parsed.returncode == 0, parsed.stderr
    entities = json.loads(parsed.stdout)["entities"]
    assert [(e["value"], e["entity"], e["extractor"]) for e in entities] == [
        ("绿茶", "drink", "DrinksEntityExtractor"), ("咖啡", "drink", "DrinksEntityExtractor"),
    ]


def test_it_refuses_an_existing_folder_and_a_bad_name(tmp_path, capsys):
    (tmp_path / "taken").mkdir()
    assert main(["plugin", "new", "taken", "--dir", str(tmp_path)]) == 1
    assert "[E500]" in capsys.readouterr().err
    assert main(["plugin", "new", "9lives", "--dir", str(tmp_path)]) == 1
    assert "does not make a Python module name" in capsys.readouterr().err
    assert main(["plugin", "new", "ok-name", "--dir", str(tmp_path), "--component", "lower"]) == 1
    assert "not a component class name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"], "a refused run left files behind"


@pytest.mark.parametrize(
    ("name", "module", "entry_point", "component"),
    [
        ("intently-drinks", "intently_drinks", "drinks", "DrinksEntityExtractor"),
        ("My.Plugin", "my_plugin", "my_plugin", "MyPluginEntityExtractor"),
    ],
)
def test_names(name, module, entry_point, component):
    names = PluginNames.from_name(name)
    assert (names.module, names.entry_point, names.component) == (module, entry_point, component)
