"""Training data: the data model, the Rasa 3.x YAML reader and writer, validation."""

from intently.training_data.entities import parse_annotated_text
from intently.training_data.loading import load_data
from intently.training_data.model import (
    LookupTable,
    RegexPattern,
    Story,
    StoryStep,
    TrainingData,
)
from intently.training_data.reader import LATEST_VERSION, read_yaml_file, read_yaml_string
from intently.training_data.validation import Problem, ValidationReport, validate_training_data
from intently.training_data.writer import dump_yaml, write_yaml_file

__all__ = [
    "LATEST_VERSION",
    "LookupTable",
    "Problem",
    "RegexPattern",
    "Story",
    "StoryStep",
    "TrainingData",
    "ValidationReport",
    "dump_yaml",
    "load_data",
    "parse_annotated_text",
    "read_yaml_file",
    "read_yaml_string",
    "validate_training_data",
    "write_yaml_file",
]
