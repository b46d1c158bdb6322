"""Entry point of the ``intently`` command.

Exit codes: 0 success, 1 an error in the user's data, config or model (a
message with a code and a hint, no traceback), 2 a wrong command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from intently import __version__
from intently.cli import components, data, parse, plugin, recipe, run, test, train
from intently.cli.common import configure_logging, logging_parent
from intently.errors import IntentlyError, UsageError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parent = logging_parent()
    parser = argparse.ArgumentParser(
        prog="intently",
        parents=[parent],
        description=(
            "intently: natural-language understanding for conversational assistants. "
            "Train a model on Rasa-format YAML data and parse messages into intents and entities."
        ),
        epilog="Run `intently COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"intently {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    train.add_parser(commands, [parent])
    parse.add_parsers(commands, [parent])
    test.add_parser(commands, [parent])
    data.add_parser(commands, [parent])
    components.add_parser(commands, [parent])
    plugin.add_parser(commands, [parent])
    recipe.add_parser(commands, [parent])
    run.add_parser(commands, [parent])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    configure_logging(getattr(args, "log_level", logging.WARNING))
    try:
        return int(args.run(args) or EXIT_OK)
    except IntentlyError as error:
        logging.getLogger("intently").debug("error details", exc_info=True)
        print(f"error: {error.format()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as error:
        # A file that cannot be written or read where no command expected it (a full disk, no permission).
        logging.getLogger("intently").debug("error details", exc_info=True)
        what = f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
        print(f"error: {UsageError(what, hint='check the path, its permissions and the free space').format()}",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
