"""benchmarks/configs/diet.yml as a user would use it: it trains, finetunes with new words, a new intent
and a new entity type (the featurizers keep their fixed sizes), and the validator names a changed key.
DIET runs a few epochs with a small transformer here; the config's other keys are as written."""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path

import intently
import pytest
from intently.config import load_config
from intently.errors import FinetuneError

CONFIG_FILE = Path(__file__).resolve().parent.parent / "benchmarks" / "configs" / "diet.yml"
FAST_DIET = {"epochs": 3, "transformer_size": 32, "number_of_transformer_layers": 1, "number_of_attention_heads": 2,
             "batch_size": [8, 16]}

BASE = """
version: "3.1"
nlu:
- intent: 查天气
  examples: |
    - [北京](city) 明天 下雨 吗
    - [上海](city) 今天 天气 怎么样
    - [深圳](city) 热 不 热
    - 明天 会 下雪 吗
    - weather in [广州](city) tomorrow
- intent: 订餐
  examples: |
    - 帮 我 订 一份 披萨
    - 我 想 点 外卖
    - order 两碗 牛肉面 to [杭州](city)
    - 订 一份 寿司
    - 来 一份 炒饭
"""
MORE = BASE + """
- intent: 听音乐
  examples: |
    - 播放 [周杰伦](artist) 的 歌
    - 来 一首 [王菲](artist) 的 歌
    - play some [陈奕迅](artist) songs
    - 放 点 轻音乐
    - 我 想 听 摇滚
"""


def diet_config(**diet_keys) -> dict:
    config = load_config(CONFIG_FILE)
    pipeline = copy.deepcopy(config.pipeline)
    for item in pipeline:
        if item["name"] == "DIETClassifier":
            item.update(FAST_DIET, **diet_keys)
    return {"language": config.language, "pipeline": pipeline}


def data(tmp_path: Path, text: str, name: str):
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return intently.load_data(path)


def sizes(interpreter) -> list[tuple[str, int]]:
    return [(c.unique_name, c.dimension) for c in interpreter.components if hasattr(type(c), "dimension")]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, list[tuple[str, int]]]:
    folder = tmp_path_factory.mktemp("diet-yml")
    interpreter = intently.Trainer(diet_config()).train(data(folder, BASE, "base"))
    return interpreter.persist(folder, fixed_model_name="base"), sizes(interpreter)


def test_diet_yml_finetunes_new_words_intents_and_entities_at_fixed_sizes(base, tmp_path) -> None:
    archive, base_sizes = base
    assert base_sizes and all(size > 0 for _, size in base_sizes)
    interpreter = intently.Trainer(diet_config()).train(data(tmp_path, MORE, "more"), base_model=archive)
    assert sizes(interpreter) == base_sizes  # new n-grams went into reserved columns
    assert interpreter.metadata.finetuned_from["added_labels"]["intents"] == ["听音乐"]
    assert "听音乐" in interpreter.labels["intents"] and "artist" in interpreter.labels["entities"]
    parsed = interpreter.parse("播放 周杰伦 的 歌")
    assert parsed["intent"]["name"] in interpreter.labels["intents"]


def test_the_validator_names_a_changed_diet_yml_key(base, tmp_path) -> None:
    archive, _ = base
    with pytest.raises(FinetuneError) as caught:
        intently.Trainer(diet_config(linear_shortcut=False)).train(data(tmp_path, BASE, "same"), base_model=archive)
    assert "linear_shortcut" in str(caught.value)
