"""``intently recipe show`` and ``intently recipe export``: a config's graphs."""

from __future__ import annotations

import argparse
from pathlib import Path

from intently.cli.common import DEFAULT_CONFIG


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "recipe",
        parents=parents,
        help="show a config's train and predict graphs, or export it as a graph.v1 recipe",
        description="A config compiles to a train graph and a predict graph (docs/graph-recipes.md).",
    )
    commands = parser.add_subparsers(dest="recipe_command", metavar="SUBCOMMAND", required=True)
    export = commands.add_parser(
        "export",
        parents=parents,
        help="print the graph.v1 YAML equivalent of a config",
        description=(
            "Print the recipe: graph.v1 file that trains the same model as CONFIG (a default.v1 config "
            "with a pipeline; a graph.v1 config is printed as it is read). Start with the default recipe, "
            "export it, and edit the graphs node by node."
        ),
    )
    export.add_argument(
        "-c", "--config", default=None,
        help=f"the model config (default: ./{DEFAULT_CONFIG} if it exists, else the default pipeline)",
    )
    export.add_argument("--out", default=None, help="write the YAML to this file instead of printing it")
    export.set_defaults(run=run_export)
    show = commands.add_parser(
        "show",
        parents=parents,
        help="print a config's train and predict graphs (Mermaid or Graphviz DOT)",
        description=(
            "Print the train and predict graphs of CONFIG: Mermaid (renders on code hosts) or DOT "
            "(render with Graphviz: `intently recipe show --format dot | dot -Tsvg > graph.svg`). "
            "Targets are drawn bold or double-bordered; nodes no target needs are dashed (they do not run)."
        ),
    )
    show.add_argument(
        "-c", "--config", default=None,
        help=f"the model config (default: ./{DEFAULT_CONFIG} if it exists, else the default pipeline)",
    )
    show.add_argument("--format", choices=("mermaid", "dot"), default="mermaid", help="default: %(default)s")
    show.set_defaults(run=run_show)


def _recipe(args: argparse.Namespace):  # noqa: ANN202 - a Recipe
    from intently.config import load_config
    from intently.graph.recipes import recipe_for

    config = args.config
    if config is None and Path(DEFAULT_CONFIG).is_file():
        config = DEFAULT_CONFIG
    return recipe_for(load_config(config)), config


def run_show(args: argparse.Namespace) -> int:
    from intently.graph.recipes import render_graph

    recipe, _ = _recipe(args)
    predict_order = recipe.predict.needed_nodes([recipe.nlu_target])
    for title, schema, order in (("train graph", recipe.train, recipe.train_order),
                                 ("predict graph", recipe.predict, predict_order)):
        print(f"// {title}" if args.format == "dot" else f"### {title}\n")
        if args.format == "mermaid":
            print("```mermaid")
        print(render_graph(schema, args.format, order), end="")
        if args.format == "mermaid":
            print("```")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from intently.fileio import atomic_write_text
    from intently.graph.recipes import export_graph
    from intently.yaml_utils import dump_yaml

    recipe, config = _recipe(args)
    text = "# The graph.v1 recipe of " + (str(config) if config else "the default config") + "\n"
    text += dump_yaml(export_graph(recipe))
    if args.out:
        atomic_write_text(args.out, text)
    else:
        print(text, end="")
    return 0
