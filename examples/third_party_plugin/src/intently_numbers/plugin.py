"""The plugin module named by the ``intently`` entry point."""

from intently import hookimpl

from intently_numbers.extractor import NumberEntityExtractor


@hookimpl
def register_components(register):
    """Register NumberEntityExtractor with intently."""
    register(NumberEntityExtractor)
