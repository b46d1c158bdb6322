import pytest

from intently import Component
from intently.component import TOKENS
from intently.config import load_config
from intently.errors import ComponentConfigError, ComponentNotFoundError, PipelineError, PluginError
from intently.pipeline import build_pipeline
from intently.registry import ComponentRegistry

from toy_components import ToyClassifier, ToyTokenizer, toy_registry


def build(names_or_items, registry=None, language="en"):
    items = [n if isinstance(n, dict) else {"name": n} for n in names_or_items]
    return build_pipeline(load_config({"language": language, "pipeline": items}), registry or toy_registry())


def test_builds_a_valid_pipeline_with_unique_names():
    pipeline = build(["ToyTokenizer", "ToyFeaturizer", "ToyFeaturizer", "ToyClassifier"])
    assert [c.unique_name for c in pipeline] == [
        "0_ToyTokenizer", "1_ToyFeaturizer", "2_ToyFeaturizer", "3_ToyClassifier",
    ]


def test_featurizer_before_tokenizer_names_both():
    with pytest.raises(PipelineError) as info:
        build(["ToyFeaturizer", "ToyTokenizer", "ToyClassifier"])
    text = str(info.value)
    assert "ToyFeaturizer (pipeline item 1) requires 'tokens'" in text
    assert "ToyTokenizer" in text and "pipeline item 2" in text
    assert "move ToyTokenizer before ToyFeaturizer" in info.value.hint


def test_missing_provider_suggests_registered_ones():
    with pytest.raises(PipelineError) as info:
        build(["ToyTokenizer", "ToyClassifier"])
    assert "'sparse_features' or 'dense_features'" in str(info.value)
    assert "ToyFeaturizer" in info.value.hint


def test_unknown_name_lists_closest_names():
    with pytest.raises(ComponentNotFoundError) as info:
        build(["ToyTokeniser"])
    assert "pipeline item 1: unknown component 'ToyTokeniser'" in str(info.value)
    assert "ToyTokenizer" in info.value.hint


def test_dotted_path_resolves_and_rejects_non_components():
    pipeline = build(["toy_components.ToyTokenizer", "ToyFeaturizer", "ToyClassifier"])
    assert isinstance(pipeline[0], ToyTokenizer)
    with pytest.raises(PluginError, match="not a subclass of intently.Component"):
        build(["collections.OrderedDict"])
    with pytest.raises(ComponentNotFoundError, match="cannot import"):
        build(["no_such_module_xyz.Thing"])


def test_dotted_path_is_not_imported_when_imports_are_not_allowed():
    registry = toy_registry()
    with pytest.raises(ComponentNotFoundError, match="does not import modules"):
        registry.resolve("some_unimported_module_abc.Component", allow_import=False)


def test_unknown_config_key_names_component_and_key():
    with pytest.raises(ComponentConfigError) as info:
        build(["ToyTokenizer", {"name": "ToyFeaturizer", "leters": 3}, "ToyClassifier"])
    assert "pipeline item 2: ToyFeaturizer has no config key 'leters'" in str(info.value)
    assert "'letters'" in info.value.hint


def test_config_value_of_wrong_type_is_rejected():
    with pytest.raises(ComponentConfigError, match="'letters' must be of type int"):
        build(["ToyTokenizer", {"name": "ToyFeaturizer", "letters": "many"}, "ToyClassifier"])


def test_config_is_merged_with_defaults_without_sharing_state():
    first, second = ToyClassifier(), ToyClassifier({"ranking_length": 3})
    assert first.config == {"ranking_length": 10}
    assert second.config == {"ranking_length": 3}


def test_language_support_is_checked():
    class EnglishOnly(Component):
        supported_languages = ("en",)

    class NotChinese(Component):
        not_supported_languages = ("zh",)

    registry = toy_registry()
    registry.register(EnglishOnly)
    registry.register(NotChinese)
    build(["EnglishOnly"], registry)
    with pytest.raises(PipelineError, match="does not support language 'de'"):
        build(["EnglishOnly"], registry, language="de")
    with pytest.raises(PipelineError, match="does not support language 'zh'"):
        build(["NotChinese"], registry, language="zh")


def test_registry_rejects_duplicates_and_bad_classes():
    class ToyTokenizerCopy(Component):
        name = "ToyTokenizer"
        provides = (TOKENS,)

    registry = toy_registry()
    with pytest.raises(PluginError, match="two plugins register a component named 'ToyTokenizer'"):
        registry.register(ToyTokenizerCopy, plugin="other")
    with pytest.raises(PluginError, match="not a subclass"):
        registry.register(object)

    class BadLoad(Component):
        def load(self):  # not a classmethod
            return None

    with pytest.raises(PluginError, match="must be a classmethod"):
        ComponentRegistry().register(BadLoad)

    class BadProvides(Component):
        provides = "tokens"

    with pytest.raises(PluginError, match="must be a tuple"):
        ComponentRegistry().register(BadProvides)


def test_processors_are_not_suggested_as_first_providers(caplog):
    from intently.registry import get_registry

    # The synonym mapper without an extractor is a warning (Rasa accepts it); its
    # suggestion names extractors, not the mapper itself.
    with caplog.at_level("WARNING"):
        build(["WhitespaceTokenizer", "EntitySynonymMapper"], get_registry())
    (warning,) = [r.getMessage() for r in caplog.records if "nothing to work on" in r.getMessage()]
    suggestion = warning.split("add one of these before it:")[1]
    assert "CRFEntityExtractor" in suggestion
    assert "EntitySynonymMapper" not in suggestion
