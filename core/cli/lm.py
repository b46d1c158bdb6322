"""``intently lm``: adapt a pre-trained BERT checkpoint to your domain, and look at what it predicts."""

from __future__ import annotations

import argparse
import json

from intently.cli.common import check_out_folder, note
from intently.errors import ComponentError, UsageError


def add_parser(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    lm = subparsers.add_parser(
        "lm", parents=parents, help="finetune a BERT checkpoint on your texts; fill in [MASK]s",
        description="Work with the pre-trained BERT checkpoints LanguageModelFeaturizer runs.",
    )
    commands = lm.add_subparsers(dest="lm_command", metavar="COMMAND", required=True)
    finetune = commands.add_parser(
        "finetune", parents=parents,
        help="continue a checkpoint's masked-language-model training on your texts (needs TensorFlow)",
        description=(
            "Domain adaptation: continue masked-language-model training of a BERT-family checkpoint "
            "on the training data's texts and plain-text files (one text per line), with BERT's "
            "masking rule (15 %%: 80 %% [MASK], 10 %% random, 10 %% unchanged; whole words, Chinese "
            "words by jieba). Writes a checkpoint folder (config.json, vocab.txt, "
            "tokenizer_config.json, model.safetensors) that LanguageModelFeaturizer's "
            "model_weights can name."
        ),
    )
    finetune.add_argument("--model-weights", required=True,
                          help="the checkpoint: a folder, or a Hugging Face model id in the local cache")
    finetune.add_argument("--cache-dir", default=None, help="the Hugging Face cache to look in")
    finetune.add_argument("-d", "-u", "--data", "--nlu", nargs="+", default=[], dest="data",
                          help="training-data files or folders whose example texts to train on")
    finetune.add_argument("--text", nargs="+", default=[], help="plain-text files, one text per line")
    finetune.add_argument("--out", required=True, help="the checkpoint folder to write")
    finetune.add_argument("--epochs", type=int, default=3, help="passes over the texts (default: %(default)s)")
    finetune.add_argument("--learning-rate", type=float, default=5e-5,
                          help="peak learning rate of AdamW (default: %(default)s)")
    finetune.add_argument("--batch-size", type=int, default=32, help="texts per step (default: %(default)s)")
    finetune.add_argument("--random-seed", type=int, default=42,
                          help="one seed, one checkpoint (default: %(default)s)")
    finetune.add_argument("--no-whole-word-masking", action="store_true",
                          help="mask pieces one by one instead of whole words")
    finetune.set_defaults(run=run_finetune)

    fill = commands.add_parser(
        "fill", parents=parents, help="print a checkpoint's top predictions for each [MASK] of a text",
        description="Fill in the blanks: the top-k pieces for every [MASK] in the text (numpy; no TensorFlow).",
    )
    fill.add_argument("-m", "--model", required=True,
                      help="a checkpoint with a masked-LM head (e.g. the output of `intently lm finetune`)")
    fill.add_argument("--cache-dir", default=None, help="the Hugging Face cache to look in")
    fill.add_argument("text", help='a text with one or more [MASK]s, e.g. "book a [MASK] for two"')
    fill.add_argument("-k", "--top-k", type=int, default=5, help="predictions per [MASK] (default: %(default)s)")
    fill.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fill.set_defaults(run=run_fill)


def run_finetune(args: argparse.Namespace) -> int:
    from intently.plugins.featurizers.language_model.domain import (
        FinetuneSettings,
        finetune_language_model,
        read_text_files,
    )

    out = check_out_folder(args.out)
    texts: list[str] = []
    if args.data:
        from intently.training_data.loading import load_data

        texts.extend(example.text for example in load_data(args.data).training_examples)
    texts.extend(read_text_files(args.text))
    if not args.data and not args.text:
        raise UsageError("give the texts to finetune on", hint="--data data/ and/or --text corpus.txt")
    settings = FinetuneSettings(
        epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
        random_seed=args.random_seed, whole_word_masking=not args.no_whole_word_masking,
    )
    result = finetune_language_model(args.model_weights, texts, out, settings, cache_dir=args.cache_dir)
    head = " (the masked-LM head was new: initialised, then trained)" if result.head_initialised else ""
    note(
        f"Finetuned on {result.texts} texts, {result.steps} steps in {result.seconds:.1f} s: loss "
        f"{result.first_loss:.3f} in the first epoch, {result.last_loss:.3f} in the last{head}. "
        f"Checkpoint: {result.out}"
    )
    return 0


def run_fill(args: argparse.Namespace) -> int:
    from intently.plugins.featurizers.language_model.mlm import fill_mask, read_checkpoint
    from intently.plugins.featurizers.language_model.model_files import resolve_model_directory
    from intently.plugins.featurizers.language_model.safetensors import SafetensorsError

    if args.top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {args.top_k}")
    what = "intently lm fill"
    directory = resolve_model_directory(args.model, args.cache_dir, component=what)
    try:
        checkpoint = read_checkpoint(directory, component=what)
    except KeyError as missing:
        raise ComponentError(f"{what}: {directory / 'vocab.txt'} has no {missing} piece") from None
    except (SafetensorsError, OSError) as error:
        raise ComponentError(f"{what}: cannot read the checkpoint in {directory}: {error}") from None
    except ValueError as error:
        raise ComponentError(f"{what}: cannot use the checkpoint in {directory}: {error}") from None
    try:
        predictions = fill_mask(checkpoint, args.text, args.top_k)
    except ValueError as error:
        hint = None
        if "head" in str(error):
            hint = "this checkpoint was made for embeddings; `intently lm finetune` gives it a trained head"
        elif "[MASK]" in str(error):
            hint = 'put [MASK] where a word should be predicted, e.g. "book a [MASK] for two"'
        raise UsageError(f"{what}: {error}", hint=hint) from None
    if args.json:
        print(json.dumps([[{"piece": piece, "probability": round(p, 6)} for piece, p in row] for row in predictions],
                         ensure_ascii=False))
        return 0
    for number, row in enumerate(predictions, start=1):
        print(f"[MASK] {number}:")
        for piece, probability in row:
            print(f"  {piece}\t{probability:.4f}")
    return 0
