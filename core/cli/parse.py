"""``intently parse`` and ``intently shell``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from intently.cli.common import add_allow_imports_argument, add_model_argument, note

STDIN_BATCH = 256


def add_parsers(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parse = subparsers.add_parser(
        "parse",
        parents=parents,
        help="parse texts and print one JSON line per text",
        description=(
            "Parse each TEXT and print its result as one JSON line, in order. "
            "With '-' as the text, read texts from standard input, one per line."
        ),
    )
    add_model_argument(parse)
    add_allow_imports_argument(parse)
    parse.add_argument("texts", nargs="+", metavar="TEXT", help="texts to parse; '-' reads standard input")
    parse.set_defaults(run=run_parse)

    shell = subparsers.add_parser(
        "shell",
        parents=parents,
        help="type messages and see how the model parses them",
        description="Type a message and see its parse as JSON. End with Ctrl-D or /stop.",
    )
    add_model_argument(shell)
    add_allow_imports_argument(shell)
    shell.set_defaults(run=run_shell)


def _texts(arguments: list[str]) -> Iterator[str]:
    for text in arguments:
        if text == "-":
            for line in sys.stdin:
                yield line.rstrip("\r\n")
        else:
            yield text


def _chunks(texts: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def format_result(result: dict) -> str:
    """One parse as the JSON text ``intently parse`` prints (and ``intently run``'s ``/model/parse`` answers)."""
    return json.dumps(result, ensure_ascii=False)


def run_parse(args: argparse.Namespace) -> int:
    from intently.api import load_model

    interpreter = load_model(args.model, allow_imports=args.allow_imports)
    out = sys.stdout
    for chunk in _chunks(_texts(args.texts), STDIN_BATCH):
        for result in interpreter.parse_batch(chunk):
            out.write(format_result(result) + "\n")
        out.flush()
    return 0


def run_shell(args: argparse.Namespace) -> int:
    from intently.api import load_model

    interpreter = load_model(args.model, allow_imports=args.allow_imports)
    note(f"Loaded {interpreter.model_path}. Type a message (Ctrl-D or /stop to end).")
    interactive = sys.stdin.isatty()
    while True:
        try:
            text = input("Your message -> " if interactive else "")
        except EOFError:
            break
        if text.strip() == "/stop":
            break
        print(json.dumps(interpreter.parse(text), ensure_ascii=False, indent=2 if interactive else None))
    return 0
