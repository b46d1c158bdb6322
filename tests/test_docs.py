"""The documentation: short README, Chinese README in step, generated pages up to date, strict build."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
README_ZH = (REPO / "README.zh-CN.md").read_text(encoding="utf-8")


def _load_generate():
    spec = importlib.util.spec_from_file_location("docs_generate", REPO / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def commands(markdown: str) -> set[str]:
    """Every command line of the Markdown's code: indented blocks and fenced bash blocks, comments removed."""
    lines = re.findall(r"^    (\S.*)$", markdown, re.M)
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        lines += block.splitlines()
    return {re.sub(r"\s+#.*$", "", line).strip() for line in lines if line.strip() and not line.startswith("#")}


def test_the_readme_is_short_and_links_only_to_files_that_exist():
    assert len(README.splitlines()) <= 250
    for text in (README, README_ZH):
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose):
            if "://" not in target:
                assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_the_chinese_readme_gives_the_english_readmes_commands():
    chinese, english = commands(README_ZH), commands(README)
    assert chinese, "README.zh-CN.md shows no commands"
    assert chinese <= english, f"commands only in README.zh-CN.md: {sorted(chinese - english)}"
    setup = [line for line in english if line.startswith("python3.11 -m venv")]
    assert len(setup) == 2 and set(setup) <= chinese, "the Chinese quick start lacks a set-up command"
    assert "README.zh-CN.md" in README


def test_every_generated_page_is_up_to_date():
    stale = _load_generate().stale_files()
    assert not stale, "out of date, run `python docs/generate.py`: " + ", ".join(
        str(p.relative_to(REPO)) for p in stale)


def test_the_generated_pages_cover_every_component_error_and_result_file():
    reference = (REPO / "docs" / "reference" / "components.md").read_text(encoding="utf-8")
    from intently.registry import get_registry

    for registered in get_registry():
        if registered.plugin == "builtin":
            assert f"## {registered.name}\n" in reference
    errors = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    from intently.errors import ALL_ERRORS

    for cls in ALL_ERRORS:
        assert f"| `{cls.code}` | `{cls.__name__}` |" in errors
    pages = "".join(p.read_text(encoding="utf-8") for p in (REPO / "docs" / "benchmarks").glob("*.md"))
    for result in (REPO / "benchmarks" / "results").glob("*.json"):
        assert f"from `benchmarks/results/{result.name}`" in pages, f"{result.name} is on no benchmark page"


def test_a_changed_result_makes_the_pages_stale(tmp_path):
    """The check really compares with the results: change a number and the pages no longer match."""
    generate = _load_generate()
    report = generate.report
    results = tmp_path / "results"
    results.mkdir()
    for path in (REPO / "benchmarks" / "results").glob("*.json"):
        (results / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    before = report.expected_files(results)
    speed = results / "speed-diet-issue24-lr.json"  # diet.yml's parse p50 in README's table
    speed.write_text(speed.read_text(encoding="utf-8").replace('"p50_ms": 1.8', '"p50_ms": 9.8', 1), encoding="utf-8")
    after = report.expected_files(results)
    changed = sorted(path.name for path in before if before[path] != after[path])
    assert changed == ["README.md", "README.zh-CN.md", "speed.md"]


def test_mkdocs_builds_strictly(tmp_path):
    """A broken link, a missing page in nav or an API reference that does not resolve fails this."""
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install the docs extra: pip install -e '.[test,docs]' (.ci/run)")
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    site = tmp_path / "site"
    assert (site / "index.html").exists()
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "parametrize_with_checks" in api and "load_model" in api, "the API reference was not generated"
    assert (site / "reference" / "components" / "index.html").exists()
