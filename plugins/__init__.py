"""The built-in components of intently, registered through the ``intently`` entry point."""
