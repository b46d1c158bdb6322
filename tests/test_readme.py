"""The README's examples are true: its YAML blocks load, its config builds, its test command is CI's."""

from __future__ import annotations

import re

from intently.config import load_config
from intently.pipeline import build_pipeline
from intently.training_data.reader import read_yaml_string

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_the_training_data_example_loads():
    blocks = [b for b in YAML_BLOCKS if "nlu:" in b]
    assert blocks, "README has no training-data example"
    for block in blocks:
        data = read_yaml_string(block, "README.md")
        assert data.training_examples and data.entity_synonyms and data.stories


def test_the_config_example_builds():
    blocks = [b for b in YAML_BLOCKS if "pipeline:" in b]
    assert blocks, "README has no config example"
    import yaml

    for block in blocks:
        build_pipeline(load_config(yaml.safe_load(block)))


def test_the_test_command_is_the_ci_command():
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in README


def test_every_error_code_is_unique_and_in_the_catalogue():
    from intently.errors import ALL_ERRORS, IntentlyError

    codes = [cls.code for cls in ALL_ERRORS]
    assert len(codes) == len(set(codes))
    import intently.errors as errors

    defined = {obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, IntentlyError)}
    assert defined == set(ALL_ERRORS), "an error class is missing from ALL_ERRORS"
    # docs/errors.md is generated from ALL_ERRORS (tests/test_docs.py checks it is up to date).
    catalogue = (REPO / "docs" / "errors.md").read_text(encoding="utf-8")
    for cls in ALL_ERRORS:
        assert f"| `{cls.code}` | `{cls.__name__}` |" in catalogue, f"{cls.__name__} is not in docs/errors.md"
