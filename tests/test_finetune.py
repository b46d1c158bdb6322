"""Finetuning end to end: the validator's messages, the epoch fraction, metadata, the CLI, fingerprints."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import intently
import pytest
from component_helpers import intent_data
from intently import finetune
from intently.archive import read_archive_metadata
from intently.config import load_config
from intently.errors import FinetuneError, UsageError
from intently.training_data.loading import load_data
from test_cli import assert_clean_error, project, run_cli  # noqa: F401 - the project fixture
from test_diet_classifier import SMALL
from test_logistic_regression_classifier import INTENTS

FAST = {
    "language": "en",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "LogisticRegressionClassifier"},
    ],
}
DIET = {
    "language": "en",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "DIETClassifier", **SMALL, "epochs": 8},
    ],
}


def with_component(config: dict, index: int, **keys) -> dict:
    pipeline = [dict(item) for item in config["pipeline"]]
    pipeline[index].update(keys)
    return {**config, "pipeline": pipeline}


@pytest.fixture(scope="module")
def fast_base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fast")
    return intently.Trainer(FAST).train(intent_data(INTENTS)).persist(folder, fixed_model_name="base")


@pytest.fixture(scope="module")
def diet_base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("diet")
    return intently.Trainer(DIET).train(intent_data(INTENTS)).persist(folder, fixed_model_name="base")


def finetune_error(config: dict, base, data=None, **kwargs) -> str:
    with pytest.raises(FinetuneError) as caught:
        intently.Trainer(config).train(data or intent_data(INTENTS), base_model=base, **kwargs)
    return str(caught.value)


# --- the validator -------------------------------------------------------------------------


def test_a_changed_parameter_is_named_with_both_values(fast_base):
    config = with_component(FAST, 1, analyzer="char_wb", max_ngram=3)
    message = finetune_error(config, fast_base)
    assert "[E404]" in message and str(fast_base) in message
    assert "CountVectorsFeaturizer (pipeline item 2): `analyzer` changed from 'word' to 'char_wb'" in message
    assert "`max_ngram` changed from 1 to 3" in message
    assert "only `epochs` and `finetuning_epoch_fraction` may change" in message
    assert "train a new model from scratch" in message


def test_epochs_and_the_fraction_may_change(diet_base):
    config = with_component(DIET, 2, epochs=12, finetuning_epoch_fraction=0.5)
    interpreter = intently.Trainer(config).train(intent_data(INTENTS), base_model=diet_base)
    assert interpreter.metadata.finetuned_from["epochs"] == {"2_DIETClassifier": 6}


def test_writing_a_default_explicitly_is_not_a_change(fast_base):
    config = with_component(FAST, 1, analyzer="word", min_ngram=1)
    interpreter = intently.Trainer(config).train(intent_data(INTENTS), base_model=fast_base)
    assert interpreter.metadata.finetuned_from is not None


def test_a_changed_pipeline_lists_both_pipelines(fast_base):
    config = {**FAST, "pipeline": [FAST["pipeline"][0], {"name": "LexicalSyntacticFeaturizer"}, *FAST["pipeline"][1:]]}
    message = finetune_error(config, fast_base)
    assert "the pipeline differs" in message
    assert "[WhitespaceTokenizer, CountVectorsFeaturizer, LogisticRegressionClassifier]" in message
    assert "[WhitespaceTokenizer, LexicalSyntacticFeaturizer, CountVectorsFeaturizer, LogisticRegressionClassifier]" in message


def test_a_changed_language_is_named(fast_base):
    assert "`language` changed from 'en' to 'de'" in finetune_error({**FAST, "language": "de"}, fast_base)


def test_another_minor_version_is_refused(fast_base, monkeypatch):
    monkeypatch.setattr(finetune, "__version__", "0.2.0")
    message = finetune_error(FAST, fast_base)
    assert "trained with intently 0.1.0; this is 0.2.0" in message
    assert "same major.minor version" in message


def test_a_missing_base_model(tmp_path):
    message = finetune_error(FAST, tmp_path / "nowhere.tar.gz")
    assert "no base model to finetune" in message and "nowhere.tar.gz" in message
    assert "train a model first" in message
    message = finetune_error(FAST, tmp_path)  # a folder without archives
    assert "no model archive" in message and str(tmp_path) in message


def test_a_corrupt_base_model(tmp_path, fast_base):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a model at all")
    message = finetune_error(FAST, garbage)
    assert "cannot finetune" in message and "not a readable model archive" in message

    # A readable archive whose component files are damaged.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(fast_base) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source:
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name.endswith(".npz"):
                data = b"broken"
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    message = finetune_error(FAST, damaged)
    assert "cannot finetune" in message and "LogisticRegressionClassifier" in message
    assert "the model is damaged" in message


def test_removed_labels_are_refused_by_name(fast_base):
    fewer = {k: v for k, v in INTENTS.items() if k != "goodbye"}
    message = finetune_error(FAST, fast_base, intent_data(fewer))
    assert "no longer has labels the model knows" in message and "intents 'goodbye'" in message


def test_the_validator_runs_before_any_training(fast_base, monkeypatch):
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

    def fail(*args, **kwargs):
        raise AssertionError("trained before validating")

    monkeypatch.setattr(WhitespaceTokenizer, "train", fail)
    finetune_error(with_component(FAST, 2, max_iter=5), fast_base)


# --- the epoch fraction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epochs", "fraction", "expected"),
    [(100, 0.2, 20), (100, 1.0, 100), (300, 0.33, 99), (100, 0.07, 7), (10, 0.25, 3), (5, 0.01, 1), (0, 0.5, 0)],
)
def test_finetune_epochs_is_the_ceiling_of_the_product(epochs, fraction, expected):
    assert finetune.finetune_epochs(epochs, fraction) == expected


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, True, "0.2", None])
def test_a_bad_fraction_is_refused(bad):
    with pytest.raises(FinetuneError, match="greater than 0 and at most 1"):
        finetune.check_fraction(bad)


def test_a_components_own_fraction_wins_over_the_command_line():
    assert finetune.component_fraction({"name": "DIETClassifier", "finetuning_epoch_fraction": 0.5}, 0.2) == 0.5
    assert finetune.component_fraction({"name": "DIETClassifier"}, 0.2) == 0.2
    assert finetune.component_fraction({"name": "DIETClassifier"}, None) == 1.0


def test_the_fraction_runs_that_share_of_the_epochs_and_is_recorded(diet_base):
    interpreter = intently.Trainer(DIET).train(intent_data(INTENTS), base_model=diet_base, epoch_fraction=0.25)
    record = interpreter.metadata.finetuned_from
    assert record["epochs"] == {"2_DIETClassifier": 2}  # ceil(8 × 0.25)
    assert record["epoch_fraction"] == 0.25
    assert len(interpreter.pipeline[-1].training_history) == 2
    base_metadata = read_archive_metadata(diet_base)
    assert record["model_name"] == "base"
    assert record["fingerprint"] == base_metadata["fingerprint"]["combined"]


def test_the_fraction_needs_a_base_model():
    with pytest.raises(UsageError, match="only to finetuning"):
        intently.Trainer(FAST).train(intent_data(INTENTS), epoch_fraction=0.5)


def test_training_from_scratch_runs_all_epochs():
    interpreter = intently.Trainer(DIET).train(intent_data(INTENTS))
    assert interpreter.pipeline[-1].epochs_run == 8
    assert interpreter.metadata.finetuned_from is None


def test_a_finetune_adds_intents_and_keeps_the_old_ones(fast_base):
    more = dict(INTENTS, thank=["thanks", "thank you", "thanks a lot", "many thanks", "thank you so much"])
    interpreter = intently.Trainer(FAST).train(intent_data(more), base_model=fast_base)
    assert interpreter.metadata.finetuned_from["added_labels"] == {"intents": ["thank"]}
    assert interpreter.labels["intents"] == sorted(more)
    assert interpreter.parse("thank you so much")["intent"]["name"] == "thank"
    assert interpreter.parse("hello there")["intent"]["name"] == "greet"


# --- the command line and the Python API -------------------------------------------------------


def test_cli_finetunes_the_newest_model_with_a_fraction(project, monkeypatch):  # noqa: F811
    code, out, err = run_cli(["train", "--fixed-model-name", "base"], monkeypatch, project)
    assert code == 0, err
    with (project / "data" / "nlu.yml").open("a", encoding="utf-8") as handle:
        handle.write("- intent: compliment\n  examples: |\n    - you are great\n    - well done\n    - nice work\n")
    code, out, err = run_cli(["train", "--finetune", "--epoch-fraction", "0.5", "--fixed-model-name", "tuned"],
                             monkeypatch, project)
    assert code == 0, err
    assert "Finetuned base" in err and "no component trains in epochs" in err
    metadata = read_archive_metadata(project / "models" / "tuned.tar.gz")
    assert metadata["finetuned_from"]["model_name"] == "base"
    assert metadata["finetuned_from"]["added_labels"] == {"intents": ["compliment"]}


def test_cli_finetune_errors_are_clean(project, monkeypatch):  # noqa: F811
    code, out, err = run_cli(["train", "--finetune"], monkeypatch, project)
    assert_clean_error(code, err, "no base model to finetune", "models")
    code, out, err = run_cli(["train", "--epoch-fraction", "0.5"], monkeypatch, project)
    assert_clean_error(code, err, "--epoch-fraction needs --finetune")
    code, out, err = run_cli(["train", "--finetune", ""], monkeypatch, project)
    assert_clean_error(code, err, "--finetune got an empty MODEL")
    code, out, err = run_cli(["train", "--fixed-model-name", "base"], monkeypatch, project)
    assert code == 0, err
    code, out, err = run_cli(["train", "--finetune", "models/base.tar.gz", "--epoch-fraction", "2"],
                             monkeypatch, project)
    assert_clean_error(code, err, "--epoch-fraction must be a number greater than 0 and at most 1")
    (project / "config.yml").write_text((project / "config.yml").read_text().replace("max_iter: 200", "max_iter: 50"))
    code, out, err = run_cli(["train", "--finetune", "models/base.tar.gz"], monkeypatch, project)
    assert_clean_error(code, err, "LogisticRegressionClassifier (pipeline item 6): `max_iter` changed from 200 to 50")


def test_cli_keeps_an_unchanged_model_unless_forced(project, monkeypatch):  # noqa: F811
    code, first, err = run_cli(["train"], monkeypatch, project)
    assert code == 0, err
    code, second, err = run_cli(["train"], monkeypatch, project)
    assert code == 0, err
    assert second == first and "Nothing changed since" in err and "--force" in err
    assert len(list((project / "models").iterdir())) == 1
    code, third, err = run_cli(["train", "--force", "--fixed-model-name", "again"], monkeypatch, project)
    assert code == 0 and third.strip().endswith("again.tar.gz")
    # Changed data trains again.
    with (project / "data" / "nlu.yml").open("a", encoding="utf-8") as handle:
        handle.write("- intent: compliment\n  examples: |\n    - you are great\n    - well done\n")
    code, fourth, err = run_cli(["train"], monkeypatch, project)
    assert code == 0 and "Nothing changed" not in err and fourth not in (first, third)
    # An explicit finetune trains, although nothing changed since the newest model.
    code, fifth, err = run_cli(["train", "--finetune", "--fixed-model-name", "tuned"], monkeypatch, project)
    assert code == 0 and "Nothing changed" not in err and fifth.strip().endswith("tuned.tar.gz")


def test_python_api_finetune_and_keep_unchanged(tmp_path):
    data_file = tmp_path / "nlu.yml"
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in INTENTS.items():
        lines += [f"- intent: {intent}", "  examples: |", *[f"    - {t}" for t in texts]]
    data_file.write_text("\n".join(lines) + "\n")
    models = tmp_path / "models"
    base = intently.train(FAST, data_file, models, fixed_model_name="base")
    assert intently.train(FAST, data_file, models, keep_unchanged=True) == base
    tuned = intently.train(FAST, load_data(data_file), models, finetune=True, fixed_model_name="tuned")
    assert json.loads(json.dumps(read_archive_metadata(tuned)["finetuned_from"]))["model_name"] == "base"
    assert load_config(FAST).fingerprint() == read_archive_metadata(tuned)["fingerprint"]["config"]


class DigitExtractor(intently.Component):
    """Marks every digit as a `digit` entity, on training examples as well as on parses."""

    requires = ("tokens",)
    provides = ("entities",)

    def process(self, messages, **context) -> None:
        from intently.message import Entity

        for message in messages:
            found = [Entity(start=i, end=i + 1, value=ch, entity="digit") for i, ch in enumerate(message.text)
                     if ch.isdigit()]
            message.entities = [*message.entities, *found]


def test_entities_a_component_adds_in_training_do_not_block_a_finetune(tmp_path):
    """The data's labels are recorded before components annotate it; the extractor's type apart."""
    from intently.registry import get_registry

    registry = get_registry()
    if "DigitExtractor" not in registry:
        registry.register(DigitExtractor, plugin="tests")
    config = with_component(FAST, 0)
    config["pipeline"].append({"name": f"{__name__}.DigitExtractor"})
    data = {**INTENTS, "book": ["一张桌子给 2 个人", "table for 4"]}
    base = intently.Trainer(config).train(intent_data(data))
    assert "digit" not in base.labels["entities"] and base.labels["component_entities"] == ["digit"]
    archive = base.persist(tmp_path, fixed_model_name="base")
    finetuned = intently.Trainer(config).train(intent_data(data), base_model=archive)
    assert [e["entity"] for e in finetuned.parse("订 3 个位子")["entities"]] == ["digit"]
    from intently.evaluation.evaluate import evaluate
    from intently.message import Entity, Message

    test = intently.TrainingData(training_examples=[
        Message("订 3 个位子", intent="book", entities=[Entity(start=2, end=3, value="3", entity="digit")]),
    ])
    result = evaluate(finetuned, test)
    assert not [w for w in result.warnings if "not trained on" in w]
