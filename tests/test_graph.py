"""The graph kernel: default.v1 compiles to graphs, graph.v1 gives them, the Trainer and Interpreter run them."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml
from intently import Component
from intently.cli.main import main
from intently.component import INTENT, TOKENS
from intently.config import load_config
from intently.errors import (
    ComponentConfigError,
    DialogueNotSupportedError,
    GraphSchemaError,
    PipelineError,
)
from intently.graph.recipes import DEFAULT_NLU_TARGET, export_graph, recipe_for
from intently.interpreter import Interpreter
from intently.trainer import Trainer
from intently.training_data.loading import load_data

from toy_components import ToyClassifier, ToyFeaturizer, ToyTokenizer, toy_registry

NLU = """version: "3.1"
nlu:
- intent: 问候
  examples: |
    - 你好
    - 您好 啊
    - 早上 好
    - 嗨 你好
    - 你好 你好
- intent: 订餐
  examples: |
    - 我想订 [两个](count) 人的 位子
    - 帮我 订 [三个](count) 人的 桌子
    - 订 一张 [四个](count) 人的 桌
    - 预订 餐厅 [五个](count) 人
    - 订 [六个](count) 人的 包间
"""
TEXTS = ["你好", "帮我 订 [两个] 人的 桌子", "我想订 三个 人的 位子", "早上 好 啊", ""]
CLASSIC = [
    {"name": "WhitespaceTokenizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 2},
    {"name": "LogisticRegressionClassifier"},
    {"name": "CRFEntityExtractor", "max_iterations": 10},
    {"name": "EntitySynonymMapper"},
]


@pytest.fixture
def data(tmp_path: Path):
    (tmp_path / "nlu.yml").write_text(NLU, encoding="utf-8")
    return load_data(tmp_path / "nlu.yml")


CALLS: list[tuple[str, str, bool]] = []


class Recorder(Component):
    """Records each hook call (node unique name, hook, finetune_mode); provides nothing."""

    requires = (TOKENS,)
    defaults = {"tag": ""}

    def train(self, training_data, config, **context: Any) -> None:
        CALLS.append((self.unique_name, "train", self.finetune_mode))

    def process(self, messages, **context: Any) -> None:
        CALLS.append((self.unique_name, "process", self.finetune_mode))


class IntentReader(Component):
    """Needs an intent (a fallback-like component)."""

    requires = (INTENT,)
    provides = (INTENT,)


def registry():
    reg = toy_registry()
    reg.register(Recorder, plugin="tests")
    reg.register(IntentReader, plugin="tests")
    return reg


TOY_PIPELINE = [{"name": "ToyTokenizer"}, {"name": "ToyFeaturizer"}, {"name": "ToyClassifier"}]


def toy_graph() -> dict[str, Any]:
    """A graph.v1 config for the toy components, written by hand."""
    return {
        "recipe": "graph.v1",
        "language": "zh",
        "train_schema": {"nodes": {
            "provider": node({"importer": "__importer__"}, "NLUTrainingDataProvider", "provide", is_input=True),
            "train_tok": node({"training_data": "provider"}, "ToyTokenizer", "train", is_target=True),
            "train_feat": node({"training_data": "train_tok"}, "ToyFeaturizer", "train", is_target=True),
            "train_clf": node({"training_data": "train_feat"}, "ToyClassifier", "train", is_target=True),
            "train_unused": node({"training_data": "train_tok"}, "Recorder", "train"),
        }},
        "predict_schema": {"nodes": {
            "convert": node({"messages": "__message__"}, "NLUMessageConverter", "convert_user_message", "load"),
            "run_tok": node({"messages": "convert"}, "ToyTokenizer", "process", "load", resource="train_tok"),
            "run_feat": node({"messages": "run_tok"}, "ToyFeaturizer", "process", "load", resource="train_feat"),
            "run_clf": node({"messages": "run_feat"}, "ToyClassifier", "process", "load", resource="train_clf"),
            "run_RegexMessageHandler": node({"messages": "run_clf"}, "RegexMessageHandler", "process", "load"),
        }},
    }


def node(needs, uses, fn, constructor="create", *, config=None, resource=None, **flags) -> dict[str, Any]:
    return {
        "needs": needs, "uses": uses, "constructor_name": constructor, "fn": fn, "config": config or {},
        "eager": flags.get("eager", False), "is_target": flags.get("is_target", False),
        "is_input": flags.get("is_input", False), "resource": None if resource is None else {"name": resource},
    }


# --- default.v1 compiles to graphs ---------------------------------------------------------------


def test_default_recipe_needs_what_components_require_not_the_node_before():
    recipe = recipe_for(load_config({"language": "zh", "pipeline": CLASSIC}))
    train, predict = recipe.train.nodes, recipe.predict.nodes
    assert train["train_0_WhitespaceTokenizer"].needs == {"training_data": "nlu_training_data_provider"}
    # The CRF after the intent classifier needs the featurizer (tokens, features), not the classifier.
    assert train["train_3_CRFEntityExtractor"].needs == {"training_data": "train_1_CountVectorsFeaturizer"}
    assert predict["run_3_CRFEntityExtractor"].needs == {"messages": "run_1_CountVectorsFeaturizer"}
    # Training data has its entities: the synonym mapper trains on the data alone; parsing, it follows the CRF.
    assert train["train_4_EntitySynonymMapper"].needs == {"training_data": "nlu_training_data_provider"}
    assert predict["run_4_EntitySynonymMapper"].needs == {"messages": "run_3_CRFEntityExtractor"}
    # The target needs every leaf of the predict graph.
    assert predict[DEFAULT_NLU_TARGET].needs == {
        "messages": "run_4_EntitySynonymMapper",
        "after_run_2_LogisticRegressionClassifier": "run_2_LogisticRegressionClassifier",
    }
    assert predict["run_2_LogisticRegressionClassifier"].resource == {"name": "train_2_LogisticRegressionClassifier"}
    assert recipe.train_targets == [f"train_{i}_{item['name']}" for i, item in enumerate(CLASSIC)]
    # Ties run in pipeline order: a full run calls the components as the pipeline lists them.
    assert recipe.train_order[2:] == recipe.train_targets


def test_crf_needs_the_featurizers_whose_output_its_features_read():
    pipeline = [{"name": "WhitespaceTokenizer"}, {"name": "RegexFeaturizer"}, {"name": "CountVectorsFeaturizer"},
                {"name": "CRFEntityExtractor", "features": [["low"], ["low", "title"], ["low"]]}]
    recipe = recipe_for(load_config({"language": "en", "pipeline": pipeline}))
    assert recipe.train.nodes["train_3_CRFEntityExtractor"].needs == {"training_data": "train_0_WhitespaceTokenizer"}
    pipeline[-1] = {"name": "CRFEntityExtractor"}  # the default features read the regex featurizer's `pattern`
    recipe = recipe_for(load_config({"language": "en", "pipeline": pipeline}))
    assert recipe.train.nodes["train_3_CRFEntityExtractor"].needs == {"training_data": "train_2_CountVectorsFeaturizer"}


def test_a_component_needing_two_unrelated_parents_gets_both():
    pipeline = [*TOY_PIPELINE, {"name": "Recorder"}, {"name": "IntentReader"}]
    recipe = recipe_for(load_config({"language": "zh", "pipeline": pipeline}), registry())
    assert recipe.predict.nodes["run_4_IntentReader"].needs == {"messages": "run_2_ToyClassifier"}
    assert recipe.predict.nodes["run_3_Recorder"].needs == {"messages": "run_0_ToyTokenizer"}
    assert recipe.predict.nodes[DEFAULT_NLU_TARGET].needs == {
        "messages": "run_4_IntentReader", "after_run_3_Recorder": "run_3_Recorder"}


def test_trainer_and_interpreter_run_the_graphs_in_pipeline_order(data):
    CALLS.clear()
    pipeline = [*TOY_PIPELINE, {"name": "Recorder", "tag": "a"}]
    trainer = Trainer({"language": "zh", "pipeline": pipeline}, registry=registry())
    interpreter = trainer.train(data)
    assert CALLS == [("3_Recorder", "train", False)]
    assert [c.unique_name for c in interpreter.pipeline] == ["0_ToyTokenizer", "1_ToyFeaturizer", "2_ToyClassifier",
                                                            "3_Recorder"]
    CALLS.clear()
    assert interpreter.parse("你好")["intent"]["name"] == "问候"
    assert CALLS == [("3_Recorder", "process", False)]


# --- validation before anything runs ----------------------------------------------------------


def graph_error(config: dict[str, Any], error=GraphSchemaError) -> str:
    with pytest.raises(error) as caught:
        recipe_for(load_config(config), registry())
    return caught.value.format()


def test_a_cycle_is_an_error_naming_it():
    config = toy_graph()
    config["train_schema"]["nodes"]["train_tok"]["needs"] = {"training_data": "train_clf"}
    text = graph_error(config)
    assert "[E204]" in text and "cycle" in text and "train_tok -> train_clf -> train_feat -> train_tok" in text


def test_a_missing_parent_names_node_key_and_closest():
    config = toy_graph()
    config["train_schema"]["nodes"]["train_feat"]["needs"] = {"training_data": "train_tk"}
    text = graph_error(config)
    assert "train_schema node 'train_feat', key 'needs'" in text and "'train_tk'" in text and "train_tok" in text


def test_the_wrong_graph_input_is_named():
    config = toy_graph()
    config["predict_schema"]["nodes"]["convert"]["needs"] = {"messages": "__importer__"}
    assert "input is __message__" in graph_error(config)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("fn", "trian", "ToyClassifier has no method 'trian'; closest: train"),
        ("constructor_name", "creat", "unknown constructor 'creat'; closest: create"),
        ("uses", "ToyClasifier", "unknown component 'ToyClasifier'"),
        ("needs", {"training_dta": "train_feat"}, "takes no argument 'training_dta'; closest: training_data"),
        ("needs", {"after_x": "train_feat"}, "needs the argument 'training_data'"),
    ],
)
def test_node_errors_name_node_key_and_closest(key, value, expected):
    config = toy_graph()
    config["train_schema"]["nodes"]["train_clf"][key] = value
    text = graph_error(config, Exception)
    assert "train_schema node 'train_clf', key " + repr(key) in text, text
    assert expected in text, text


def test_unknown_node_key_missing_key_and_bad_types():
    config = toy_graph()
    config["train_schema"]["nodes"]["train_clf"]["is_targt"] = True
    assert "key 'is_targt': unknown key; closest: is_target" in graph_error(config)
    config = toy_graph()
    del config["train_schema"]["nodes"]["train_clf"]["config"]
    assert "key 'config': missing" in graph_error(config)
    config = toy_graph()
    config["train_schema"]["nodes"]["train_clf"]["eager"] = "yes"
    assert "key 'eager': must be true or false" in graph_error(config)


def test_component_config_and_requirements_are_checked_per_node():
    config = toy_graph()
    config["train_schema"]["nodes"]["train_clf"]["config"] = {"ranking_lenght": 3}
    text = graph_error(config, ComponentConfigError)
    assert "train_schema node 'train_clf', key 'config'" in text and "ranking_length" in text
    config = toy_graph()
    config["train_schema"]["nodes"]["train_clf"]["needs"] = {"training_data": "train_tok"}
    text = graph_error(config, PipelineError)
    assert "node 'train_clf', key 'needs'" in text and "requires 'sparse_features' or 'dense_features'" in text


def test_targets_and_resources_must_be_nodes():
    config = toy_graph()
    config["nlu_target"] = "run_RegexMessageHandlr"
    assert "the target 'run_RegexMessageHandlr' is not a node; closest: run_RegexMessageHandler" in graph_error(config)
    config = toy_graph()
    config["predict_schema"]["nodes"]["run_clf"]["resource"] = {"name": "train_cl"}
    text = graph_error(config)
    assert "node 'run_clf', key 'resource'" in text and "train_clf" in text
    config = toy_graph()
    del config["predict_schema"]["nodes"]["run_RegexMessageHandler"]
    assert "target 'run_RegexMessageHandler' is not a node" in graph_error(config)  # the default nlu_target


def test_graph_v1_config_keys(tmp_path):
    with pytest.raises(GraphSchemaError, match="needs `train_schema:`"):
        recipe_for(load_config({"recipe": "graph.v1", "language": "zh"}))
    with pytest.raises(Exception, match="graph.v1 needs `language:`"):
        load_config({"recipe": "graph.v1"})
    with pytest.raises(Exception, match="(?s)unknown graph.v1 key .pipeline..*belongs to recipe default.v1"):
        load_config({"recipe": "graph.v1", "language": "zh", "pipeline": []})


# --- graph.v1 runs ------------------------------------------------------------------------------


def test_graph_v1_runs_only_what_the_targets_need(data, tmp_path):
    CALLS.clear()
    trainer = Trainer(toy_graph(), registry=registry())
    assert "train_unused" not in trainer.recipe.train_order
    interpreter = trainer.train(data)
    assert CALLS == []  # the Recorder node is no target's need
    assert interpreter.parse("你好")["intent"]["name"] == "问候"
    archive = interpreter.persist(tmp_path / "models", fixed_model_name="toy")
    loaded = Interpreter.load(archive, registry=registry())
    assert loaded.parse_batch(["你好", "订 桌子"]) == interpreter.parse_batch(["你好", "订 桌子"])
    assert loaded.metadata.config["recipe"] == "graph.v1"
    assert [c.unique_name for c in loaded.pipeline] == ["tok", "feat", "clf"]


def test_predict_nodes_without_a_resource_are_created_from_their_config(data):
    config = toy_graph()
    config["predict_schema"]["nodes"]["run_tok"]["resource"] = None  # Rasa's tokenizer nodes have none
    interpreter = Trainer(config, registry=registry()).train(data)
    assert interpreter.parse("你好")["intent"]["name"] == "问候"


def test_finetuning_is_the_execution_context_of_the_same_graph(data, tmp_path):
    pipeline = [*TOY_PIPELINE, {"name": "Recorder"}]
    config = {"language": "zh", "pipeline": pipeline}
    archive = Trainer(config, registry=registry()).train(data).persist(tmp_path, fixed_model_name="base")
    CALLS.clear()
    finetuned = Trainer(config, registry=registry()).train(data, base_model=archive)
    assert CALLS == [("3_Recorder", "train", True)]  # loaded with load(finetune=True), trained again
    assert all(c.finetune_mode for c in finetuned.pipeline)
    assert finetuned.metadata.finetuned_from["model_name"] == "base"


# --- Rasa graphs ----------------------------------------------------------------------------------

SEED_EXAMPLE = Path(__file__).parent / "data" / "graph_recipe_seed.yml"
SEED_NLU = Path(__file__).parent / "data" / "graph_recipe_nlu.yml"


def test_the_seed_example_with_dialogue_nodes_is_one_clear_error(tmp_path):
    with pytest.raises(DialogueNotSupportedError) as caught:
        Trainer(SEED_EXAMPLE)
    text = caught.value.format()
    assert text.startswith("[E205]") and "dialogue policies are not supported" in text
    assert "set nlu_target / leave core_target out" in text


def test_the_seed_example_in_the_cli_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "nlu.yml").write_text(NLU, encoding="utf-8")
    code = main(["train", "-c", str(SEED_EXAMPLE), "--data", str(tmp_path / "nlu.yml"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "dialogue policies are not supported" in err


def test_the_seed_example_reduced_to_nlu_trains_and_parses_with_rasa_class_paths(data, tmp_path):
    trainer = Trainer(SEED_NLU)
    nodes = trainer.recipe.train.nodes
    assert nodes["train_LogisticRegressionClassifier2"].cls.__name__ == "LogisticRegressionClassifier"
    assert nodes["run_WhitespaceTokenizer0"].cls.__name__ == "WhitespaceTokenizer"
    interpreter = trainer.train(data)
    archive = interpreter.persist(tmp_path, fixed_model_name="nlu")
    loaded = Interpreter.load(archive)
    assert [c.unique_name for c in loaded.components] == [
        "WhitespaceTokenizer0", "CountVectorsFeaturizer1", "LogisticRegressionClassifier2"]
    results = loaded.parse_batch(TEXTS)
    assert results == interpreter.parse_batch(TEXTS)
    assert results[0]["intent"]["name"] == "问候" and results[2]["intent"]["name"] == "订餐"


def test_rasa_class_paths_and_infrastructure_resolve():
    from intently.graph.nodes import DialogueNode, NLUTrainingDataProvider, RegexMessageHandler
    from intently.graph.schema import resolve_uses
    from intently.registry import get_registry

    reg = get_registry()
    assert resolve_uses("rasa.nlu.classifiers.diet_classifier.DIETClassifier", reg).__name__ == "DIETClassifier"
    assert resolve_uses(
        "rasa.nlu.tokenizers.whitespace_tokenizer.WhitespaceTokenizerGraphComponent", reg).__name__ == "WhitespaceTokenizer"
    assert resolve_uses(
        "rasa.graph_components.providers.nlu_training_data_provider.NLUTrainingDataProvider", reg) is NLUTrainingDataProvider
    assert resolve_uses("rasa.nlu.classifiers.regex_message_handler.RegexMessageHandler", reg) is RegexMessageHandler
    assert resolve_uses("rasa.core.policies.memoization.MemoizationPolicy", reg) is DialogueNode
    assert resolve_uses("intently.plugins.classifiers.logistic_regression.LogisticRegressionClassifier",
                        reg).__name__ == "LogisticRegressionClassifier"
    with pytest.raises(Exception, match="no counterpart of Rasa's.*closest: DIETClassifier"):
        resolve_uses("rasa.nlu.classifiers.diet_classifier.DIETClasifier", reg)


# --- export ----------------------------------------------------------------------------------------


def test_exported_default_config_trains_an_identically_parsing_model(data, tmp_path, capsys):
    config_path = tmp_path / "config.yml"
    config_path.write_text(yaml.safe_dump({"language": "zh", "pipeline": CLASSIC}, allow_unicode=True))
    assert main(["recipe", "export", "-c", str(config_path)]) == 0
    exported = capsys.readouterr().out
    graph_path = tmp_path / "graph.yml"
    graph_path.write_text(exported, encoding="utf-8")
    graph_config = load_config(graph_path)
    assert graph_config.recipe == "graph.v1"
    default_model = Trainer(config_path).train(copy.deepcopy(data))
    graph_model = Trainer(graph_path).train(copy.deepcopy(data))
    assert graph_model.parse_batch(TEXTS) == default_model.parse_batch(TEXTS)
    # Exporting the export gives the same graphs.
    assert export_graph(recipe_for(graph_config)) == {
        key: value for key, value in yaml.safe_load(exported).items()}
    archive = graph_model.persist(tmp_path / "models", fixed_model_name="graph")
    assert Interpreter.load(archive).parse_batch(TEXTS) == default_model.parse_batch(TEXTS)


def test_default_recipe_logs_and_dumps_what_it_fills_in(tmp_path, caplog, capsys):
    (tmp_path / "nlu.yml").write_text(NLU, encoding="utf-8")
    (tmp_path / "config.yml").write_text("recipe: default.v1\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="intently"):
        config = load_config(tmp_path / "config.yml")
    assert config.filled_in[0] == "language: en" and config.filled_in[1].startswith("pipeline: ")
    assert "fills in language 'en'" in caplog.text and "using the default pipeline" in caplog.text
    dumped = tmp_path / "used.yml"
    code = main(["train", "-c", str(tmp_path / "config.yml"), "--data", str(tmp_path / "nlu.yml"),
                 "--out", str(tmp_path / "models"), "--dump-config", str(dumped)])
    assert code == 0
    used = yaml.safe_load(dumped.read_text(encoding="utf-8"))
    assert used == {"recipe": "default.v1", "language": "en", "pipeline": config.pipeline}
    assert load_config(dumped).filled_in == []  # the dumped config lacks nothing
    assert load_config(toy_graph()).filled_in == []  # graph.v1 fills nothing in


def test_an_archive_written_before_the_graph_kernel_loads_and_parses_as_it_did():
    """tests/data/old-default-v1.tar.gz was trained by the linear-pipeline kernel (main at 8023d5f)."""
    import json

    folder = Path(__file__).parent / "data"
    expected = json.loads((folder / "old-default-v1.json").read_text(encoding="utf-8"))
    loaded = Interpreter.load(folder / "old-default-v1.tar.gz")
    assert loaded.parse_batch(expected["texts"]) == expected["parses"]
    assert [c.unique_name for c in loaded.pipeline] == [
        "0_WhitespaceTokenizer", "1_CountVectorsFeaturizer", "2_LogisticRegressionClassifier",
        "3_CRFEntityExtractor", "4_EntitySynonymMapper"]


def test_recipe_show_prints_both_graphs_as_mermaid_and_dot(tmp_path, capsys):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"language": "zh", "pipeline": CLASSIC}, allow_unicode=True))
    assert main(["recipe", "show", "-c", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("```mermaid") == 2 and "### train graph" in out and "### predict graph" in out
    # The CRF's train node hangs off the featurizer (node 4), not the classifier (node 5).
    assert '  n6[["train_3_CRFEntityExtractor<br/>CRFEntityExtractor.train"]]' in out
    assert "  n4 -->|training_data| n6" in out and "n5 -->|training_data| n6" not in out
    assert main(["recipe", "show", "-c", str(config), "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.count("digraph") == 2 and 'label="run_RegexMessageHandler' in out


def test_recipe_show_dashes_nodes_no_target_needs():
    from intently.graph.recipes import render_graph

    recipe = recipe_for(load_config(toy_graph()), registry())
    text = render_graph(recipe.train, "mermaid", recipe.train_order)
    assert "class n5 unused" in text  # train_unused, the fifth node
