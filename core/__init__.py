"""intently: natural-language understanding for conversational assistants.

The public API::

    import intently

    model_path = intently.train("config.yml", "data/", output="models")
    interpreter = intently.load_model(model_path)
    interpreter.parse("book a table for two")

    trainer = intently.Trainer("config.yml")
    interpreter = trainer.train(intently.load_data("data/"))

Importing this package is cheap: heavy modules (and TensorFlow, which only
some components use) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from intently.component import Component
from intently.errors import IntentlyError
from intently.hookspecs import hookimpl
from intently.message import Entity, Message, Token

__version__ = "0.1.0"

# name -> module that defines it; imported lazily by __getattr__.
_LAZY = {
    "Trainer": "intently.trainer",
    "Interpreter": "intently.interpreter",
    "train": "intently.api",
    "load_model": "intently.api",
    "load_data": "intently.training_data.loading",
    "TrainingData": "intently.training_data.model",
    "ModelConfig": "intently.config",
    "load_config": "intently.config",
    "ArchiveLimits": "intently.limits",
}

__all__ = [
    "Component",
    "Entity",
    "IntentlyError",
    "Message",
    "Token",
    "hookimpl",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'intently' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from intently.api import load_model, train
    from intently.config import ModelConfig, load_config
    from intently.interpreter import Interpreter
    from intently.limits import ArchiveLimits
    from intently.trainer import Trainer
    from intently.training_data.loading import load_data
    from intently.training_data.model import TrainingData
