"""``intently train``."""

from __future__ import annotations

import argparse
from pathlib import Path

from intently.cli.common import (
    DEFAULT_CONFIG,
    DEFAULT_MODELS_DIR,
    add_data_argument,
    announce_default_pipeline,
    check_out_folder,
    note,
)


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "train",
        parents=parents,
        help="train a model from config.yml and training data",
        description=(
            "Train a model and write it to OUT/<timestamp>-<fingerprint>.tar.gz "
            "(or OUT/NAME.tar.gz with --fixed-model-name). The archive is written "
            "atomically: an interrupted training leaves no partial file behind. "
            "When the newest model in OUT was trained on the same data with the same "
            "config, it is kept and nothing is trained (--force trains anyway). "
            "--finetune continues training an existing model on the data (it always trains). "
            "Train nodes whose component, config and inputs are unchanged since an earlier training "
            "are restored from the training cache instead of trained again (see --skip-cache)."
        ),
    )
    parser.add_argument(
        "-c", "--config", default=None,
        help=f"the model config (default: ./{DEFAULT_CONFIG} if it exists, else the default pipeline)",
    )
    add_data_argument(parser)
    parser.add_argument("--out", default=DEFAULT_MODELS_DIR, help="folder for the model archive (default: %(default)s)")
    parser.add_argument("--fixed-model-name", default=None, help="name of the archive, without .tar.gz")
    parser.add_argument(
        "--finetune", nargs="?", const=True, default=None, metavar="MODEL",
        help="continue training MODEL (an archive, or a folder whose newest archive is used; "
        "default: the newest archive in --out) on the data instead of training from scratch. "
        "Only `epochs` and `finetuning_epoch_fraction` may differ from the model's config; "
        "new intents, entities, roles, groups and responses may be added",
    )
    parser.add_argument(
        "--epoch-fraction", type=float, default=None, metavar="F",
        help="with --finetune: run F x epochs (0 < F <= 1) of every component that trains in epochs; "
        "a component's own finetuning_epoch_fraction wins (default: 1)",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="train even when the newest model in --out was trained on the same data and config "
        "(--finetune always trains)",
    )
    parser.add_argument(
        "--skip-cache", action="store_true",
        help="ignore the training cache: neither restore train nodes from it nor write to it "
        "(the cache is $INTENTLY_CACHE_DIR, default ~/.cache/intently; see docs/caching.md). "
        "Finetuning never uses the cache",
    )
    parser.add_argument(
        "--dump-config", default=None, metavar="PATH",
        help="write the config as used to PATH (YAML), with what the default recipe filled in "
        "(the language, the default pipeline); graph.v1 configs fill nothing in",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from intently.api import train_or_keep
    from intently.errors import UsageError
    from intently.trainer import Trainer

    if args.finetune is not None and args.finetune is not True and not str(args.finetune).strip():
        raise UsageError("--finetune got an empty MODEL",
                         hint="name a model archive or folder, or give --finetune alone for the newest in --out")
    if args.epoch_fraction is not None and args.finetune is None:
        raise UsageError("--epoch-fraction needs --finetune", hint="add --finetune [MODEL], or leave out --epoch-fraction")
    check_out_folder(args.out)
    config = args.config
    if config is None and Path(DEFAULT_CONFIG).is_file():
        config = DEFAULT_CONFIG
    trainer = Trainer(config)
    announce_default_pipeline(trainer.config, config)
    if args.dump_config:
        from intently.fileio import atomic_write_text
        from intently.yaml_utils import dump_yaml

        filled = trainer.config.filled_in
        header = "# The config as used" + (": the default recipe filled in " + "; ".join(
            line.split(":", 1)[0] for line in filled) if filled else "") + "\n"
        atomic_write_text(args.dump_config, header + dump_yaml(trainer.config.to_dict()))
        note(f"Config written to {args.dump_config}")
    archive, interpreter = train_or_keep(
        trainer, args.data, args.out, fixed_model_name=args.fixed_model_name,
        finetune=args.finetune, epoch_fraction=args.epoch_fraction, keep_unchanged=not args.force,
        use_cache=not args.skip_cache,
    )
    if interpreter is None:
        note(f"Nothing changed since {archive} (same data and config): keeping it. "
             "Use --force to train anyway.")
        print(archive)
        return 0
    finetuned = interpreter.metadata.finetuned_from
    if finetuned:
        note(f"Finetuned {finetuned['model_name']} ({_epochs(finetuned['epochs'])}).")
    note(f"Model saved to {archive}")
    print(archive)
    return 0


def _epochs(epochs: dict[str, int]) -> str:
    if not epochs:
        return "no component trains in epochs"
    return ", ".join(f"{name}: {count} epochs" for name, count in epochs.items())
