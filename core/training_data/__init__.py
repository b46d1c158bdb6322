"""Training data: the data model, the Rasa 3.x YAML reader and writer, validation."""

from intently.training_data.model import (
    LookupTable,
    RegexPattern,
    Story,
    StoryStep,
    TrainingData,
)

__all__ = ["LookupTable", "RegexPattern", "Story", "StoryStep", "TrainingData"]
