"""``intently components``."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "components",
        parents=parents,
        help="list every registered component with its plugin and config keys",
        description=(
            "List every component registered through the 'intently' entry point: "
            "the built-in ones and those of installed third-party plugins, each with the "
            "distribution and version that provides it and its config keys (default, what is "
            "allowed, what it does); then the plugins that failed to load, "
            "with the reason (on standard error with --json). With NAME, only that component."
        ),
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="show only this component")
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

    registry = get_registry()
    selected = list(registry)
    if args.name is not None:
        chosen = registry.get(args.name)
        if chosen is None:
            import difflib

            from intently.errors import ComponentNotFoundError

            close = difflib.get_close_matches(args.name, registry.names(), n=3)
            raise ComponentNotFoundError(
                f"no registered component {args.name!r}",
                hint=(f"did you mean {', '.join(close)}? " if close else "")
                + "run `intently components` to list them",
            )
        selected = [chosen]
    rows = []
    for registered in selected:
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
                "config": {key: param.to_dict() for key, param in cls.config_params().items()},
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
        if row["config"]:
            print("  config (key: default  allowed  description):")
            for key, param in row["config"].items():
                print(f"    {key}: {json.dumps(param['default'], default=str, ensure_ascii=False)}"
                      + ("" if param["declared"] else "  (undeclared: checked against the default's type)"))
                if param["declared"]:
                    print(f"        allowed: {param['allowed']}")
                if param["description"]:
                    print(f"        {param['description']}")
        print()
    if failures and args.name is None:
        print("Plugins that failed to load:")
        for failure in failures:
            print(f"  {failure}")
    return 0
