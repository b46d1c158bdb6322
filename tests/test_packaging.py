"""The package layout: every package is listed, importing is cheap."""

import subprocess
import sys
import tomllib

from conftest import REPO


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for root, prefix in (("core", "intently"), ("plugins", "intently.plugins")):
        for init in (REPO / root).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / root).parts
            found.add(".".join((prefix, *relative)))
    assert found == listed, f"pyproject.toml packages differ: missing {found - listed}, extra {listed - found}"


def test_importing_intently_imports_no_heavy_modules():
    code = (
        "import sys, intently\n"
        "heavy = [m for m in ('tensorflow', 'sklearn', 'scipy', 'yaml') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_cli_help_imports_no_heavy_modules():
    code = (
        "import sys\n"
        "from intently.cli.main import build_parser\n"
        "build_parser().format_help()\n"
        "print(','.join(m for m in ('tensorflow', 'sklearn', 'scipy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
