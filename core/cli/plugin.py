"""``intently plugin new``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plugin",
        parents=parents,
        help="start a plugin package of your own",
        description="Tools for plugin authors.",
    )
    commands = parser.add_subparsers(dest="plugin_command", metavar="COMMAND", required=True)
    new = commands.add_parser(
        "new",
        parents=parents,
        help="write a pip-installable plugin package with one component and its tests",
        description=(
            "Write DIR/NAME: a pip-installable package (pyproject.toml with the 'intently' entry point, "
            "one component, its tests written with intently.testing, a README) that installs with "
            "`pip install ./NAME` and passes its own tests as written."
        ),
    )
    new.add_argument("name", metavar="NAME", help="the distribution name, e.g. intently-drinks")
    new.add_argument("--dir", default=".", help="the folder to write NAME into (default: the current folder)")
    new.add_argument(
        "--component",
        default=None,
        help="the component's class name (default: from NAME, e.g. DrinksEntityExtractor)",
    )
    new.set_defaults(run=run_new)


def run_new(args: argparse.Namespace) -> int:
    from intently.plugin_template import PluginNames, write_plugin

    target = write_plugin(args.name, args.dir, component=args.component)
    names = PluginNames.from_name(args.name, args.component)
    print(f"Plugin package written to {target}")
    print(f"  component {names.component} in src/{names.module}/extractor.py, "
          f"registered by the entry point '{names.entry_point}'")
    print(f"Next: cd {target} && pip install -e '.[test]' && python -m pytest")
    return 0
