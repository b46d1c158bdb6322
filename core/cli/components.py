"""``intently components``."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "components",
        parents=parents,
        help="list every registered component with its plugin and default config",
        description=(
            "List every component registered through the 'intently' entry point: "
            "the built-in ones and those of installed third-party plugins, each with the "
            "distribution and version that provides it; then the plugins that failed to load, "
            "with the reason (on standard error with --json)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from intently.plugin_manager import get_plugin_manager
    from intently.registry import get_registry

    manager = get_plugin_manager()
    failures = [
        f"{name} ({manager.failed_distributions.get(name, '?')}): {reason}"
        for name, reason in sorted(manager.load_failures.items())
    ]

    rows = []
    for registered in get_registry():
        cls = registered.cls
        rows.append(
            {
                "name": registered.name,
                "distribution": registered.distribution or "(not installed as a package)",
                "plugin": registered.plugin,
                "class": registered.dotted_path,
                "requires": [list(r) if isinstance(r, tuple) else r for r in cls.requires],
                "provides": list(cls.provides),
                "defaults": dict(cls.defaults),
                "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        for failure in failures:
            print(f"warning: plugin {failure}", file=sys.stderr)
        return 0
    for row in rows:
        print(f"{row['name']}  ({row['distribution']})")
        if row["summary"]:
            print(f"  {row['summary']}")
        needs = ", ".join(" or ".join(r) if isinstance(r, list) else r for r in row["requires"]) or "-"
        print(f"  requires: {needs}   provides: {', '.join(row['provides']) or '-'}")
        if row["defaults"]:
            print("  defaults:")
            for key, value in row["defaults"].items():
                print(f"    {key}: {json.dumps(value, default=str)}")
        print()
    if failures:
        print("Plugins that failed to load:")
        for failure in failures:
            print(f"  {failure}")
    return 0
