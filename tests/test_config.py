from pathlib import Path

import pytest

from intently.config import DEFAULT_RECIPE, NO_WHITESPACE_LANGUAGES, default_pipeline, load_config
from intently.errors import ConfigError, UnsupportedRecipeError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rasa_config_loads_unchanged(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "recipe: default.v1\nassistant_id: x\nlanguage: de\npipeline:\n"
            "- name: WhitespaceTokenizer\n- name: CountVectorsFeaturizer\n  analyzer: char_wb\npolicies: []\n",
        )
    )
    assert config.language == "de"
    assert config.recipe == DEFAULT_RECIPE
    assert config.pipeline[1] == {"name": "CountVectorsFeaturizer", "analyzer": "char_wb"}
    assert not config.used_default_pipeline
    assert set(config.ignored) == {"assistant_id", "policies"}


def test_missing_pipeline_uses_documented_default_and_logs_it(tmp_path, caplog):
    caplog.set_level("INFO", logger="intently")
    config = load_config(write(tmp_path, "language: en\n"))
    assert config.used_default_pipeline
    assert config.pipeline == default_pipeline("en")
    assert "default pipeline" in caplog.text and "WhitespaceTokenizer" in caplog.text


def test_default_pipeline_for_languages_without_spaces_relies_on_char_ngrams():
    for language in NO_WHITESPACE_LANGUAGES - {"zh"}:  # zh has its own (tests/test_chinese.py)
        names = [(item["name"], item.get("analyzer")) for item in default_pipeline(language)]
        assert ("CountVectorsFeaturizer", None) not in names
        assert ("CountVectorsFeaturizer", "char_wb") in names


def test_graph_recipe_fills_nothing_in(tmp_path):
    with pytest.raises(ConfigError, match="graph.v1 needs `language:`"):
        load_config(write(tmp_path, "recipe: graph.v1\n"))
    config = load_config(write(tmp_path, "recipe: graph.v1\nlanguage: zh\ntrain_schema: {nodes: {}}\n"))
    assert config.recipe == "graph.v1" and config.pipeline == [] and config.filled_in == []


def test_unknown_recipe_and_key(tmp_path):
    with pytest.raises(UnsupportedRecipeError, match="unknown recipe"):
        load_config({"recipe": "fancy.v9"})
    with pytest.raises(ConfigError, match="unknown config key 'pipline'") as info:
        load_config(write(tmp_path, "pipline: []\n"))
    assert "did you mean 'pipeline'" in info.value.hint
    assert info.value.file.endswith("config.yml")


def test_bad_yaml_names_line_and_column(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "language: en\npipeline:\n  - name: A\n   - name: B\n"))
    assert info.value.line == 4
    assert info.value.column is not None


def test_bad_shapes(tmp_path):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="templates"):
        load_config({"pipeline": "supervised_embeddings"})
    with pytest.raises(ConfigError, match="pipeline item 2"):
        load_config({"pipeline": [{"name": "A"}, {"analyzer": "word"}]})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yml")


def test_fingerprint_changes_with_the_pipeline():
    first = load_config({"pipeline": [{"name": "A"}]})
    second = load_config({"pipeline": [{"name": "A", "x": 1}]})
    assert first.fingerprint() != second.fingerprint()
    assert first.fingerprint() == load_config({"pipeline": [{"name": "A"}]}).fingerprint()
