"""The ``intently`` command line."""
