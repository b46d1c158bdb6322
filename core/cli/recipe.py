"""``intently recipe show`` and ``intently recipe export``: a config's graphs."""

from __future__ import annotations

import argparse
from pathlib import Path

from intently.cli.common import DEFAULT_CONFIG, DEFAULT_DATA


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
            "Targets are drawn bold or double-bordered; nodes no target needs are dashed (they do not run). "
            "Train nodes that have a training-cache entry for DATA (the training data, default ./data if it "
            "exists) are marked (cached): a training now would restore them instead of training them."
        ),
    )
    show.add_argument(
        "-c", "--config", default=None,
        help=f"the model config (default: ./{DEFAULT_CONFIG} if it exists, else the default pipeline)",
    )
    show.add_argument("--format", choices=("mermaid", "dot"), default="mermaid", help="default: %(default)s")
    show.add_argument(
        "-d", "-u", "--data", "--nlu", nargs="+", default=None, dest="data",
        help=f"training-data files or folders, to mark the train nodes that are cached for them "
        f"(default: ./{DEFAULT_DATA} if it exists; no marks without data)",
    )
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
    cached = _cached(recipe, args.data)
    predict_order = recipe.predict.needed_nodes([recipe.nlu_target])
    for title, schema, order, marked in (("train graph", recipe.train, recipe.train_order, cached),
                                         ("predict graph", recipe.predict, predict_order, [])):
        print(f"// {title}" if args.format == "dot" else f"### {title}\n")
        if args.format == "mermaid":
            print("```mermaid")
        print(render_graph(schema, args.format, order, marked), end="")
        if args.format == "mermaid":
            print("```")
    return 0


def _cached(recipe, data: list[str] | None) -> list[str]:  # noqa: ANN001 - a Recipe
    """The train nodes with a cache entry for ``data`` (say so on stderr); none without data."""
    import sys

    from intently.graph.cache import TrainingCache, cached_nodes
    from intently.training_data.loading import load_data

    if data is None:
        if not Path(DEFAULT_DATA).exists():
            return []
        data = [DEFAULT_DATA]
    cache = TrainingCache.from_env()
    if not cache.enabled:
        return []
    marked = cached_nodes(recipe.train, recipe.train_order, recipe.component_nodes(), load_data(data),
                          recipe.config.language, cache)
    print(f"{len(marked)} of {len(recipe.component_nodes())} component train nodes are cached for "
          f"{', '.join(map(str, data))} in {cache.root}", file=sys.stderr)
    return marked


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
