"""intently-numbers: a number entity extractor plugin for intently."""

from intently_numbers.extractor import NumberEntityExtractor, parse_number_words

__all__ = ["NumberEntityExtractor", "parse_number_words"]
__version__ = "0.1.0"
