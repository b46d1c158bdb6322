"""Entity extractors and entity processors."""
